"""A fake Gemini Live server on loopback, for tests and ``sessionstore demo --live``.

It speaks the parts of ``BidiGenerateContent`` the adapter uses, over TLS (the SDK
always connects with ``wss://``) with a self-signed certificate made at start-up:

* ``setup`` is answered with ``setupComplete``; a ``sessionResumption.handle`` resumes
  the server session it was issued for, or the connection is closed with 1007 when
  the handle is unknown, expired (``handle_ttl`` on an injectable clock) or its
  session was ended, and with 1008 while that session's previous socket is open;
* every ``clientContent`` is recorded; one with ``turnComplete`` is answered with a
  non-resumable update, a model turn, a resumable update, ``turnComplete``, and one
  more resumable update *after* ``turnComplete`` (where the SDK's ``receive()`` has
  already stopped);
* tests push more: resumption updates (``push_update``), ``goAway`` with a forced
  cut when ``time_left`` runs out (``go_away``), closes such as 1011 "Deadline
  expired" that end the session (``close``).

Everything a client sent is kept per connection (:class:`ConnectionRecord`: the setup
frame, client messages, handles sent, how it closed), so tests assert what the
client did. The server runs on its own thread and event loop, so clients in this
process (any loop) and in child processes can use it. No network, no credentials:
it accepts any API key.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import itertools
import json
import secrets
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from types import TracebackType

    from typing_extensions import Self
    from websockets.asyncio.server import Server, ServerConnection

__all__ = ["ConnectionRecord", "FakeLiveServer", "client_ssl_context", "make_certificate"]

REFUSE_HANDLE = 1007  # the code reported for a refused resume (e.g. after "Deadline expired")
REFUSE_BUSY = 1008


@dataclass
class ConnectionRecord:
    """What one client connection sent and got."""

    id: int
    path: str
    setup: dict[str, Any]
    resumed_with: str | None  # the handle in the setup frame, if any
    outcome: str  # "new", "resumed", or "refused: <reason>"
    session: str | None  # server session key (None if refused)
    client_messages: list[dict[str, Any]] = field(default_factory=list)
    handles_sent: list[tuple[str, bool]] = field(default_factory=list)
    opened_at: float = 0.0  # time.monotonic()
    closed_at: float | None = None
    close_code: int | None = None
    closed_by: str | None = None  # "client", "server" or "cut" (go_away time ran out)
    go_away_at: float | None = None
    closed: threading.Event = field(default_factory=threading.Event, repr=False)
    """Set once the connection is closed, whoever closed it."""

    @property
    def client_contents(self) -> list[dict[str, Any]]:
        return [_client_content(m) for m in self.client_messages if _client_content(m)]

    @property
    def texts(self) -> list[str]:
        """Text of every client content part, in order."""
        return [
            part["text"]
            for content in self.client_contents
            for turn in content.get("turns", [])
            for part in turn.get("parts", [])
            if "text" in part
        ]

    @property
    def last_resumable_handle(self) -> str | None:
        resumable = [handle for handle, ok in self.handles_sent if ok and handle]
        return resumable[-1] if resumable else None


@dataclass
class _Session:
    key: str
    user_turns: int = 0
    connection: int | None = None  # id of the open connection
    ended: bool = False


def _client_content(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("clientContent", message.get("client_content"))
    return content if isinstance(content, dict) else {}


class FakeLiveServer:
    """Loopback TLS websocket server faking Gemini Live; a context manager.

    ``url`` goes to ``HttpOptions(base_url=...)``; ``ca_file`` (or
    :func:`client_ssl_context`) makes the client trust the certificate.
    """

    def __init__(
        self, *, handle_ttl: float = 7200.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.handle_ttl = handle_ttl
        self.clock = clock
        self._records: list[ConnectionRecord] = []
        self._sessions: dict[str, _Session] = {}
        self._handles: dict[str, tuple[_Session, float]] = {}
        self._sockets: dict[int, ServerConnection] = {}
        self._ids = itertools.count(1)
        self._go_away_mid_turn: float | None = None
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="fake-live-")
        self.ca_file = Path(self._dir.name) / "cert.pem"
        self.port = 0

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        key_file = Path(self._dir.name) / "key.pem"
        cert, key = make_certificate()
        self.ca_file.write_bytes(cert)
        key_file.write_bytes(key)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_file, key_file)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-live-server", daemon=True
        )
        self._thread.start()
        self._call(self._serve(context))

    async def _serve(self, context: ssl.SSLContext) -> None:
        from websockets.asyncio.server import serve

        self._server = await serve(self._handle, "127.0.0.1", 0, ssl=context)
        self.port = next(iter(self._server.sockets)).getsockname()[1]

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            server = self._server
            self._server = None

            async def shutdown() -> None:
                server.close()
                await server.wait_closed()
                for task in asyncio.all_tasks():
                    if task is not asyncio.current_task():
                        task.cancel()

            with contextlib.suppress(Exception):
                self._call(shutdown())
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=10)
            self._loop.close()
            self._loop = None
        self._dir.cleanup()

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ test controls

    @property
    def connections(self) -> list[ConnectionRecord]:
        with self._lock:
            return list(self._records)

    def connection(self, index: int = -1) -> ConnectionRecord:
        return self.connections[index]

    def push_update(self, connection: int, handle: str | None, *, resumable: bool) -> str:
        """Send a resumption update now; a resumable one without ``handle`` gets a new one."""
        sent: str = self._call(self._push_update(connection, handle, resumable))
        return sent

    def go_away(self, connection: int, time_left: float) -> None:
        """Send ``goAway``; cut the connection (1011) if it is still open after ``time_left``."""
        self._call(self._go_away(connection, time_left))

    def go_away_during_next_turn(self, time_left: float) -> None:
        """Send ``goAway`` in the middle of the next answer (after the model's text)."""
        with self._lock:
            self._go_away_mid_turn = time_left

    def close(self, connection: int, code: int = 1011, reason: str = "Deadline expired") -> None:
        """Close a connection and end its server session (its handles are refused after)."""
        self._call(self._close(connection, code, reason))

    def end_session_of(self, handle: str) -> None:
        """Forget a handle's session server-side (as after a hard cut-off)."""
        with self._lock:
            entry = self._handles.get(handle)
            if entry is not None:
                entry[0].ended = True

    # ------------------------------------------------------------------ protocol

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        assert self._loop is not None, "start() the server first"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    async def _handle(self, ws: ServerConnection) -> None:
        try:
            first = json.loads(await ws.recv())
        except Exception:
            return
        setup = first.get("setup", {}) if isinstance(first, dict) else {}
        handle = (setup.get("sessionResumption") or {}).get("handle") or None
        with self._lock:
            record_id = next(self._ids)
            session, refusal = self._admit(handle)
            record = ConnectionRecord(
                id=record_id,
                path=ws.request.path if ws.request else "",
                setup=setup,
                resumed_with=handle,
                outcome="refused: " + refusal[1] if refusal else "resumed" if handle else "new",
                session=session.key if session else None,
                opened_at=time.monotonic(),
            )
            self._records.append(record)
            if session is not None:
                session.connection = record_id
                self._sockets[record_id] = ws
        if refusal is not None:
            record.closed_by, record.close_code = "server", refusal[0]
            record.closed_at = time.monotonic()
            await ws.close(refusal[0], refusal[1])
            record.closed.set()
            return
        assert session is not None
        try:
            await ws.send(json.dumps({"setupComplete": {"sessionId": session.key}}))
            async for raw in ws:
                message = json.loads(raw)
                with self._lock:
                    record.client_messages.append(message)
                content = _client_content(message)
                if content and content.get("turnComplete", content.get("turn_complete")):
                    await self._answer(ws, record, session, content)
        except Exception:  # a dropped client: the record says how it ended
            pass
        finally:
            with self._lock:
                if session.connection == record_id:
                    session.connection = None
                self._sockets.pop(record_id, None)
                if record.closed_at is None:
                    record.closed_at = time.monotonic()
                    record.closed_by = record.closed_by or "client"
                    record.close_code = ws.close_code
            record.closed.set()

    def _admit(self, handle: str | None) -> tuple[_Session | None, tuple[int, str] | None]:
        if handle is None:
            session = _Session(key=f"s-{secrets.token_hex(4)}")
            self._sessions[session.key] = session
            return session, None
        entry = self._handles.get(handle)
        if entry is None:
            return None, (REFUSE_HANDLE, "unknown session resumption handle")
        session, issued_at = entry
        if session.ended:
            return None, (REFUSE_HANDLE, "the session of this handle has ended")
        if self.clock() - issued_at > self.handle_ttl:
            return None, (REFUSE_HANDLE, "session resumption handle expired")
        if session.connection is not None:
            return None, (REFUSE_BUSY, "the session's previous connection is still open")
        return session, None

    async def _answer(
        self,
        ws: ServerConnection,
        record: ConnectionRecord,
        session: _Session,
        content: dict[str, Any],
    ) -> None:
        with self._lock:
            session.user_turns += 1
            heard = " ".join(
                part.get("text", "")
                for turn in content.get("turns", [])
                for part in turn.get("parts", [])
            )
            reply = f"reply {session.user_turns} to {heard!r}"
        await self._send_update(ws, record, session, resumable=False)
        model_turn = {"modelTurn": {"role": "model", "parts": [{"text": reply}]}}
        await ws.send(json.dumps({"serverContent": model_turn}))
        with self._lock:
            time_left, self._go_away_mid_turn = self._go_away_mid_turn, None
        if time_left is not None:
            await self._go_away(record.id, time_left)
        await self._send_update(ws, record, session, resumable=True)
        await ws.send(json.dumps({"serverContent": {"turnComplete": True}}))
        await self._send_update(ws, record, session, resumable=True)  # after turnComplete

    async def _send_update(
        self,
        ws: ServerConnection,
        record: ConnectionRecord,
        session: _Session,
        *,
        resumable: bool,
        handle: str | None = None,
    ) -> str:
        with self._lock:
            if resumable and handle is None:
                handle = f"h-{session.key}-{secrets.token_hex(6)}"
            if resumable and handle:
                self._handles[handle] = (session, self.clock())
            record.handles_sent.append((handle or "", resumable))
        update = {"resumable": resumable}
        if handle:
            update["newHandle"] = handle  # type: ignore[assignment]
        await ws.send(json.dumps({"sessionResumptionUpdate": update}))
        return handle or ""

    def _open(self, connection: int) -> tuple[ServerConnection, ConnectionRecord, _Session]:
        with self._lock:
            ws = self._sockets[connection]
            record = next(r for r in self._records if r.id == connection)
            assert record.session is not None
            return ws, record, self._sessions[record.session]

    async def _push_update(self, connection: int, handle: str | None, resumable: bool) -> str:
        ws, record, session = self._open(connection)
        return await self._send_update(ws, record, session, resumable=resumable, handle=handle)

    async def _go_away(self, connection: int, time_left: float) -> None:
        ws, record, _ = self._open(connection)
        record.go_away_at = time.monotonic()
        await ws.send(json.dumps({"goAway": {"timeLeft": f"{time_left}s"}}))

        async def cut() -> None:
            await asyncio.sleep(time_left)
            if record.closed_at is None:
                record.closed_by, record.close_code = "cut", 1011
                record.closed_at = time.monotonic()
                await ws.close(1011, "go away: time is up")

        asyncio.get_running_loop().create_task(cut())

    async def _close(self, connection: int, code: int, reason: str) -> None:
        ws, record, session = self._open(connection)
        with self._lock:
            session.ended = True
            record.closed_by, record.close_code = "server", code
            record.closed_at = time.monotonic()
        await ws.close(code, reason)


def make_certificate() -> tuple[bytes, bytes]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert PEM, key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-live-server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def client_ssl_context(ca_file: str | Path) -> ssl.SSLContext:
    """A client context that trusts only the fake server's certificate."""
    return ssl.create_default_context(cafile=str(ca_file))
