"""The S3 adapter's outcome classification, clause by clause (tracker issue 12).

Mutation testing (``scripts/mutation.sh``) found branches of
``adapters/s3/_errors.py`` and ``adapters/s3/_attempts.py`` that the emulator tests
never reach (a 307 redirect, a 501, an ``AuthorizationHeaderMalformed``, a
``ClientError`` without a status). These tests give the classifier the botocore
errors themselves, so each clause is pinned: which sessionstore error, and what its
message names. No server, no network.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    FlexibleChecksumError,
    MissingDependencyException,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from sessionstore.adapters.s3._attempts import (
    Attempt,
    Journal,
    ResendRefused,
    backoff,
    install,
    journal,
    max_attempts_of,
)
from sessionstore.adapters.s3._errors import Call, is_missing_key, translate
from sessionstore.errors import (
    AccessDenied,
    BackendError,
    BackendUnavailable,
    ConflictError,
    MissingDependency,
    OutcomeUnknown,
    SessionStoreError,
    StoreNotFound,
)

GET = Call("GetObject", "bucket", "prefix/s.json")
PUT = Call("PutObject", "bucket", "prefix/s.json", session_id="s")
DELETE = Call("DeleteObject", "bucket", "prefix/s.json", session_id="s")


def client_error(
    status: int | None,
    code: str,
    message: str | None = "the server's message",
    *,
    retries: int | None = None,
) -> ClientError:
    metadata: dict[str, Any] = {}
    if status is not None:
        metadata["HTTPStatusCode"] = status
    if retries is not None:
        metadata["RetryAttempts"] = retries
    error: dict[str, Any] = {"Code": code}
    if message is not None:
        error["Message"] = message
    response: Any = {"Error": error, "ResponseMetadata": metadata}
    return ClientError(response, "GetObject")


def check(
    error: SessionStoreError, kind: type[SessionStoreError], *fragments: str
) -> SessionStoreError:
    assert type(error) is kind, (type(error), str(error))
    for fragment in fragments:
        assert fragment in str(error), (fragment, str(error))
    return error


# ------------------------------------------------------------------ _translate_common


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (403, "AccessDenied"),
        (403, "SomethingElse"),
        (400, "InvalidAccessKeyId"),
        (400, "ExpiredToken"),
        (400, "AccountProblem"),
    ],
)
def test_refusals_of_credentials_are_access_denied(status: int, code: str) -> None:
    check(
        translate(client_error(status, code), GET),
        AccessDenied,
        "GetObject s3://bucket/prefix/s.json",
        f"{code} (HTTP {status}): the server's message",
    )


def test_a_404_is_not_access_denied() -> None:
    check(translate(client_error(404, "NoSuchKey"), GET), BackendError, "NoSuchKey (HTTP 404)")


def test_missing_bucket_names_the_bucket() -> None:
    check(
        translate(client_error(404, "NoSuchBucket"), GET),
        StoreNotFound,
        "S3 bucket 'bucket' does not exist (GetObject s3://bucket/prefix/s.json)",
    )


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (301, "Moved"),
        (307, "TemporaryRedirect"),
        (400, "PermanentRedirect"),
        (400, "AuthorizationHeaderMalformed"),
    ],
)
def test_a_bucket_in_another_region_says_so(status: int, code: str) -> None:
    check(
        translate(client_error(status, code), GET),
        BackendError,
        f"{code} (HTTP {status})",
        "(the bucket is in another region: pass region=)",
    )


@pytest.mark.parametrize("status", [302, 308])
def test_other_redirects_are_plain_backend_errors(status: int) -> None:
    error = check(translate(client_error(status, "Found"), GET), BackendError)
    assert "another region" not in str(error)


@pytest.mark.parametrize(("status", "code"), [(501, "Whatever"), (400, "NotImplemented")])
def test_a_service_without_a_needed_feature_says_which(status: int, code: str) -> None:
    check(
        translate(client_error(status, code), GET),
        BackendError,
        "(this service does not implement a request the store needs, "
        "such as conditional writes with If-Match / If-None-Match)",
    )


def test_a_502_is_unavailable_not_unimplemented() -> None:
    error = check(translate(client_error(502, "BadGateway"), GET), BackendUnavailable)
    assert "does not implement" not in str(error)


@pytest.mark.parametrize(
    ("status", "code"),
    [(None, "Odd"), (500, "InternalError"), (503, "SlowDown"), (400, "RequestTimeout")],
)
def test_transient_answers_are_unavailable(status: int | None, code: str) -> None:
    check(translate(client_error(status, code), GET), BackendUnavailable, f"{code} (HTTP {status})")


@pytest.mark.parametrize("code", ["SlowDown", "RequestTimeout"])
def test_slow_down_and_request_timeout_are_transient_whatever_their_status(code: str) -> None:
    check(translate(client_error(400, code), GET), BackendUnavailable)


def test_a_plain_4xx_is_a_backend_error_with_the_servers_message() -> None:
    check(
        translate(client_error(400, "InvalidArgument"), GET),
        BackendError,
        "GetObject s3://bucket/prefix/s.json: InvalidArgument (HTTP 400): the server's message",
    )


@pytest.mark.parametrize("message", [None, ""])
def test_a_client_error_without_a_message_says_so(message: str | None) -> None:
    check(
        translate(client_error(400, "InvalidArgument", message), GET),
        BackendError,
        "InvalidArgument (HTTP 400): no message",
    )


def test_retries_are_counted_in_the_message_only_when_there_were_some() -> None:
    check(
        translate(client_error(500, "InternalError", retries=4), GET),
        BackendUnavailable,
        "the server's message after 4 retries",
    )
    for retries in (None, 0):
        error = translate(client_error(500, "InternalError", retries=retries), GET)
        assert str(error).endswith("InternalError (HTTP 500): the server's message")


def test_errors_that_are_not_answers() -> None:
    check(
        translate(NoCredentialsError(), GET),
        AccessDenied,
        "GetObject s3://bucket/prefix/s.json: no usable AWS credentials: Unable to locate",
    )
    check(
        translate(MissingDependencyException(msg="crt needed"), GET),
        MissingDependency,
        "GetObject s3://bucket/prefix/s.json: ",
        "crt needed",
    )
    check(
        translate(ParamValidationError(report="bad key"), GET),
        BackendError,
        "GetObject s3://bucket/prefix/s.json: request refused by botocore: ",
        "bad key",
    )
    check(
        translate(FlexibleChecksumError(error_msg="crc mismatch"), GET),
        BackendUnavailable,
        "body failed its checksum in transit: crc mismatch",
    )
    check(
        translate(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), GET),
        BackendUnavailable,
        "cannot reach S3 (nothing was sent): ",
    )
    check(
        translate(ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), GET),
        BackendUnavailable,
        "GetObject s3://bucket/prefix/s.json: ReadTimeoutError: ",
    )


# ------------------------------------------------------------------ _translate_write


def test_a_write_that_may_have_landed_is_unknown_and_says_why() -> None:
    journal = Journal(attempts=[Attempt(None, ReadTimeoutError(endpoint_url="http://x"))])
    check(
        translate(ReadTimeoutError(endpoint_url="http://x"), PUT, journal),
        OutcomeUnknown,
        "PutObject s3://bucket/prefix/s.json: ReadTimeoutError: ",
    )
    journal = Journal(attempts=[Attempt(500, None, "InternalError")])
    check(
        translate(client_error(500, "InternalError"), PUT, journal),
        OutcomeUnknown,
        "InternalError (HTTP 500) after an attempt that may have landed",
    )


@pytest.mark.parametrize(("status", "code"), [(412, "PreconditionFailed"), (404, "NoSuchKey")])
def test_a_refused_conditional_write_is_a_conflict(status: int, code: str) -> None:
    journal = Journal(attempts=[Attempt(status, None, code)])
    error = check(
        translate(client_error(status, code), PUT, journal),
        ConflictError,
        f"PutObject s3://bucket/prefix/s.json refused: {code} (HTTP {status})",
    )
    assert isinstance(error, ConflictError)
    assert error.session_id == "s"


@pytest.mark.parametrize(
    ("call", "nothing"), [(PUT, "nothing was written"), (DELETE, "nothing was deleted")]
)
def test_409_or_412_without_a_precondition_is_a_backend_error(call: Call, nothing: str) -> None:
    journal = Journal(blind=True, attempts=[Attempt(412, None, "PreconditionFailed")])
    check(
        translate(client_error(412, "PreconditionFailed"), call, journal),
        BackendError,
        "PreconditionFailed (HTTP 412) to a request that carried no precondition; " + nothing,
    )


def test_throttled_on_every_attempt_is_unavailable_and_counts_them() -> None:
    journal = Journal(attempts=[Attempt(503, None, "SlowDown")] * 4)
    check(
        translate(client_error(503, "SlowDown"), DELETE, journal),
        BackendUnavailable,
        "DeleteObject s3://bucket/prefix/s.json: throttled (SlowDown, HTTP 503) on all "
        "4 attempts; nothing was deleted",
    )


# ------------------------------------------------------------------ attempts and journals


def test_attempt_predicates() -> None:
    timeout = ReadTimeoutError(endpoint_url="http://x")
    refused = EndpointConnectionError(endpoint_url="http://x")
    assert Attempt(200, None).failed is False
    assert Attempt(299, None).failed is False
    assert Attempt(300, None).failed is True
    assert Attempt(None, None).failed is True
    assert Attempt(200, timeout).failed is True
    assert Attempt(200, None).unanswered is False
    assert Attempt(200, timeout).unanswered is True
    assert Attempt(None, None).unanswered is True
    assert Attempt(503, None, "SlowDown").throttled is True
    assert Attempt(503, None, "Other").throttled is False
    assert Attempt(200, timeout).may_have_landed is True
    assert Attempt(None, refused).may_have_landed is False
    assert Attempt(None, ConnectTimeoutError(endpoint_url="http://x")).may_have_landed is False
    assert Attempt(None, None).may_have_landed is True
    for status in (300, 404, 412, 499, 501):
        assert Attempt(status, None).may_have_landed is False, status
    for status in (200, 500, 502, 503):
        assert Attempt(status, None).may_have_landed is True, status
    assert Attempt(503, None, "SlowDown").may_have_landed is False


def test_attempt_descriptions() -> None:
    assert Attempt(None, KeyError("k")).describe() == "KeyError: 'k'"
    assert Attempt(None, None).describe() == "no HTTP status"
    assert Attempt(503, None, "SlowDown").describe() == "HTTP 503 SlowDown"
    assert Attempt(500, None).describe() == "HTTP 500"


def test_journal_without_attempts_falls_back_on_what_botocore_reports() -> None:
    empty = Journal()
    assert empty.may_have_landed(client_error(412, "PreconditionFailed")) is False
    assert empty.may_have_landed(client_error(412, "PreconditionFailed", retries=1)) is True
    assert empty.may_have_landed(client_error(500, "InternalError")) is True
    assert empty.may_have_landed(client_error(503, "SlowDown")) is False
    assert empty.may_have_landed(EndpointConnectionError(endpoint_url="http://x")) is False
    assert empty.may_have_landed(ReadTimeoutError(endpoint_url="http://x")) is True
    assert empty.throttled_throughout is False
    bare: Any = {}
    assert empty.may_have_landed(ClientError(bare, "PutObject")) is True


def test_a_body_that_failed_while_reading_keeps_status_and_code() -> None:
    journal = Journal(attempts=[Attempt(200, None, "Kept")])
    failure = FlexibleChecksumError(error_msg="crc")
    journal.failed_while_reading(failure)
    assert journal.attempts == [Attempt(200, failure, "Kept")]
    Journal().failed_while_reading(failure)  # nothing recorded: nothing to mark


def test_resend_refused_names_what_the_attempt_met() -> None:
    timeout = ReadTimeoutError(endpoint_url="http://x")
    refused = ResendRefused(Attempt(None, timeout))
    assert refused.attempt == Attempt(None, timeout)
    assert str(refused) == f"not re-sent after an attempt that may have landed ({timeout})"
    assert str(ResendRefused(Attempt(500, None))) == (
        "not re-sent after an attempt that may have landed (HTTP 500)"
    )


def test_backoff_is_botocores_full_jitter_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    bounds: list[tuple[float, float]] = []
    slept: list[float] = []

    def uniform(low: float, high: float) -> float:
        bounds.append((low, high))
        return high

    monkeypatch.setattr(random, "uniform", uniform)
    monkeypatch.setattr(time, "sleep", slept.append)
    for attempt in (1, 2, 3, 12):
        backoff(attempt)
    backoff(3, base=1.0, cap=3.0)
    assert bounds == [(0.0, 0.05), (0.0, 0.1), (0.0, 0.2), (0.0, 20.0), (0.0, 3.0)]
    assert slept == [0.05, 0.1, 0.2, 20.0, 3.0]


def test_a_write_with_an_empty_journal_is_decided_by_its_final_error() -> None:
    check(
        translate(client_error(412, "PreconditionFailed"), PUT, Journal()),
        ConflictError,
        "refused: PreconditionFailed (HTTP 412)",
    )
    check(translate(client_error(500, "InternalError"), PUT, Journal()), OutcomeUnknown)


def test_a_client_error_without_code_or_status_is_still_classified() -> None:
    no_code: Any = {"Error": {}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    error = translate(ClientError(no_code, "GetObject"), GET)
    assert type(error) is BackendError
    assert str(error) == "GetObject s3://bucket/prefix/s.json:  (HTTP 400): no message"
    bare: Any = {}
    error = translate(ClientError(bare, "GetObject"), GET)
    assert type(error) is BackendUnavailable
    assert str(error) == "GetObject s3://bucket/prefix/s.json:  (HTTP None): no message"


def test_a_missing_key_is_no_such_key_or_a_bare_404() -> None:
    assert is_missing_key(client_error(404, "NoSuchKey"))
    assert is_missing_key(client_error(404, "404"))
    assert not is_missing_key(client_error(404, "NoSuchBucket"))
    assert not is_missing_key(KeyError("404"))


# ------------------------------------------------------------------ the client's hooks


def _client(**retries: Any) -> Any:
    settings: Any = retries
    config = Config(retries=settings) if retries else Config()
    return boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=config,
    )


@pytest.mark.parametrize(
    ("retries", "expected"),
    [
        ({"total_max_attempts": 7}, 7),
        ({"max_attempts": 4}, 5),
        ({"mode": "standard"}, 3),
        ({"mode": "adaptive"}, 3),
        ({"mode": "legacy"}, 5),
    ],
)
def test_max_attempts_of_a_client(retries: dict[str, Any], expected: int) -> None:
    assert max_attempts_of(_client(**retries)) == expected


def test_max_attempts_of_a_client_without_retry_settings() -> None:
    bare: Any = SimpleNamespace(meta=SimpleNamespace(config=SimpleNamespace()))
    assert max_attempts_of(bare) == 5
    unknown: Any = SimpleNamespace(
        meta=SimpleNamespace(config=SimpleNamespace(retries={"mode": "x"}))
    )
    assert max_attempts_of(unknown) is None
    # botocore's Config turns max_attempts into total_max_attempts; a config that
    # carries max_attempts alone (an older botocore) counts retries, not attempts.
    retries_only: Any = SimpleNamespace(
        meta=SimpleNamespace(config=SimpleNamespace(retries={"max_attempts": 6}))
    )
    assert max_attempts_of(retries_only) == 7


def _put_request() -> AWSRequest:
    return AWSRequest(
        method="PUT", url="http://127.0.0.1:9/b/k", headers={"Expect": "100-continue"}
    )


def test_installed_hooks_record_attempts_once_and_drop_expect_in_a_journal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _client(total_max_attempts=3)
    install(client)
    install(client)  # idempotent: each hook once
    events = client.meta.events
    outside = _put_request()
    events.emit("before-send.s3.PutObject", request=outside)
    assert "Expect" in outside.headers  # a caller's own call keeps botocore's behaviour
    with journal("PutObject s3://b/k", max_attempts=3) as current:
        inside = _put_request()
        events.emit("before-send.s3.PutObject", request=inside)
        assert "Expect" not in inside.headers
        events.emit(
            "request-created.s3.PutObject", request=inside, operation_name="PutObject"
        )  # the first attempt
        events.emit(
            "response-received.s3.PutObject",
            response_dict={"status_code": 500},
            parsed_response={"Error": {"Code": "InternalError"}},
            exception=None,
        )
        assert current.attempts == [Attempt(500, None, "InternalError")]
        with caplog.at_level(logging.WARNING, logger="sessionstore.adapters.s3"):
            events.emit("request-created.s3.PutObject", request=inside, operation_name="PutObject")
    assert [record.getMessage() for record in caplog.records] == [
        "PutObject s3://b/k: HTTP 500 InternalError; retrying (attempt 2 of 3)"
    ]


def test_retry_warning_without_a_known_limit(caplog: pytest.LogCaptureFixture) -> None:
    client = _client()
    install(client)
    with journal("GetObject s3://b/k", max_attempts=None) as current:
        current.attempts.append(Attempt(503, None, "SlowDown"))
        with caplog.at_level(logging.WARNING, logger="sessionstore.adapters.s3"):
            client.meta.events.emit(
                "request-created.s3.GetObject", request=_put_request(), operation_name="GetObject"
            )
    assert [record.getMessage() for record in caplog.records] == [
        "GetObject s3://b/k: HTTP 503 SlowDown; retrying (attempt 2)"
    ]


def test_hooks_on_a_thread_that_never_opened_a_journal_do_nothing() -> None:
    client = _client()
    install(client)
    errors: list[BaseException] = []

    def fresh_thread() -> None:
        try:
            request = _put_request()
            client.meta.events.emit("before-send.s3.PutObject", request=request)
            client.meta.events.emit(
                "request-created.s3.PutObject", request=request, operation_name="PutObject"
            )
            client.meta.events.emit(
                "response-received.s3.PutObject",
                response_dict={"status_code": 200},
                parsed_response={},
                exception=None,
            )
            assert "Expect" in request.headers
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=fresh_thread)
    thread.start()
    thread.join()
    assert errors == []
