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

Backoff is google-api-core's truncated exponential backoff with full jitter,
bounded by a deadline. Real GCS allows about one mutation per second per object
and answers 429 beyond that; the default first backoff of one second matches
that limit. A 429 never applies the mutation, so a write that only ever met 429s
ends as BackendUnavailable ("nothing written"), never OutcomeUnknown.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import requests
import urllib3
from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.auth import exceptions as auth_exceptions

from sessionstore.adapters.gcs._http import ChecksumMismatch

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Attempts", "RetryPolicy", "call", "never_applied", "resend_if_safe", "transient"]

T = TypeVar("T")

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
    """Backoff for one operation: first delay, largest delay, and the overall deadline (s)."""

    initial: float = 1.0
    maximum: float = 8.0
    deadline: float = 30.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial or self.deadline < 0:
            raise ValueError("retry: need 0 < initial <= maximum and deadline >= 0")


@dataclass
class Attempts:
    """The failures of one operation's attempts, recorded through the retry's ``on_error``."""

    failures: list[Exception] = field(default_factory=list)
    exhausted: bool = False  # the deadline ended the retries

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


def resend_if_safe(*, idempotent: bool) -> Callable[[Exception], bool]:
    """The retry predicate: every transient failure for safe requests, else only refusals."""
    if idempotent:
        return transient
    return lambda exc: transient(exc) and never_applied(exc)


def call(fn: Callable[[], T], *, policy: RetryPolicy, idempotent: bool, attempts: Attempts) -> T:
    """Run ``fn`` with retries; raise the last failure itself (never a RetryError)."""
    retry = api_retry.Retry(
        predicate=resend_if_safe(idempotent=idempotent),
        initial=policy.initial,
        maximum=policy.maximum,
        multiplier=2.0,
        timeout=policy.deadline,
        on_error=attempts.record,
    )
    try:
        result: T = retry(fn)()
    except api_exceptions.RetryError as exc:
        attempts.exhausted = True
        # The cause is the last failure, already recorded by on_error; drop it from
        # the earlier ones so `failures` + final lists every attempt exactly once.
        last = exc.cause if isinstance(exc.cause, Exception) else exc
        if attempts.failures and attempts.failures[-1] is last:
            attempts.failures.pop()
        raise last from None
    return result
