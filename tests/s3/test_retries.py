"""What is retried, how often, and what the caller hears: throttling, corrupted bodies,
unreachable endpoints, and the warning logged for every retry.

Attempt counts are exact: at the emulator for answered requests, and as ``connect()``
calls (seen by an audit hook) for an endpoint that refuses connections. botocore's
back-off is zeroed by the ``aws_sandbox`` fixture, so these tests never sleep; what is
retried, and how often, is unchanged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from sessionstore import (
    ANY_VERSION,
    BackendUnavailable,
    ConflictError,
    SessionSnapshot,
    VersionedSnapshot,
)
from sessionstore.adapters.s3 import S3Persistence
from sessionstore.testing import make_snapshot
from support.s3_fixtures import calls, count_connects, key_of, run, stored

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator

    from sessionstore.contract import ExpectedVersion
    from support.s3_server import S3Emulator

LOGGER = "sessionstore.adapters.s3"
SAVE_MODES = ("overwrite", "create-only", "expected-version")


def _expected(store: S3Persistence, mode: str) -> ExpectedVersion:
    if mode == "create-only":
        return None
    version = run(store.save("s-1", make_snapshot(0)))
    return ANY_VERSION if mode == "overwrite" else version


@pytest.fixture
def own_client_store(
    s3_server: S3Emulator, s3_bucket: str, s3_prefix: str, aws_sandbox: None
) -> Iterator[S3Persistence]:
    """A store that builds its own client, with the default retry settings."""
    store = S3Persistence(s3_bucket, s3_prefix, endpoint_url=s3_server.endpoint_url)
    s3_server.clear_faults()
    s3_server.reset_log()
    yield store
    s3_server.clear_faults()
    store.blocking.close()


# ------------------------------------------------------------------ SlowDown


@pytest.mark.parametrize("mode", SAVE_MODES)
def test_throttled_on_every_attempt_is_unavailable_with_nothing_written(
    s3_store: S3Persistence, s3_server: S3Emulator, mode: str
) -> None:
    expected = _expected(s3_store, mode)
    before = stored(s3_server, s3_store, "s-1")
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject("slowdown_503", key=key, times=10)

    with pytest.raises(BackendUnavailable) as caught:
        run(s3_store.save("s-1", make_snapshot(1), expected_version=expected))

    # SlowDown is answered before anything is applied: no read-back is needed.
    assert calls(s3_server) == [("PUT", key, 503)] * 3, "the fixtures' client makes 3 attempts"
    assert "nothing was written" in str(caught.value)
    assert "SlowDown" in str(caught.value)
    assert stored(s3_server, s3_store, "s-1") == before


@pytest.mark.parametrize("conditional", [False, True])
def test_throttled_delete_is_unavailable_with_nothing_deleted(
    s3_store: S3Persistence, s3_server: S3Emulator, conditional: bool
) -> None:
    version = run(s3_store.save("s-1", make_snapshot(0)))
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject("slowdown_503", method="DELETE", key=key, times=10)

    with pytest.raises(BackendUnavailable) as caught:
        run(s3_store.delete("s-1", expected_version=version if conditional else ANY_VERSION))

    assert calls(s3_server) == [("DELETE", key, 503)] * 3
    assert "nothing was deleted" in str(caught.value)
    held = stored(s3_server, s3_store, "s-1")
    assert held is not None
    assert held[1] == version


def test_throttle_then_a_real_conflict_is_a_conflict(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    stale = run(s3_store.save("s-1", make_snapshot(0)))
    current = run(s3_store.save("s-1", make_snapshot(1)))
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject("slowdown_503", key=key)

    with pytest.raises(ConflictError):
        run(s3_store.save("s-1", make_snapshot(2), expected_version=stale))

    assert calls(s3_server) == [("PUT", key, 503), ("PUT", key, 412)]
    held = stored(s3_server, s3_store, "s-1")
    assert held is not None
    assert held[1] == current


def test_throttle_then_conditional_delete_of_a_missing_session_is_a_conflict(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    version = run(s3_store.save("s-1", make_snapshot(0)))
    run(s3_store.delete("s-1"))
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject("slowdown_503", method="DELETE", key=key)

    with pytest.raises(ConflictError):
        run(s3_store.delete("s-1", expected_version=version))

    assert calls(s3_server) == [("DELETE", key, 503), ("DELETE", key, 404)]


def test_update_retries_a_conflict_that_followed_a_throttle(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    run(s3_store.save("s-1", make_snapshot(0)))
    key = key_of(s3_store, "s-1")
    rival = make_snapshot(7, writer="rival")
    rival_body = rival.model_dump_json().encode()
    seen: list[SessionSnapshot | None] = []

    def bump(current: SessionSnapshot | None) -> SessionSnapshot:
        seen.append(current)
        if len(seen) == 1:  # another writer lands between our read and our write
            s3_server.admin.put_object(Bucket=s3_store.bucket, Key=key, Body=rival_body)
            s3_server.inject("slowdown_503", key=key)
        assert current is not None
        return current.model_copy(update={"turn_count": current.turn_count + 1})

    s3_server.reset_log()
    result = run(s3_store.update("s-1", bump))

    assert seen == [make_snapshot(0), rival]
    assert calls(s3_server) == [
        ("GET", key, 200),
        ("PUT", key, 200),  # the other writer
        ("PUT", key, 503),  # SlowDown: nothing applied
        ("PUT", key, 412),  # so this is a plain conflict, and update tries again
        ("GET", key, 200),
        ("PUT", key, 200),
    ]
    assert result.snapshot.turn_count == rival.turn_count + 1
    assert run(s3_store.load_versioned("s-1")) == VersionedSnapshot(result.snapshot, result.version)


def test_own_client_retries_a_throttle_four_times_in_all(
    own_client_store: S3Persistence, s3_server: S3Emulator
) -> None:
    key = key_of(own_client_store, "s-1")
    s3_server.inject("slowdown_503", key=key, times=10)
    with pytest.raises(BackendUnavailable, match="nothing was written"):
        run(own_client_store.save("s-1", make_snapshot(1)))
    assert calls(s3_server) == [("PUT", key, 503)] * 4


# ---------------------------------------------------------------- corruption


def test_body_corrupted_once_in_transit_is_read_again(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    run(s3_store.save("s-1", make_snapshot(1)))
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject("corrupt_body", method="GET", key=key)

    assert run(s3_store.load("s-1")) == make_snapshot(1)
    assert calls(s3_server) == [("GET", key, 200)] * 2


def test_body_corrupted_on_every_read_is_bounded_and_unavailable(
    s3_store: S3Persistence, s3_server: S3Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    run(s3_store.save("s-1", make_snapshot(1)))
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject("corrupt_body", method="GET", key=key, times=1000)
    caplog.set_level(logging.WARNING, logger=LOGGER)

    with pytest.raises(BackendUnavailable, match="checksum") as caught:
        run(s3_store.load("s-1"))

    assert calls(s3_server) == [("GET", key, 200)] * 3, "as many reads as the client's attempts"
    assert key in str(caught.value)
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(messages) == 2
    assert all("FlexibleChecksumError" in message for message in messages)
    assert ["attempt 2 of 3" in messages[0], "attempt 3 of 3" in messages[1]] == [True, True]


def test_a_re_read_after_corruption_has_botocores_retries_and_no_more_re_reads(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    """Bounded, if not by one shared limit: each GetObject call gets botocore's attempts,
    and a corrupted body is read again only while the call's attempts are under the limit."""
    run(s3_store.save("s-1", make_snapshot(1)))
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject("corrupt_body", method="GET", key=key)
    s3_server.inject("apply_then_500", method="GET", key=key, times=1000)

    with pytest.raises(BackendUnavailable):
        run(s3_store.load("s-1"))

    # One corrupted read, then one re-read with the client's 3 attempts.
    assert calls(s3_server) == [("GET", key, 200)] + [("GET", key, 500)] * 3


# --------------------------------------------------------------- unreachable


def _operations(store: S3Persistence) -> dict[str, Callable[[], Coroutine[Any, Any, object]]]:
    async def listing() -> list[str]:
        return [session_id async for session_id in store.list_sessions()]

    return {
        "save": lambda: store.save("s-1", make_snapshot(1)),
        "create": lambda: store.save("s-1", make_snapshot(1), expected_version=None),
        "save-if": lambda: store.save("s-1", make_snapshot(1), expected_version='"e"'),
        "load": lambda: store.load("s-1"),
        "delete": lambda: store.delete("s-1"),
        "delete-if": lambda: store.delete("s-1", expected_version='"e"'),
        "list": listing,
    }


def test_refused_connections_are_retried_a_bounded_number_of_times_with_warnings(
    aws_sandbox: None, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    store = S3Persistence("some-bucket", "p", endpoint_url=f"http://127.0.0.1:{closed_port}")
    caplog.set_level(logging.WARNING, logger=LOGGER)
    for name, operation in _operations(store).items():
        caplog.clear()
        with count_connects(closed_port) as connects, pytest.raises(BackendUnavailable) as caught:
            run(operation())
        assert len(connects) == 4, f"{name}: default 4 attempts, each one connect()"
        assert "some-bucket" in str(caught.value)
        assert caught.value.__cause__ is not None
        retries = [r for r in caplog.records if r.name == LOGGER]
        assert [r.levelno for r in retries] == [logging.WARNING] * 3, name
        assert all("retrying" in r.getMessage() for r in retries)
        assert all("some-bucket" in r.getMessage() for r in retries)
    store.blocking.close()


def test_each_retry_is_logged_once_with_its_attempt_number(
    s3_store: S3Persistence, s3_server: S3Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    key = key_of(s3_store, "s-1")
    s3_server.inject("slowdown_503", key=key, times=2)
    caplog.set_level(logging.WARNING, logger=LOGGER)

    run(s3_store.save("s-1", make_snapshot(1)))

    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(messages) == 2
    assert "attempt 2 of 3" in messages[0]
    assert "attempt 3 of 3" in messages[1]
    assert all("SlowDown" in message and key in message for message in messages)
    assert calls(s3_server) == [("PUT", key, 503), ("PUT", key, 503), ("PUT", key, 200)]
