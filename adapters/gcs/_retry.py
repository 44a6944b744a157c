"""When the GCS adapter sends a request again, and what its attempts say about a write.

The rule: a request is sent again after a transient failure (429, 408, 5xx,
network error, timeout) only if repeating it cannot apply it twice:

* reads and listings: always;
* uploads and deletes with ``ifGenerationMatch``: always. If an earlier attempt
  did land, the repeat fails its precondition (412), which the adapter reports
  as :class:`~sessionstore.errors.OutcomeUnknown`; the store then decides it by
  reading the write id back;
* unconditional uploads and deletes: only when the failure proves the request
  was not carried out (the server refused it with a 4xx such as 429, or no
  connection was made). After an ambiguous failure (5xx, timeout, dropped
  connection) a blind repeat could land *after* another writer's conditional
  write that had already built on our first copy, silently reverting it; the
  write id cannot detect that. So the adapter stops and reports OutcomeUnknown,
  and the store resolves it by reading the write id (one GET).

Every retry is bounded twice: at most ``max_attempts`` attempts in all (4 by
default, as for S3), and none started after the ``deadline``. Before each retry
the adapter sleeps a truncated exponential back-off with full jitter (uniform in
``[0, min(maximum, initial * 2**(n-1))]`` after attempt ``n``) and logs a warning
on the ``sessionstore.adapters.gcs`` logger naming the operation, object,
failure, delay and attempt number. Real GCS allows about one mutation per second
per object and answers 429 beyond that; the default first back-off of up to one
second matches that limit. A 429 never applies the mutation, so a write that
only ever met 429s ends as BackendUnavailable ("nothing written"), never
OutcomeUnknown.
"""

from __future__ import annotations

import http.client
import logging
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import requests
import urllib3
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions

from sessionstore.adapters.gcs._http import ChecksumMismatch

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "Attempts",
    "RetryPolicy",
    "call",
    "describe",
    "never_applied",
    "resend_if_safe",
    "transient",
]

T = TypeVar("T")

logger = logging.getLogger("sessionstore.adapters.gcs")

_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of one operation: back-off bounds and deadline (seconds), attempts in all."""

    initial: float = 1.0
    maximum: float = 8.0
    deadline: float = 30.0
    max_attempts: int = 4

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial or self.deadline < 0:
            raise ValueError("retry: need 0 < initial <= maximum and deadline >= 0")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, attempt: int) -> float:
        """The back-off after failed attempt ``attempt`` (1-based): full jitter."""
        ceiling = min(self.maximum, self.initial * 2.0 ** min(attempt - 1, 62))
        return random.uniform(0.0, ceiling)


@dataclass
class Attempts:
    """The failures of one operation's attempts before its last (recorded by :func:`call`)."""

    failures: list[Exception] = field(default_factory=list)

    def record(self, exc: Exception) -> None:
        self.failures.append(exc)

    @property
    def count(self) -> int:
        return len(self.failures) + 1

    def may_have_applied(self, final: Exception) -> bool:
        """Whether any attempt, the final one included, may have been carried out."""
        return any(not never_applied(exc) for exc in (*self.failures, final))


def transient(exc: Exception) -> bool:
    """A failure worth another attempt, if repeating the request is safe."""
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        return exc.code in _TRANSIENT_STATUS
    if isinstance(exc, auth_exceptions.TransportError):  # token endpoint unreachable
        return True
    return isinstance(exc, (*_NETWORK_ERRORS, ChecksumMismatch))


def never_applied(exc: Exception) -> bool:
    """Whether ``exc`` proves the request was not carried out by the server."""
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        # A 4xx is a refusal (429 included: a throttled mutation is not applied).
        return exc.code is not None and 400 <= exc.code < 500
    if isinstance(exc, auth_exceptions.GoogleAuthError):
        return True  # credentials failed before the request was sent
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)  # refused, DNS, connect
    return False


def answered(exc: Exception) -> bool:
    """Whether the server answered: it is done with the request and will not apply it later."""
    return isinstance(exc, api_exceptions.GoogleAPICallError)


def resend_if_safe(*, idempotent: bool, unless_held: bool = False) -> Callable[[Exception], bool]:
    """The retry predicate: every transient failure for safe requests, else only refusals.

    ``unless_held``: a safe request is still not re-sent after a failure with no answer
    (a create-only upload the server may still hold, and apply after a later delete).
    """
    if idempotent and unless_held:
        return lambda exc: transient(exc) and (answered(exc) or never_applied(exc))
    if idempotent:
        return transient
    return lambda exc: transient(exc) and never_applied(exc)


def call(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    idempotent: bool,
    attempts: Attempts,
    where: object,
    unless_held: bool = False,
) -> T:
    """Run ``fn``, re-running it after failures the policy allows; raise the last failure.

    ``where`` names the operation in the warning logged before each retry;
    ``unless_held``: see :func:`resend_if_safe`.
    """
    resend = resend_if_safe(idempotent=idempotent, unless_held=unless_held)
    started = time.monotonic()
    while True:
        try:
            return fn()
        except Exception as exc:
            if not resend(exc):
                raise
            number = attempts.count  # the attempt that just failed (1-based)
            delay = policy.delay(number)
            if number >= policy.max_attempts or (
                time.monotonic() - started + delay > policy.deadline
            ):
                raise
            attempts.record(exc)
            logger.warning(
                "%s: %s; retrying in %.2f s (attempt %d of %d)",
                where,
                describe(exc),
                delay,
                number + 1,
                policy.max_attempts,
                extra={"attempt": number + 1, "delay": delay},
            )
            time.sleep(delay)


def describe(exc: Exception) -> str:
    """A failure in a few words, for messages."""
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        return f"HTTP {exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"
