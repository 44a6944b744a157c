"""The GCS adapter's outcome classification, clause by clause (tracker issue 12).

Mutation testing (``scripts/mutation.sh``) found clauses of ``adapters/gcs/_errors.py``
and ``adapters/gcs/_retry.py`` the emulator tests never decide: a 400 or a 500 at the
edges of "never applied", a read timeout, failed credentials, a missing object on a
conditional delete, the retry policy's bounds. These tests give the classifier the
exceptions themselves; no server, no network.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import pytest
import requests
import urllib3
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions

from sessionstore.adapters.gcs._errors import Where, delete_failure, translate, write_failure
from sessionstore.adapters.gcs._retry import (
    Attempts,
    RetryPolicy,
    call,
    describe,
    never_applied,
    transient,
)
from sessionstore.errors import (
    AccessDenied,
    BackendError,
    BackendUnavailable,
    ConflictError,
    OutcomeUnknown,
    StoreNotFound,
)

SAVE = Where("save", "bucket", "prefix/s.json", session_id="s")
DELETE = Where("delete", "bucket", "prefix/s.json", session_id="s")
ANONYMOUS = Where("delete", "bucket", "prefix/t.json")


def http(code: int, message: str = "the server's message") -> api_exceptions.GoogleAPICallError:
    error: api_exceptions.GoogleAPICallError = api_exceptions.from_http_status(code, message)  # type: ignore[no-untyped-call]
    return error


def not_found(message: str) -> api_exceptions.NotFound:
    return api_exceptions.NotFound(message)  # type: ignore[no-untyped-call]


def refused_credentials() -> auth_exceptions.RefreshError:
    return auth_exceptions.RefreshError("token refused")  # type: ignore[no-untyped-call]


def token_endpoint_down() -> auth_exceptions.TransportError:
    return auth_exceptions.TransportError("token endpoint unreachable")  # type: ignore[no-untyped-call]


def connect_failure() -> requests.ConnectionError:
    reason = urllib3.exceptions.ConnectTimeoutError(None, "connect timed out")
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))  # type: ignore[arg-type]


# ------------------------------------------------------------------ never_applied, transient


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (http(400), True),
        (http(412), True),
        (http(429), True),
        (http(499), True),
        (http(500), False),
        (http(503), False),
        (http(399), False),
        (refused_credentials(), True),
        (requests.exceptions.ConnectTimeout("connect"), True),
        (connect_failure(), True),
        (requests.ConnectionError("reset by peer"), False),
        (requests.ConnectionError(), False),
        (requests.exceptions.ReadTimeout("read"), False),
        (TimeoutError("read"), False),
    ],
)
def test_never_applied(exc: Exception, expected: bool) -> None:
    assert never_applied(exc) is expected


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (http(408), True),
        (http(429), True),
        (http(500), True),
        (http(504), True),
        (http(501), False),
        (http(412), False),
        (token_endpoint_down(), True),
        (refused_credentials(), False),
        (requests.exceptions.ReadTimeout("read"), True),
        (KeyError("bug"), False),
    ],
)
def test_transient(exc: Exception, expected: bool) -> None:
    assert transient(exc) is expected


def test_attempts_count_and_may_have_applied() -> None:
    attempts = Attempts()
    assert attempts.count == 1
    assert attempts.may_have_applied(http(429)) is False
    attempts.record(requests.exceptions.ReadTimeout("read"))
    assert attempts.count == 2
    assert attempts.may_have_applied(http(429)) is True


# ------------------------------------------------------------------ translate


def test_translate_says_what_failed_and_how_often() -> None:
    attempts = Attempts([http(503), http(503)])
    error = translate(http(503), SAVE, attempts, nothing="nothing was written")
    assert type(error) is BackendUnavailable
    assert str(error) == (
        "GCS unavailable for save of gs://bucket/prefix/s.json: HTTP 503: the server's "
        "message (after 3 attempts); nothing was written"
    )
    error = translate(http(400, "bad"), SAVE, Attempts())
    assert type(error) is BackendError
    assert str(error) == "GCS failed save of gs://bucket/prefix/s.json: HTTP 400: bad"
    error = translate(KeyError("k"), SAVE, Attempts())
    assert str(error) == "GCS failed save of gs://bucket/prefix/s.json: KeyError: 'k'"


@pytest.mark.parametrize(
    ("exc", "kind", "start"),
    [
        (not_found("The specified bucket does not exist."), StoreNotFound, "bucket"),
        (http(401), AccessDenied, "access denied for"),
        (http(403), AccessDenied, "access denied for"),
        (refused_credentials(), AccessDenied, "credentials failed for"),
        (token_endpoint_down(), BackendUnavailable, "GCS unavailable"),
    ],
)
def test_translate_kinds(exc: Exception, kind: type[Exception], start: str) -> None:
    error = translate(exc, SAVE, Attempts())
    assert type(error) is kind
    assert str(error).startswith(start)


# ------------------------------------------------------------------ write_failure


def test_a_write_that_may_have_landed_is_unknown() -> None:
    error = write_failure(
        requests.exceptions.ReadTimeout("read timed out"), SAVE, Attempts(), conditional=True
    )
    assert isinstance(error, OutcomeUnknown)
    assert error.session_id == "s"
    assert str(error).endswith(
        "save of gs://bucket/prefix/s.json: ReadTimeout: read timed out; the upload may have landed"
    )


def test_a_refused_conditional_write_is_a_conflict_naming_the_session() -> None:
    error = write_failure(http(412), SAVE, Attempts(), conditional=True)
    assert isinstance(error, ConflictError)
    assert error.session_id == "s"
    assert str(error).endswith("the stored generation does not match the expected one")
    error = write_failure(http(412), ANONYMOUS, Attempts(), conditional=True)
    assert isinstance(error, ConflictError)
    assert error.session_id == "prefix/t.json"


def test_a_412_without_a_precondition_is_a_backend_error() -> None:
    error = write_failure(http(412, "damaged"), SAVE, Attempts(), conditional=False)
    assert type(error) is BackendError
    assert str(error) == (
        "GCS failed save of gs://bucket/prefix/s.json: HTTP 412: damaged to a request that "
        "carried no precondition; nothing was written"
    )


# ------------------------------------------------------------------ delete_failure

OBJECT_MISSING = "No such object: bucket/prefix/s.json"


def test_an_unconditional_delete_of_a_missing_object_holds() -> None:
    assert delete_failure(not_found(OBJECT_MISSING), DELETE, Attempts(), conditional=False) is None


def test_a_missing_bucket_is_never_a_finished_delete() -> None:
    missing_bucket = not_found("The specified bucket does not exist.")
    error = delete_failure(missing_bucket, DELETE, Attempts(), conditional=False)
    assert isinstance(error, StoreNotFound)


def test_a_conditional_delete_of_a_missing_object_is_a_conflict() -> None:
    error = delete_failure(not_found(OBJECT_MISSING), DELETE, Attempts(), conditional=True)
    assert isinstance(error, ConflictError)
    assert error.session_id == "s"
    assert str(error).endswith("expected a stored version, found no stored session")
    error = delete_failure(not_found(OBJECT_MISSING), ANONYMOUS, Attempts(), conditional=True)
    assert isinstance(error, ConflictError)
    assert error.session_id == "prefix/t.json"


def test_a_delete_that_may_have_landed_is_unknown() -> None:
    attempts = Attempts([requests.exceptions.ReadTimeout("lost")])
    error = delete_failure(http(412), DELETE, attempts, conditional=True)
    assert isinstance(error, OutcomeUnknown)
    assert error.session_id == "s"
    assert str(error).endswith(
        "delete of gs://bucket/prefix/s.json: HTTP 412: the server's message "
        "(after 2 attempts); the delete may have landed"
    )


# ------------------------------------------------------------------ retry policy and call


@pytest.mark.parametrize(
    "settings",
    [
        {"initial": 0.0},
        {"initial": -1.0},
        {"initial": 2.0, "maximum": 1.0},
        {"deadline": -1.0},
        {"max_attempts": 0},
    ],
)
def test_retry_policy_refuses_impossible_bounds(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"^(retry: need|max_attempts must be at least 1)"):
        RetryPolicy(**settings)


def test_retry_policy_accepts_its_edges() -> None:
    RetryPolicy(initial=1.0, maximum=1.0, deadline=0.0, max_attempts=1)


def test_retry_delay_is_full_jitter_doubling_to_the_maximum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bounds: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        bounds.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", uniform)
    policy = RetryPolicy(initial=0.5, maximum=3.0)
    delays = [policy.delay(attempt) for attempt in (1, 2, 3, 4, 100)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert all(low == 0.0 for low, _ in bounds)


def test_call_stops_when_the_next_delay_would_pass_the_deadline(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    monkeypatch.setattr(time, "monotonic", lambda: 100.0)
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    failures = iter([http(503), http(503), http(503)])

    def flaky() -> str:
        raise next(failures)

    attempts = Attempts()
    # The clock stands still, so only the delay counts: 1 and 2 fit in 2 s, 4 does not.
    with (
        caplog.at_level(logging.WARNING, logger="sessionstore.adapters.gcs"),
        pytest.raises(api_exceptions.ServiceUnavailable),
    ):
        call(flaky, policy=RetryPolicy(deadline=2.0), idempotent=True, attempts=attempts, where="x")
    assert slept == [1.0, 2.0]
    assert [record.getMessage() for record in caplog.records] == [
        "x: HTTP 503: the server's message; retrying in 1.00 s (attempt 2 of 4)",
        "x: HTTP 503: the server's message; retrying in 2.00 s (attempt 3 of 4)",
    ]
    assert attempts.count == 3


def test_call_without_unless_held_resends_a_safe_request_after_a_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "sleep", lambda _: None)
    results: list[Exception | str] = [requests.exceptions.ReadTimeout("read"), "done"]

    def once_lost() -> str:
        result = results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    assert (
        call(once_lost, policy=RetryPolicy(), idempotent=True, attempts=Attempts(), where="x")
        == "done"
    )


def test_describe() -> None:
    assert describe(http(503, "busy")) == "HTTP 503: busy"
    assert describe(KeyError("k")) == "KeyError: 'k'"
