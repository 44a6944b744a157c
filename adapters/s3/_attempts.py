"""What each HTTP attempt of one S3 call saw, to tell "may have landed" from "did not".

botocore retries inside a single client call. A write whose first attempt lost its
response and whose retry got 412 looks, from the final error alone, like a plain
conflict, yet the 412 may be the echo of our own first attempt. ``RetryAttempts`` in
the response metadata says a retry happened, but says nothing when the call ends in a
connection error, and nothing about what the earlier attempts saw.

So the adapter keeps a per-call journal: a handler on botocore's per-attempt
``response-received`` event records each attempt's status code or exception into the
journal of the calling thread (botocore runs all attempts of a call on the caller's
thread). Calls made outside :func:`journal` are not recorded.

A *blind* call (an unconditional PutObject or DeleteObject, or a create-only PutObject,
whose held attempt could land again after a delete) must not be re-sent
after an attempt that may have landed: if it had landed and another writer built on
it before the re-send, the re-send would silently undo that writer's acknowledged
write. The handler runs before botocore decides to retry, so for a blind call it
raises :class:`ResendRefused` instead, and the store resolves the outcome by reading
the write id back.

S3's ``SlowDown`` throttle (503) is answered before the request is processed: an
attempt that met it applied nothing, for conditional and unconditional writes and
deletes alike. botocore retries it with its throttling back-off (full jitter, 1 s
base, doubling) up to the client's attempt limit; a call throttled on every attempt
ends as ``BackendUnavailable`` with nothing written.

Our PutObjects go out without ``Expect: 100-continue`` (see :func:`_drop_expect`): one
round trip per save instead of two.

Every retry botocore sends inside a journal is logged as a warning on the
``sessionstore.adapters.s3`` logger, naming the call, the attempt number out of the
client's limit and what the previous attempt met, so a user watching a CLI sees
that the store is retrying rather than hanging. The warning is emitted as the
retry is built, after botocore's back-off.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_s3 import S3Client

__all__ = [
    "Attempt",
    "Journal",
    "ResendRefused",
    "backoff",
    "install",
    "journal",
    "max_attempts_of",
]

logger = logging.getLogger("sessionstore.adapters.s3")

_HANDLER_ID = "sessionstore-s3-attempt-journal"
_RETRY_LOG_ID = "sessionstore-s3-retry-warning"
_NO_EXPECT_ID = "sessionstore-s3-no-expect-continue"
#: botocore's total attempts per retry mode when the config names none.
_DEFAULT_ATTEMPTS = {"standard": 3, "adaptive": 3, "legacy": 5}
# Failures raised before a single byte of the request was sent.
_NEVER_SENT = (EndpointConnectionError, ConnectTimeoutError)

_local = threading.local()


class ResendRefused(Exception):
    """A blind write's attempt may have landed; botocore must not send it again."""

    def __init__(self, attempt: Attempt) -> None:
        self.attempt = attempt
        what = attempt.error if attempt.error is not None else f"HTTP {attempt.status}"
        super().__init__(f"not re-sent after an attempt that may have landed ({what})")


@dataclass(frozen=True)
class Attempt:
    status: int | None
    error: BaseException | None
    code: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or self.status is None or self.status >= 300

    @property
    def unanswered(self) -> bool:
        """No response came back: the server may still hold the request and apply it."""
        return self.error is not None or self.status is None

    @property
    def throttled(self) -> bool:
        return self.code == "SlowDown"

    @property
    def may_have_landed(self) -> bool:
        if self.error is not None:
            # A read timeout or a dropped connection may follow a write that landed.
            return not isinstance(self.error, _NEVER_SENT)
        if self.status is None:
            return True
        # S3 answers 3xx and 4xx before applying anything, SlowDown before processing
        # the request, and 501 (an S3-compatible service without conditional writes)
        # too; any other 5xx may follow a write.
        return not (300 <= self.status < 500 or self.status == 501 or self.throttled)

    def describe(self) -> str:
        if self.error is not None:
            return f"{type(self.error).__name__}: {self.error}"
        if self.status is None:
            return "no HTTP status"
        return f"HTTP {self.status}{f' {self.code}' if self.code else ''}"


@dataclass
class Journal:
    where: str = ""
    """The call, for messages: ``PutObject s3://bucket/key``."""
    max_attempts: int | None = None
    """The client's attempt limit, for messages (None: unknown)."""
    blind: bool = False
    """The call has no precondition, so a re-send could undo a later write."""
    create_only: bool = False
    """The call carries ``If-None-Match: *``: after an attempt that got no answer (the
    server may still hold it, and apply it after a later delete) it is not re-sent."""
    attempts: list[Attempt] = field(default_factory=list)

    def failed_while_reading(self, error: BaseException) -> None:
        """The last attempt's response was answered, but its body failed (a checksum)."""
        if self.attempts:
            last = self.attempts[-1]
            self.attempts[-1] = Attempt(last.status, error, last.code)

    @property
    def throttled_throughout(self) -> bool:
        """Every attempt met SlowDown (so none applied anything)."""
        return bool(self.attempts) and all(attempt.throttled for attempt in self.attempts)

    def may_have_landed(self, final: BaseException) -> bool:
        """Whether any attempt of the call that raised ``final`` may have applied it."""
        if self.attempts:
            return any(attempt.may_have_landed for attempt in self.attempts)
        # No journal (a client the handler is not on): fall back on what botocore reports.
        if isinstance(final, ClientError):
            status = final.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            retries = final.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
            code = final.response.get("Error", {}).get("Code")
            return retries > 0 or Attempt(status, None, code).may_have_landed
        return Attempt(None, final).may_have_landed


def install(client: S3Client) -> None:
    """Record attempts of ``client``'s calls, log its retries, and send our PutObjects
    without ``Expect: 100-continue``; idempotent per client."""
    client.meta.events.register("response-received.s3", _record, unique_id=_HANDLER_ID)
    client.meta.events.register("request-created.s3", _warn_on_retry, unique_id=_RETRY_LOG_ID)
    client.meta.events.register("before-send.s3", _drop_expect, unique_id=_NO_EXPECT_ID)


def _drop_expect(request: Any = None, **_: Any) -> None:
    """One round trip per PutObject: send the body with the headers.

    botocore asks for ``Expect: 100-continue`` on every PutObject and waits for the
    server's interim answer before sending the body: a second round trip, for bodies
    that are small (a session snapshot) and that S3 accepts or refuses only once it
    has them anyway. The header is not signed (SigV4 leaves ``expect`` out), so it is
    removed after signing, before sending. Only inside a journal, i.e. only for this
    store's own calls: other calls on a client the caller passed in keep botocore's
    behaviour.
    """
    if request is None or getattr(_local, "journal", None) is None:
        return
    headers = request.headers
    if "Expect" in headers:
        del headers["Expect"]


def max_attempts_of(client: S3Client) -> int | None:
    """How many attempts botocore makes per call with ``client``'s retry configuration."""
    retries: dict[str, Any] = dict(getattr(client.meta.config, "retries", None) or {})
    if retries.get("total_max_attempts") is not None:
        return int(retries["total_max_attempts"])
    if retries.get("max_attempts") is not None:
        return int(retries["max_attempts"]) + 1
    return _DEFAULT_ATTEMPTS.get(str(retries.get("mode", "legacy")))


@contextlib.contextmanager
def journal(
    where: str, *, max_attempts: int | None, blind: bool = False, create_only: bool = False
) -> Iterator[Journal]:
    """Record the attempts of the S3 calls made on this thread inside the block.

    ``blind``: the call carries no precondition; ``create_only``: it carries
    ``If-None-Match: *``. Neither is re-sent after an attempt that may have landed;
    see :class:`ResendRefused`.
    """
    outer = getattr(_local, "journal", None)
    current = _local.journal = Journal(where, max_attempts, blind, create_only)
    try:
        yield current
    finally:
        _local.journal = outer


def backoff(attempt: int, *, base: float = 0.05, cap: float = 20.0) -> None:
    """Sleep before re-sending after ``attempt`` (1-based): full jitter, doubling from
    ``base``, at most ``cap`` seconds (botocore's schedule for non-throttling errors)."""
    time.sleep(random.uniform(0.0, min(cap, base * 2 ** (attempt - 1))))


def _record(
    *,
    response_dict: dict[str, Any] | None = None,
    parsed_response: dict[str, Any] | None = None,
    exception: Any = None,
    **_: Any,
) -> None:
    current: Journal | None = getattr(_local, "journal", None)
    if current is None:
        return
    status = response_dict.get("status_code") if response_dict else None
    code = (parsed_response or {}).get("Error", {}).get("Code")
    attempt = Attempt(status, exception, code)
    current.attempts.append(attempt)
    unsafe = current.blind or (current.create_only and attempt.unanswered)
    if unsafe and attempt.failed and attempt.may_have_landed:
        raise ResendRefused(attempt)


def _warn_on_retry(**_: Any) -> None:
    """``request-created`` fires once per attempt; after the first, it is a retry."""
    current: Journal | None = getattr(_local, "journal", None)
    if current is None or not current.attempts:
        return
    number = len(current.attempts) + 1
    limit = f" of {current.max_attempts}" if current.max_attempts is not None else ""
    after = current.attempts[-1].describe()
    logger.warning("%s: %s; retrying (attempt %d%s)", current.where, after, number, limit)
