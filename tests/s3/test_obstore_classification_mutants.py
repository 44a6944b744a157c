"""The obstore transport's outcome classification, clause by clause (tracker issue 12).

Mutation testing (``scripts/mutation.sh``, its obstore stage) found clauses of
``_classify``, ``_translate`` and ``_Attempt`` in ``adapters/s3/_obstore.py`` that the
obstore fault tests never decide: errors without a status line, redirects, 401, 501,
a status-less failure, read retries. These tests give the classifier obstore's own
exceptions; no server, no network.
"""

from __future__ import annotations

import pytest

pytest.importorskip("obstore")

from obstore import exceptions as oe

from sessionstore.adapters.s3._obstore import _Attempt, _classify, _first_line, _translate
from sessionstore.errors import (
    AccessDenied,
    BackendError,
    BackendUnavailable,
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
