"""A loopback S3 emulator for tests: moto's WSGI app behind a serialising, counting,
fault-injecting middleware, served by werkzeug on ``127.0.0.1`` and a free port.

Why not moto's own ``ThreadedMotoServer``: moto checks a PutObject/DeleteObject
precondition (``If-Match`` / ``If-None-Match``) and then writes, with no lock spanning
both, so two concurrent conditional writers can both win. Real S3 decides every
conditional write atomically. The middleware here holds one lock per request, which
makes each request atomic as on S3 (and makes concurrency tests meaningful).

It also

* logs every request (method, bucket, key, query, whether it reached moto, the status
  sent back) so tests can assert exact request counts at the server, and
* injects faults from a plan the test controls, matched by method and object key:

  ``conflict_409``     answer 409 ConditionalRequestConflict without applying (real S3
                       does this under concurrent conditional writes; moto never does)
  ``slowdown_503``     answer 503 SlowDown without applying
  ``not_implemented_501``  answer 501 NotImplemented (an S3-compatible service without
                       conditional writes) without applying
  ``precondition_412`` answer 412 PreconditionFailed without applying (whether or not the
                       request carried a precondition: what a misbehaving proxy or
                       S3-compatible service may do)
  ``apply_then_500``   apply the request, then answer 500 InternalError (a lost response)
  ``apply_then_drop``  apply the request, then close the connection with no response
  ``corrupt_body``     apply the request, then send its answer with one byte of the body
                       flipped (damaged in transit; headers, checksums included, intact)
  ``stall_then_apply`` hold the request ``delay`` seconds (past the client's read
                       timeout), then apply it and answer as usual: a request that
                       lands after its client gave up (see :meth:`S3Emulator.wait_stalled`)

  ``after_apply`` runs after the request was forwarded to moto and before the client hears
  anything, outside the lock, so it can make requests of its own (another writer
  landing between a lost response and the client's retry).

moto's state is process-global: ``mock_aws`` elsewhere in the same process resets it.
Fixtures therefore (re)create their bucket per test instead of once per session.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.config import Config
from moto.core.authorization import enable_iam_authentication
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from mypy_boto3_s3 import S3Client

__all__ = ["DUMMY_CREDENTIALS", "REGION", "FaultAction", "LoggedRequest", "S3Emulator"]

FaultAction = Literal[
    "conflict_409",
    "slowdown_503",
    "not_implemented_501",
    "precondition_412",
    "apply_then_500",
    "apply_then_drop",
    "corrupt_body",
    "stall_then_apply",
]
# Answered without reaching moto, so never applied.
_REFUSALS = ("conflict_409", "slowdown_503", "not_implemented_501", "precondition_412")

#: Credentials moto accepts while IAM checks are off (they never leave this machine).
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"

_ERRORS: dict[str, tuple[str, str, str]] = {
    # action: (status line, S3 error code, message)
    "conflict_409": (
        "409 Conflict",
        "ConditionalRequestConflict",
        "A conflicting conditional operation is currently in progress against this resource.",
    ),
    "slowdown_503": ("503 Slow Down", "SlowDown", "Please reduce your request rate."),
    "not_implemented_501": (
        "501 Not Implemented",
        "NotImplemented",
        "A header you provided implies functionality that is not implemented.",
    ),
    "precondition_412": (
        "412 Precondition Failed",
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
    ),
    "apply_then_500": (
        "500 Internal Server Error",
        "InternalError",
        "We encountered an internal error. Please try again.",
    ),
}


@dataclass(frozen=True)
class LoggedRequest:
    """One HTTP request as the server saw it."""

    method: str
    bucket: str
    key: str
    query: str
    forwarded: bool
    """Whether the request reached moto (a fault may answer without forwarding it)."""
    status: int | None
    """Status sent back; None when the connection was dropped instead."""
    headers: dict[str, str] = field(default_factory=dict, compare=False)
    """Request headers, names in lower case."""


@dataclass
class _Fault:
    action: FaultAction
    method: str
    key: str | None
    remaining: int
    after_apply: Callable[[], object] | None
    delay: float = 0.0

    def matches(self, method: str, key: str) -> bool:
        return self.remaining > 0 and self.method == method and self.key in (None, key)


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)  # one request at a time
    book: threading.Lock = field(default_factory=threading.Lock)  # log and plan
    log: list[LoggedRequest] = field(default_factory=list)
    faults: list[_Fault] = field(default_factory=list)
    inflight: int = 0  # requests inside moto right now (guarded by book)
    peak_inflight: int = 0
    stalled: int = 0  # stall_then_apply requests not yet applied (guarded by book)
    unstalled: threading.Condition = field(default_factory=threading.Condition)


class _DropConnection(ConnectionError):
    """Raised after shutting the socket: werkzeug treats it as a dropped connection."""


class _Handler(MotoRequestHandler):
    # Headers and body go out in separate writes; without this, Nagle's algorithm and
    # the client's delayed ACK stall each response by about 40 ms.
    disable_nagle_algorithm = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Quiet: the request log lives in the middleware."""


class _Middleware:
    def __init__(self, app: Any, state: _State) -> None:
        self._app = app
        self._state = state

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method = environ["REQUEST_METHOD"]
        # PEP 3333 hands PATH_INFO over as latin-1; S3 keys are UTF-8.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        bucket, _, key = path.lstrip("/").partition("/")
        query = environ.get("QUERY_STRING", "")
        request_headers = {
            name[5:].replace("_", "-").lower(): value
            for name, value in environ.items()
            if name.startswith("HTTP_")
        }
        # WSGI keeps these two out of the HTTP_ namespace.
        for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(name):
                request_headers[name.replace("_", "-").lower()] = environ[name]
        fault = self._take_fault(method, key)
        if fault is not None and fault.action == "stall_then_apply":
            return self._stall_then_apply(fault, environ, start_response)

        def record(forwarded: bool, status: int | None) -> None:
            entry = LoggedRequest(method, bucket, key, query, forwarded, status, request_headers)
            with self._state.book:
                self._state.log.append(entry)

        if fault is None or fault.action in _REFUSALS:
            if fault is not None:
                _drain(environ)
                status_line, body, headers = _error(fault.action, bucket, key)
                record(False, int(status_line[:3]))
                start_response(status_line, headers)
                return [body]
            status_line, headers, chunks = self._apply(environ)
            record(True, int(status_line[:3]))
            start_response(status_line, headers)
            return chunks

        status_line, headers, chunks = self._apply(environ)
        if fault.after_apply is not None:
            fault.after_apply()
        if fault.action == "corrupt_body":
            record(True, int(status_line[:3]))
            start_response(status_line, headers)
            return [_flip_first_byte(b"".join(chunks))]
        if fault.action == "apply_then_drop":
            record(True, None)
            sock: socket.socket = environ["werkzeug.socket"]
            sock.shutdown(socket.SHUT_RDWR)
            raise _DropConnection("fault plan: connection dropped after applying")
        status_line, body, headers = _error(fault.action, bucket, key)
        record(True, int(status_line[:3]))
        start_response(status_line, headers)
        return [body]

    def _stall_then_apply(
        self, fault: _Fault, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Any:
        with self._state.unstalled:
            self._state.stalled += 1
        try:
            time.sleep(fault.delay)  # the fault itself: a request held past the client's timeout
            status_line, headers, chunks = self._apply(environ)
        finally:
            with self._state.unstalled:
                self._state.stalled -= 1
                self._state.unstalled.notify_all()
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace")
        bucket, _, key = path.lstrip("/").partition("/")
        entry = LoggedRequest(
            environ["REQUEST_METHOD"],
            bucket,
            key,
            environ.get("QUERY_STRING", ""),
            True,
            int(status_line[:3]),
        )
        with self._state.book:
            self._state.log.append(entry)
        start_response(status_line, headers)
        return chunks

    def _apply(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        """Run moto under the lock and buffer its whole response, so each request is atomic."""
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured[:] = [status, headers]
            return lambda data: None  # moto never uses the legacy write callable

        with self._state.lock:
            self._count_inflight(+1)
            try:
                result: Iterable[bytes] = self._app(environ, capture)
                try:
                    chunks = list(result)
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
            finally:
                self._count_inflight(-1)
        return captured[0], captured[1], chunks

    def _count_inflight(self, delta: int) -> None:
        with self._state.book:
            self._state.inflight += delta
            self._state.peak_inflight = max(self._state.peak_inflight, self._state.inflight)

    def _take_fault(self, method: str, key: str) -> _Fault | None:
        with self._state.book:
            for fault in self._state.faults:
                if fault.matches(method, key):
                    fault.remaining -= 1
                    return fault
        return None


def _drain(environ: dict[str, Any]) -> None:
    """Read the request body before answering, as S3 does."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    while length > 0:
        chunk = stream.read(min(length, 1 << 16))
        if not chunk:
            break
        length -= len(chunk)


def _flip_first_byte(body: bytes) -> bytes:
    return bytes([body[0] ^ 0x01]) + body[1:] if body else body


def _error(action: str, bucket: str, key: str) -> tuple[str, bytes, list[tuple[str, str]]]:
    status_line, code, message = _ERRORS[action]
    request_id = uuid.uuid4().hex[:16].upper()
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<Key>{key}</Key><BucketName>{bucket}</BucketName>"
        f"<RequestId>{request_id}</RequestId></Error>"
    ).encode()
    headers = [
        ("Content-Type", "application/xml"),
        ("Content-Length", str(len(body))),
        ("x-amz-request-id", request_id),
    ]
    return status_line, body, headers


class S3Emulator:
    """The emulator: ``start()``, use ``endpoint_url``, ``stop()``."""

    def __init__(self) -> None:
        self._state = _State()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        # One session for every client: it caches botocore's service models, so a new
        # client costs milliseconds instead of a fresh model load.
        self._session = boto3.session.Session(
            aws_access_key_id=DUMMY_CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
            region_name=REGION,
        )
        self._admin: S3Client | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        app = _Middleware(DomainDispatcherApplication(create_backend_app), self._state)
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="s3-emulator", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> S3Emulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        assert self._server is not None, "start() the emulator first"
        return f"http://127.0.0.1:{self._server.server_port}"

    # -------------------------------------------------------------- clients

    def client(self, *, credentials: tuple[str, str] | None = None, **config: Any) -> S3Client:
        """A boto3 client for this emulator: dummy credentials, short timeouts, path style.

        ``credentials`` (access key id, secret) replace the dummy ones; ``config``
        overrides :class:`botocore.config.Config` settings.
        """
        settings: dict[str, Any] = {
            "retries": {"mode": "standard", "total_max_attempts": 3},
            "connect_timeout": 2,
            "read_timeout": 10,
            "s3": {"addressing_style": "path"},
        }
        settings.update(config)
        key_id, secret = credentials or (
            DUMMY_CREDENTIALS["aws_access_key_id"],
            DUMMY_CREDENTIALS["aws_secret_access_key"],
        )
        return self._session.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=Config(**settings),
        )

    @property
    def admin(self) -> S3Client:
        """One client for test set-up and inspection (raw puts, heads, listings)."""
        if self._admin is None:
            self._admin = self.client()
        return self._admin

    def create_bucket(self, name: str) -> None:
        """Create ``name`` unless it exists (idempotent; see the module docstring)."""
        with contextlib.suppress(self.admin.exceptions.BucketAlreadyOwnedByYou):
            self.admin.create_bucket(Bucket=name)

    # ---------------------------------------------------------- request log

    def requests(self) -> list[LoggedRequest]:
        with self._state.book:
            return list(self._state.log)

    def reset_log(self) -> None:
        """Forget logged requests and the in-flight peak."""
        with self._state.book:
            self._state.log.clear()
            self._state.peak_inflight = self._state.inflight

    @property
    def peak_inflight(self) -> int:
        """Most requests ever inside moto at once since the last reset (1 if serialised)."""
        with self._state.book:
            return self._state.peak_inflight

    # ----------------------------------------------------------- fault plan

    def inject(
        self,
        action: FaultAction,
        *,
        method: str = "PUT",
        key: str | None = None,
        times: int = 1,
        after_apply: Callable[[], object] | None = None,
        delay: float = 0.0,
    ) -> None:
        """The next ``times`` ``method`` requests to object ``key`` (None: any) get ``action``.

        ``delay``: how long ``stall_then_apply`` holds each request.
        """
        with self._state.book:
            self._state.faults.append(_Fault(action, method, key, times, after_apply, delay))

    def wait_stalled(self, timeout: float) -> bool:
        """Wait until every stalled request has been applied; False on timeout."""
        with self._state.unstalled:
            return self._state.unstalled.wait_for(lambda: self._state.stalled == 0, timeout)

    def pending_faults(self) -> int:
        """How many planned faults have not fired yet."""
        with self._state.book:
            return sum(fault.remaining for fault in self._state.faults)

    def clear_faults(self) -> None:
        with self._state.book:
            self._state.faults.clear()

    # ------------------------------------------------------ authentication

    def iam_user(self, name: str, policy: dict[str, Any] | None) -> tuple[str, str]:
        """Create an IAM user in moto (with ``policy`` inline, if given); return its keys.

        Call it before :meth:`iam_authentication`: moto then checks every request,
        including these IAM calls made with the dummy credentials.
        """
        iam = self._session.client("iam", endpoint_url=self.endpoint_url)
        try:
            iam.create_user(UserName=name)
            if policy is not None:
                iam.put_user_policy(
                    UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy)
                )
            key = iam.create_access_key(UserName=name)["AccessKey"]
        finally:
            iam.close()
        return key["AccessKeyId"], key["SecretAccessKey"]

    @contextlib.contextmanager
    def iam_authentication(self) -> Iterator[None]:
        """Make moto check credentials and signatures (off by default).

        While on, only access keys created in moto's IAM are accepted. The switch is
        process-global in moto, so it is flipped under the request lock.
        """
        with self._state.lock:
            manager = enable_iam_authentication()
            manager.__enter__()
        try:
            yield
        finally:
            with self._state.lock:
                manager.__exit__(None, None, None)
