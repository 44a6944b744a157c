"""A Gemini Live session whose state survives its process: see :class:`LiveSession`."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import signal
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from google.genai import errors as genai_errors
from google.genai import types
from websockets.exceptions import ConnectionClosed

from sessionstore.model import SessionSnapshot, utc_now
from sessionstore.writer import SnapshotWriter

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence
    from types import TracebackType

    from google import genai
    from google.genai.live import AsyncSession
    from pydantic import JsonValue
    from typing_extensions import Self

    from sessionstore.contract import SessionPersistence
    from sessionstore.ownership import SessionLease

__all__ = [
    "DEFAULT_HANDLE_TTL",
    "LIVE_STATE_KEY",
    "LiveSession",
    "ResumeOutcome",
    "close_on_signals",
    "default_seed",
    "handle_received_at",
]

#: Reserved key in ``snapshot.state``: ``{"handle_received_at": "<ISO 8601 UTC>"}``, when
#: the stored ``resume_handle`` arrived. The application's own state must not use it.
LIVE_STATE_KEY = "sessionstore.live"
#: How long the Gemini API accepts a resumption handle (documented: 2 hours).
DEFAULT_HANDLE_TTL = 2 * 60 * 60.0


class ResumeOutcome(str, enum.Enum):
    """How a connection was opened."""

    NEW = "new"
    """Nothing was stored: a new session."""
    RESUMED = "resumed"
    """Connected with the stored handle; no history was sent."""
    NO_HANDLE = "no_handle"
    """A snapshot was stored without a resumable handle: fresh session, seeded from it."""
    EXPIRED = "expired"
    """The stored handle was older than ``handle_ttl``: fresh session, seeded."""
    REFUSED = "refused"
    """The server refused the handle: fresh session, seeded."""

    @property
    def resumed(self) -> bool:
        return self is ResumeOutcome.RESUMED

    @property
    def seeded(self) -> bool:
        return self in (ResumeOutcome.NO_HANDLE, ResumeOutcome.EXPIRED, ResumeOutcome.REFUSED)


def default_seed(snapshot: SessionSnapshot) -> list[types.Content]:
    """One user turn carrying the transcript summary (nothing if it is empty)."""
    if not snapshot.transcript_summary:
        return []
    text = (
        "Context: this conversation is being continued. Summary so far "
        f"(turn {snapshot.turn_count}, phase {snapshot.phase}):\n{snapshot.transcript_summary}"
    )
    return [types.Content(role="user", parts=[types.Part(text=text)])]


def handle_received_at(snapshot: SessionSnapshot) -> float | None:
    """When the stored handle arrived (Unix seconds), from the reserved state key."""
    record = snapshot.state.get(LIVE_STATE_KEY)
    stamp = record.get("handle_received_at") if isinstance(record, dict) else None
    if not isinstance(stamp, str):
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _iso(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seconds(duration: str | None, default: float) -> float:
    """A protobuf JSON duration ("9.5s") in seconds."""
    try:
        return float(duration.rstrip("s")) if duration else default
    except ValueError:
        return default


class _End:
    """Queue sentinel: the session is over (closed, or failed with ``error``)."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class LiveSession:
    """A Gemini Live session persisted through a :class:`~sessionstore.SnapshotWriter`.

    ``async with LiveSession(client, store, "call-42", model=...) as live:`` loads the
    snapshot (acquiring the session's lease first when ``owner`` is given), connects
    with the stored handle if it is younger than ``handle_ttl`` (sending no history),
    otherwise or when the server refuses it opens a fresh session seeded by
    ``seed(snapshot)`` (default: the transcript summary), and says which in
    :attr:`outcome`.

    One background task reads the socket: every resumption update with
    ``resumable=True`` and a non-empty handle is stored with its arrival time (a
    non-resumable update never erases it), including updates that arrive after
    ``turn_complete`` while nobody is calling :meth:`receive`; ``go_away`` flushes
    and reconnects with the newest handle before ``time_left`` runs out; a server
    close (e.g. 1011) reconnects the same way. :meth:`receive` keeps working across
    reconnects.

    When the writer is fenced (another owner took the session) or a save's outcome
    is unknown, the Live socket is closed and the error is raised by the next
    :meth:`receive`, :meth:`update`, ``send_*``, :meth:`flush` or :meth:`aclose`.
    """

    def __init__(
        self,
        client: genai.Client,
        store: SessionPersistence,
        session_id: str,
        *,
        model: str,
        config: types.LiveConnectConfig | None = None,
        owner: str | None = None,
        force: bool = False,
        stale_after: float | None = None,
        lease: SessionLease | None = None,
        initial: SessionSnapshot | None = None,
        seed: Callable[[SessionSnapshot], Sequence[types.Content]] = default_seed,
        handle_ttl: float = DEFAULT_HANDLE_TTL,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lease is not None and owner is not None:
            raise ValueError("pass owner (to acquire a lease) or lease, not both")
        self.client = client
        self.store = store
        self.session_id = session_id
        self.model = model
        self.config = config or types.LiveConnectConfig()
        self.owner = owner
        self._force = force
        self._stale_after = stale_after
        self.lease = lease
        self._owns_lease = False
        self._initial = initial
        self._seed = seed
        self.handle_ttl = handle_ttl
        self._min_interval = min_interval
        self._clock = clock
        self._snapshot = SessionSnapshot(phase="new")
        self._writer: SnapshotWriter | None = None
        self._session: AsyncSession | None = None
        self._connection: contextlib.AsyncExitStack | None = None
        self._queue: asyncio.Queue[types.LiveServerMessage | _End] = asyncio.Queue()
        self._ready = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._turn_open = False  # a model turn is awaited or in progress
        self._failing: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        #: How each connection of this session was opened, oldest first.
        self.outcomes: list[ResumeOutcome] = []
        self._connected = asyncio.Event()  # replaced after every new connection

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.aclose()
        except Exception:
            if exc is None:
                raise

    async def start(self) -> ResumeOutcome:
        """Acquire (with ``owner``), load, connect; return how it connected."""
        if self.lease is None and self.owner is not None:
            self.lease = await self.store.acquire(
                self.session_id, self.owner, force=self._force, stale_after=self._stale_after
            )
            self._owns_lease = True
        stored = await (self.lease.load() if self.lease else self.store.load(self.session_id))
        self._writer = SnapshotWriter(
            self.store,
            self.session_id,
            lease=self.lease,
            min_interval=self._min_interval,
            on_error=self._fail,
        )
        if stored is None:
            self._snapshot = (self._initial or SessionSnapshot(phase="new")).model_copy(deep=True)
            await self._connect(None)
            self._writer.submit(self._snapshot)
            outcome = ResumeOutcome.NEW
        else:
            self._snapshot = stored
            outcome = await self._open()
        self._opened(outcome)
        self._pump = asyncio.get_running_loop().create_task(self._read(), name="live-reader")
        return outcome

    async def aclose(self) -> None:
        """Stop reading, close the Live socket, flush, release an acquired lease.

        Idempotent; concurrent calls (a signal handler and ``async with``) share one
        close. Raises the error that stopped the session, if any.
        """
        if self._closing is None:
            self._closing = asyncio.get_running_loop().create_task(self._aclose())
        await asyncio.shield(self._closing)

    async def _aclose(self) -> None:
        try:
            await self._stop_reader()
            await self._disconnect()
            if self._failing is not None:
                await self._failing
            if self._writer is not None:
                await self._writer.aclose()  # raises the writer's error, if any
            if self._failure is not None:
                raise self._failure
            if self._owns_lease and self.lease is not None and not self.lease.released:
                await self.lease.release()
        finally:
            # receive() ends only now: everything is durable (or the error is known).
            self._queue.put_nowait(_End(self._failure))

    # ------------------------------------------------------------------- state

    @property
    def outcome(self) -> ResumeOutcome:
        """How the current connection was opened."""
        return self.outcomes[-1]

    @property
    def snapshot(self) -> SessionSnapshot:
        """A copy of the current snapshot (what was last handed to the writer)."""
        return self._snapshot.model_copy(deep=True)

    @property
    def connected(self) -> bool:
        """Whether a Live socket is open."""
        return self._connection is not None

    @property
    def resume_handle(self) -> str | None:
        return self._snapshot.resume_handle

    @property
    def writer(self) -> SnapshotWriter:
        assert self._writer is not None, "start() the session first"
        return self._writer

    @property
    def session(self) -> AsyncSession:
        """The current SDK session (it changes on reconnect)."""
        assert self._session is not None, "not connected"
        return self._session

    def update(
        self,
        *,
        phase: str | None = None,
        turn_count: int | None = None,
        transcript_summary: str | None = None,
        state: dict[str, JsonValue] | None = None,
    ) -> SessionSnapshot:
        """Change the application's fields; the new snapshot goes to the writer at once.

        ``state`` replaces the application's state (the reserved key is kept).
        """
        self._raise_failure()
        changes: dict[str, Any] = {}
        if phase is not None:
            changes["phase"] = phase
        if turn_count is not None:
            changes["turn_count"] = turn_count
        if transcript_summary is not None:
            changes["transcript_summary"] = transcript_summary
        if state is not None:
            if LIVE_STATE_KEY in state:
                raise ValueError(f"state key {LIVE_STATE_KEY!r} is reserved for the adapter")
            reserved = self._snapshot.state.get(LIVE_STATE_KEY)
            changes["state"] = {**state, **({LIVE_STATE_KEY: reserved} if reserved else {})}
        self._change(changes)
        return self.snapshot

    async def flush(self) -> None:
        """Wait until the current snapshot is durable. Raises a fencing or save error."""
        try:
            await self.writer.flush()
        except Exception as exc:
            self._fail(exc)
            if self._failing is not None:
                await asyncio.shield(self._failing)
            raise

    def _change(self, changes: dict[str, Any]) -> None:
        merged = {**self._snapshot.model_dump(), **changes, "saved_at": utc_now()}
        self._snapshot = SessionSnapshot.model_validate(merged)
        self.writer.submit(self._snapshot)

    def _on_resumption_update(self, update: types.LiveServerSessionResumptionUpdate) -> None:
        if not (update.resumable and update.new_handle):
            return  # never erase the stored handle with a non-resumable update
        state = {
            **self._snapshot.state,
            LIVE_STATE_KEY: {"handle_received_at": _iso(self._clock())},
        }
        self._change({"resume_handle": update.new_handle, "state": state})

    # ------------------------------------------------------------ send / receive

    async def receive(
        self, *, until_turn_complete: bool = True
    ) -> AsyncIterator[types.LiveServerMessage]:
        """Server messages, across reconnects; by default up to the next ``turn_complete``.

        Resumption updates and ``go_away`` are handled before they are yielded (so a
        ``flush()`` after seeing an update makes its handle durable). The iteration
        ends when the session is closed and raises the error that stopped it.
        """
        while True:
            item = await self._queue.get()
            if isinstance(item, _End):
                self._queue.put_nowait(item)  # every later receive() sees it too
                if item.error is not None:
                    if self._failing is not None:
                        await asyncio.shield(self._failing)
                    raise item.error
                return
            yield item
            content = item.server_content
            if until_turn_complete and content is not None and content.turn_complete:
                return

    async def send_client_content(self, **kwargs: Any) -> None:
        """``AsyncSession.send_client_content`` on the current connection."""
        session = await self._current()
        if kwargs.get("turn_complete", True):
            self._turn_open = True  # a reply is coming: a go_away waits for it
        await session.send_client_content(**kwargs)

    async def send_realtime_input(self, **kwargs: Any) -> None:
        """``AsyncSession.send_realtime_input`` on the current connection."""
        await (await self._current()).send_realtime_input(**kwargs)

    async def send_tool_response(self, **kwargs: Any) -> None:
        """``AsyncSession.send_tool_response`` on the current connection."""
        await (await self._current()).send_tool_response(**kwargs)

    async def _current(self) -> AsyncSession:
        self._raise_failure()
        await self._ready.wait()
        self._raise_failure()
        return self.session

    # ------------------------------------------------------------- connections

    async def _open(self) -> ResumeOutcome:
        """Connect for the stored snapshot: resume with its handle, or start fresh and seed."""
        handle = self._snapshot.resume_handle
        if handle:
            received = handle_received_at(self._snapshot)
            if received is not None and self._clock() - received >= self.handle_ttl:
                outcome = ResumeOutcome.EXPIRED
            else:
                try:
                    await self._connect(handle)
                except genai_errors.APIError:
                    outcome = ResumeOutcome.REFUSED
                else:
                    return ResumeOutcome.RESUMED
        else:
            outcome = ResumeOutcome.NO_HANDLE
        session = await self._connect(None)
        if handle:  # that handle is dead: never try it again
            state = {k: v for k, v in self._snapshot.state.items() if k != LIVE_STATE_KEY}
            self._change({"resume_handle": None, "state": state})
        turns: list[types.Content | types.ContentDict] = list(self._seed(self._snapshot))
        if turns:
            await session.send_client_content(turns=turns, turn_complete=False)
        return outcome

    async def _connect(self, handle: str | None) -> AsyncSession:
        resumption = self.config.session_resumption or types.SessionResumptionConfig()
        config = self.config.model_copy(
            update={"session_resumption": resumption.model_copy(update={"handle": handle})}
        )
        stack = contextlib.AsyncExitStack()
        session = await stack.enter_async_context(
            self.client.aio.live.connect(model=self.model, config=config)
        )
        self._connection, self._session = stack, session
        return session

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.aclose()

    async def _reconnect(self, time_left: float | None) -> None:
        """Flush (within half of ``time_left``), close the old socket, connect again."""
        self._ready.clear()
        self._turn_open = False
        if time_left is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.writer.flush()), time_left / 2)
        self._raise_failure()
        await self._disconnect()  # the server refuses a resume while the old socket is open
        self._opened(await self._open())

    def _opened(self, outcome: ResumeOutcome) -> None:
        self.outcomes.append(outcome)
        self._ready.set()
        self._connected.set()
        self._connected = asyncio.Event()

    async def connection_after(self, count: int) -> ResumeOutcome:
        """Wait until more than ``count`` connections were opened; the newest one's outcome.

        ``count = len(live.outcomes)`` before an event that makes the adapter reconnect
        (``go_away``, a server close) waits for that reconnect.
        """
        while len(self.outcomes) <= count:
            self._raise_failure()
            await self._connected.wait()
        return self.outcomes[-1]

    async def _read(self) -> None:
        """The one reader of the socket: track every message, hand it to receive().

        After ``go_away`` it finishes the turn in progress on the old connection (the
        server serves it until ``time_left`` runs out), for at most half of
        ``time_left``, then flushes and reconnects.
        """
        loop = asyncio.get_running_loop()
        try:
            while True:
                session = self.session
                messages = session.receive()
                cut_at: float | None = None  # loop time when the server will cut, after go_away
                try:
                    while cut_at is None or self._turn_open:
                        wait = None if cut_at is None else (cut_at - loop.time()) / 2
                        try:
                            message = await asyncio.wait_for(anext(messages), wait)
                        except StopAsyncIteration:  # receive() stops at turn_complete
                            messages = session.receive()
                            continue
                        except asyncio.TimeoutError:
                            break  # the turn did not finish in time: go now
                        self._track(message)
                        self._queue.put_nowait(message)
                        if message.go_away is not None:
                            self._ready.clear()  # sends wait for the new connection
                            cut_at = loop.time() + _seconds(message.go_away.time_left, 10.0)
                except (genai_errors.APIError, ConnectionClosed):
                    if session is self._session:  # the server closed it: carry on resumed
                        await self._reconnect(None)
                    continue
                assert cut_at is not None
                await self._reconnect(max(0.0, cut_at - loop.time()))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._fail(exc)

    def _track(self, message: types.LiveServerMessage) -> None:
        if message.session_resumption_update is not None:
            self._on_resumption_update(message.session_resumption_update)
        content = message.server_content
        if content is not None:
            self._turn_open = not content.turn_complete

    async def _stop_reader(self) -> None:
        pump, self._pump = self._pump, None
        if pump is not None and pump is not asyncio.current_task():
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    # ---------------------------------------------------------------- failures

    def _fail(self, error: BaseException) -> None:
        """Stop for good: close the socket (in a task) and make every call raise ``error``."""
        if self._failure is not None:
            return
        self._failure = error
        self._ready.set()
        self._queue.put_nowait(_End(error))

        async def stop() -> None:
            await self._stop_reader()
            await self._disconnect()

        self._failing = asyncio.get_running_loop().create_task(stop())

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


def close_on_signals(
    live: LiveSession,
    *,
    signals: Sequence[signal.Signals] = (signal.SIGTERM,),
    timeout: float = 8.0,
) -> None:
    """On ``signals``, close ``live`` within ``timeout`` seconds: flush, close the socket.

    Cloud Run sends SIGTERM and kills the instance 10 seconds later; the default
    leaves 2 seconds of margin. The caller's :meth:`LiveSession.receive` loop then
    ends, and leaving ``async with`` waits for the same close. Call it from the
    running event loop (Unix only: ``loop.add_signal_handler``).
    """
    loop = asyncio.get_running_loop()
    closing: list[asyncio.Task[None]] = []

    async def close() -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(live.aclose(), timeout)

    def on_signal() -> None:
        if not closing:
            closing.append(loop.create_task(close()))

    for number in signals:
        loop.add_signal_handler(number, on_signal)
