"""The obstore transport's outcome classification, clause by clause (tracker issue 12).

Mutation testing (``scripts/mutation.sh``, its obstore stage) found clauses of
``_classify``, ``_translate`` and ``_Attempt`` in ``adapters/s3/_obstore.py`` that the
obstore fault tests never decide: errors without a status line, redirects, 401, 501,
a status-less failure, read retries. These tests give the classifier obstore's own
exceptions; no server, no network.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

pytest.importorskip("obstore")

from obstore import exceptions as oe

from sessionstore.adapters.s3._obstore import (
    ObstoreTransport,
    _Attempt,
    _classify,
    _first_line,
    _translate,
)
from sessionstore.errors import (
    AccessDenied,
    BackendError,
    BackendUnavailable,
    ConflictError,
    OutcomeUnknown,
    SessionStoreError,
    StoreNotFound,
)

WHERE = "GetObject s3://bucket/prefix/s.json"


def answered(status: int, code: str = "Code") -> Exception:
    return oe.GenericError(f"request failed, status code: {status}: <Code>{code}</Code>")


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (answered(503, "SlowDown"), 503, "SlowDown"),
        (oe.GenericError("no status here"), None, None),
        (oe.PermissionDeniedError("denied"), 403, None),
        (oe.UnauthenticatedError("who are you"), 403, None),
        (oe.AlreadyExistsError("exists"), 412, None),
        (oe.PreconditionError("changed"), 412, None),
        (oe.NotFoundError("gone"), 404, None),
        (oe.PermissionDeniedError("status code: 401"), 401, None),
    ],
)
def test_classify(exc: Exception, status: int | None, code: str | None) -> None:
    attempt = _classify(exc)
    assert (attempt.status, attempt.code) == (status, code)
    assert attempt.error is exc


def test_attempt_predicates() -> None:
    timeout = TimeoutError("read")
    assert _Attempt(429, None, timeout).throttled
    assert _Attempt(503, "SlowDown", timeout).throttled
    assert not _Attempt(430, None, timeout).throttled
    assert _Attempt(None, None, timeout).may_have_landed
    for status in (300, 301, 404, 412, 499, 501, 429):
        assert not _Attempt(status, None, timeout).may_have_landed, status
    for status in (200, 299, 500, 502):
        assert _Attempt(status, None, timeout).may_have_landed, status
    for retried in (None, 500, 501, 503, 429):
        assert _Attempt(retried, None, timeout).retryable, retried
    for status in (400, 404, 412, 499):
        assert not _Attempt(status, None, timeout).retryable, status


def test_attempt_descriptions() -> None:
    assert _Attempt(None, None, TimeoutError("read\nmore")).describe() == "TimeoutError: read"
    assert _Attempt(503, "SlowDown", TimeoutError()).describe() == "HTTP 503 SlowDown"
    assert _Attempt(500, None, TimeoutError()).describe() == "HTTP 500"


def test_first_line() -> None:
    assert _first_line(KeyError()) == "KeyError"
    assert _first_line(ValueError("x" * 400 + "\nrest")) == "x" * 300


def check(error: SessionStoreError, kind: type[SessionStoreError], text: str) -> None:
    assert type(error) is kind, (type(error), str(error))
    assert str(error) == text


def attempt(status: int | None, code: str | None = None) -> _Attempt:
    return _Attempt(status, code, TimeoutError("timed out"))


def test_translate() -> None:
    check(
        _translate(attempt(404, "NoSuchBucket"), WHERE, "bucket"),
        StoreNotFound,
        f"S3 bucket 'bucket' does not exist ({WHERE})",
    )
    for status in (401, 403):
        check(_translate(attempt(status), WHERE, "b"), AccessDenied, f"{WHERE}: HTTP {status}")
    region = "(the bucket is in another region: pass region=)"
    for status, code in [(301, None), (307, None), (400, "PermanentRedirect")]:
        check(
            _translate(attempt(status, code), WHERE, "b"),
            BackendError,
            f"{WHERE}: {attempt(status, code).describe()} {region}",
        )
    check(
        _translate(attempt(400, "AuthorizationHeaderMalformed"), WHERE, "b"),
        BackendError,
        f"{WHERE}: HTTP 400 AuthorizationHeaderMalformed {region}",
    )
    for status in (302, 308, 402, 404):
        check(_translate(attempt(status), WHERE, "b"), BackendError, f"{WHERE}: HTTP {status}")
    check(
        _translate(attempt(501), WHERE, "b"),
        BackendError,
        f"{WHERE}: HTTP 501 (this service does not implement a request the store needs, "
        "such as conditional writes with If-Match / If-None-Match)",
    )
    check(
        _translate(attempt(None), WHERE, "b"),
        BackendUnavailable,
        f"{WHERE}: cannot complete the request: {WHERE}: TimeoutError: timed out",
    )
    for status in (500, 503):
        check(
            _translate(attempt(status), WHERE, "b"), BackendUnavailable, f"{WHERE}: HTTP {status}"
        )
    check(_translate(attempt(429), WHERE, "b"), BackendUnavailable, f"{WHERE}: HTTP 429")


# ------------------------------------------------------------------ _decide_write


def decide(
    attempt: _Attempt, seen: list[_Attempt], *, blind: bool = False, max_attempts: int = 3
) -> BaseException | None:
    """What ObstoreTransport._decide_write raises for ``attempt`` (None: retry it)."""
    transport: Any = SimpleNamespace(
        settings=SimpleNamespace(max_attempts=max_attempts, bucket="bucket")
    )
    try:
        ObstoreTransport._decide_write(
            transport, attempt, [*seen, attempt], WHERE, "s", blind, "written", attempt.error
        )
    except BaseException as exc:
        return exc
    return None


def test_a_write_that_may_have_landed_and_cannot_be_resent_is_unknown() -> None:
    error = decide(attempt(None), [], blind=True)
    assert isinstance(error, OutcomeUnknown)
    assert error.session_id == "s"
    assert str(error).endswith(f"{WHERE}: TimeoutError: timed out")
    assert decide(attempt(None), []) is None  # conditional: its precondition guards a resend
    error = decide(attempt(500), [attempt(500), attempt(500)])
    assert isinstance(error, OutcomeUnknown)


def test_a_404_is_a_conflict_only_as_no_such_key() -> None:
    assert isinstance(decide(attempt(404, "NoSuchKey"), []), ConflictError)
    missing_bucket = decide(attempt(404, "NoSuchBucket"), [])
    assert isinstance(missing_bucket, StoreNotFound)
    assert str(missing_bucket) == f"S3 bucket 'bucket' does not exist ({WHERE})"
    other = decide(attempt(404, "Other"), [])
    assert type(other) is BackendError
    assert str(other) == f"{WHERE}: HTTP 404 Other"


def test_a_refusal_after_an_attempt_that_may_have_landed_is_unknown() -> None:
    error = decide(attempt(412), [attempt(None)])
    assert isinstance(error, OutcomeUnknown)
    assert error.session_id == "s"
    assert str(error).endswith(f"{WHERE}: HTTP 412 after an attempt that may have landed")
    error = decide(attempt(403), [attempt(None)], blind=True)
    assert isinstance(error, OutcomeUnknown)
    assert error.session_id == "s"
    assert str(error).endswith(f"{WHERE}: HTTP 403")
