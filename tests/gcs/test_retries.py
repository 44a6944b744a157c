"""How often the GCS adapter sends a request again, how long it waits, and what it logs.

Attempt counts are exact: at the proxy for answered requests, and as ``connect()``
calls (seen by an audit hook) for an endpoint that refuses connections. Stores here
use millisecond back-off (``FAST_RETRY``) and the default attempt limit, so the
limit, not a deadline, is what ends the retries.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from google.auth.credentials import AnonymousCredentials

from sessionstore import open_store
from sessionstore.adapters.gcs import GcsPersistence
from sessionstore.contract import ANY_VERSION
from sessionstore.errors import BackendError, BackendUnavailable, ConflictError
from sessionstore.testing import make_snapshot
from support.gcs_fixtures import (
    GCS_BUCKET,
    object_name,
    run,
    shape,
    stored_generation,
    stored_snapshot,
)
from support.gcs_server import count_connects, refusing_endpoint

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from sessionstore.contract import ExpectedVersion
    from support.gcs_server import GcsEmulator

LOGGER = "sessionstore.adapters.gcs"
UPLOAD = {"method": "POST", "path_contains": "/upload/"}
DOWNLOAD = {"method": "GET", "path_contains": "/download/"}
DELETE = {"method": "DELETE"}


def _retry_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == LOGGER]


# ------------------------------------------------------------- bounded counts


def test_body_corrupted_on_every_read_is_read_four_times_in_all(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    run(gcs_store.save("s", make_snapshot(1)))
    gcs_server.reset_log()
    gcs_server.fault("corrupt_after", times=None, **DOWNLOAD)
    with pytest.raises(BackendError, match="corrupted in transit") as caught:
        run(gcs_store.load("s"))
    gcs_server.clear_faults()
    assert type(caught.value) is BackendError
    assert "after 4 attempts" in str(caught.value)
    assert shape(gcs_server.requests) == [("GET", "download", 200)] * 4


@pytest.mark.parametrize("mode", ["create-only", "expected-generation", "unconditional"])
def test_throttled_on_every_attempt_is_unavailable_after_four_attempts_nothing_written(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator, mode: str
) -> None:
    before = None if mode == "create-only" else run(gcs_store.save("s", make_snapshot(1)))
    expected: ExpectedVersion = ANY_VERSION if mode == "unconditional" else before
    gcs_server.reset_log()
    gcs_server.fault("fail_before", status=429, times=None, **UPLOAD)
    with pytest.raises(BackendUnavailable) as caught:
        run(gcs_store.save("s", make_snapshot(2), expected_version=expected))
    gcs_server.clear_faults()
    assert "nothing was written" in str(caught.value)
    assert [(r.is_upload, r.status, r.forwarded) for r in gcs_server.requests] == [
        (True, 429, False)
    ] * 4
    assert stored_generation(gcs_server, gcs_store, "s") == before


def test_unavailable_on_every_read_is_unavailable_after_four_attempts(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    run(gcs_store.save("s", make_snapshot(1)))
    gcs_server.reset_log()
    gcs_server.fault("fail_before", status=503, times=None, **DOWNLOAD)
    with pytest.raises(BackendUnavailable):
        run(gcs_store.load("s"))
    gcs_server.clear_faults()
    assert shape(gcs_server.requests) == [("GET", "download", 503)] * 4


@pytest.mark.parametrize("given_by", ["keyword", "url"])
def test_max_attempts_sets_the_limit(
    make_gcs_store: Callable[..., GcsPersistence],
    gcs_server: GcsEmulator,
    gcs_client: Any,
    gcs_prefix: str,
    given_by: str,
) -> None:
    if given_by == "keyword":
        store = make_gcs_store(max_attempts=2)
    else:
        url = f"gs://{GCS_BUCKET}/{gcs_prefix}?max_attempts=2&retry_deadline=5"
        opened = open_store(url, client=gcs_client, retry_initial=0.001, retry_maximum=0.005)
        assert isinstance(opened, GcsPersistence)
        store = opened
    gcs_server.fault("fail_before", status=503, times=None, **DOWNLOAD)
    with pytest.raises(BackendUnavailable):
        run(store.load("s"))
    gcs_server.clear_faults()
    assert shape(gcs_server.requests) == [("GET", "download", 503)] * 2
    run(store.aclose())


def _operations(store: GcsPersistence) -> dict[str, Callable[[], Coroutine[Any, Any, object]]]:
    async def listing() -> list[str]:
        return [session_id async for session_id in store.list_sessions()]

    return {
        "save": lambda: store.save("s", make_snapshot(1)),
        "create": lambda: store.save("s", make_snapshot(1), expected_version=None),
        "save-if": lambda: store.save("s", make_snapshot(1), expected_version="1234"),
        "load": lambda: store.load("s"),
        "delete": lambda: store.delete("s"),
        "delete-if": lambda: store.delete("s", expected_version="1234"),
        "list": listing,
    }


def test_refused_connections_are_retried_four_times_in_all_with_a_warning_each(
    make_gcs_store: Callable[..., GcsPersistence], caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing was sent, so every operation may retry; the attempt limit ends it."""
    caplog.set_level(logging.WARNING, logger=LOGGER)
    with refusing_endpoint() as url:
        port = urlsplit(url).port
        assert port is not None
        store = make_gcs_store(
            api_endpoint=url,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        )
        for name, operation in _operations(store).items():
            caplog.clear()
            with count_connects(port) as connects, pytest.raises(BackendUnavailable) as caught:
                run(operation())
            assert len(connects) == 4, name
            assert store.bucket in str(caught.value)
            retries = _retry_records(caplog)
            assert [r.levelno for r in retries] == [logging.WARNING] * 3, name
            assert all("retrying" in r.getMessage() for r in retries), name
            assert [getattr(r, "attempt", None) for r in retries] == [2, 3, 4], name


# ------------------------------------------------------------ back-off, logs


def test_backoff_is_jittered_exponential_within_its_bounds(
    make_gcs_store: Callable[..., GcsPersistence],
    gcs_server: GcsEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = make_gcs_store(retry_initial=0.001, retry_maximum=0.003, max_attempts=6)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    gcs_server.fault("fail_before", status=503, times=5, **DOWNLOAD)
    assert run(store.load("s")) is None
    delays = [getattr(r, "delay", None) for r in _retry_records(caplog)]
    assert len(delays) == 5
    # Full jitter: uniform in [0, min(maximum, initial * 2 ** (n - 1))] before retry n + 1.
    bounds = [0.001, 0.002, 0.003, 0.003, 0.003]
    assert all(isinstance(d, float) and 0.0 <= d <= b for d, b in zip(delays, bounds, strict=True))
    assert shape(gcs_server.requests) == [("GET", "download", 503)] * 5 + [("GET", "download", 404)]


def test_each_retry_is_logged_once_naming_the_object_and_the_failure(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    gcs_server.fault("fail_before", status=429, times=2, **UPLOAD)
    run(gcs_store.save("s", make_snapshot(1)))
    messages = [r.getMessage() for r in _retry_records(caplog)]
    assert len(messages) == 2
    assert all(object_name(gcs_store, "s") in m and "HTTP 429" in m for m in messages)
    assert "attempt 2 of 4" in messages[0]
    assert "attempt 3 of 4" in messages[1]
    assert shape(gcs_server.requests) == [("POST", "upload", 429)] * 2 + [("POST", "upload", 200)]


# ----------------------------------------------------- 412 with no precondition


def test_412_to_an_unconditional_upload_is_a_backend_error_not_a_conflict(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    """GCS's testbench answers 412 to a body damaged in transit: no precondition, no conflict."""
    before = run(gcs_store.save("s", make_snapshot(1)))
    gcs_server.reset_log()
    gcs_server.fault("fail_before", status=412, **UPLOAD)
    with pytest.raises(BackendError) as caught:
        run(gcs_store.save("s", make_snapshot(2)))
    assert not isinstance(caught.value, ConflictError)
    assert "carried no precondition; nothing was written" in str(caught.value)
    assert shape(gcs_server.requests) == [("POST", "upload", 412)]
    assert stored_generation(gcs_server, gcs_store, "s") == before
    assert stored_snapshot(gcs_server, gcs_store, "s") == make_snapshot(1)


def test_412_to_an_unconditional_delete_is_a_backend_error_not_a_conflict(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    before = run(gcs_store.save("s", make_snapshot(1)))
    gcs_server.reset_log()
    gcs_server.fault("fail_before", status=412, **DELETE)
    with pytest.raises(BackendError) as caught:
        run(gcs_store.delete("s"))
    assert not isinstance(caught.value, ConflictError)
    assert "carried no precondition; nothing was deleted" in str(caught.value)
    assert shape(gcs_server.requests) == [("DELETE", "delete", 412)]
    assert stored_generation(gcs_server, gcs_store, "s") == before


def test_412_to_a_conditional_upload_is_still_a_conflict(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    """The control for the two tests above: with a precondition sent, 412 is a conflict."""
    stale = run(gcs_store.save("s", make_snapshot(1)))
    current = run(gcs_store.save("s", make_snapshot(2)))
    gcs_server.reset_log()
    with pytest.raises(ConflictError):
        run(gcs_store.save("s", make_snapshot(3), expected_version=stale))
    with pytest.raises(ConflictError):
        run(gcs_store.delete("s", expected_version=stale))
    assert shape(gcs_server.requests) == [("POST", "upload", 412), ("DELETE", "delete", 412)]
    assert stored_generation(gcs_server, gcs_store, "s") == current
