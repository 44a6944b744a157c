"""Injected faults: each test pins the exact outcome and what the bucket holds afterwards.

The emulator answers or drops requests as planned (see ``support.s3_server``); botocore
retries what it retries (5xx, throttling, dropped connections; never 409 or 412).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from sessionstore import (
    ANY_VERSION,
    BackendError,
    BackendUnavailable,
    ConflictError,
    OutcomeUnknown,
    SessionSnapshot,
    VersionedSnapshot,
)
from sessionstore.adapters.s3 import S3Persistence
from sessionstore.testing import make_snapshot
from support.s3_fixtures import calls, key_of, run, stored

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator

    from sessionstore.contract import ExpectedVersion
    from support.s3_server import FaultAction, S3Emulator

Mode = str  # "overwrite" | "create-only" | "expected-version"
MODES = ("overwrite", "create-only", "expected-version")


def _prepare(store: S3Persistence, mode: Mode) -> ExpectedVersion:
    """Store a first snapshot unless creating; return the expected_version for the next save."""
    if mode == "create-only":
        return None
    version = run(store.save("s-1", make_snapshot(0)))
    return ANY_VERSION if mode == "overwrite" else version


@pytest.fixture
def rival(s3_server: S3Emulator, s3_store: S3Persistence) -> Iterator[S3Persistence]:
    """Another writer on the same prefix, with its own client."""
    client = s3_server.client()
    store = S3Persistence(s3_store.bucket, s3_store.prefix, client=client)
    yield store
    store.blocking.close()
    client.close()


# ------------------------------------------------------------- not applied


@pytest.mark.parametrize("mode", ["create-only", "expected-version"])
def test_409_without_applying_is_a_conflict_and_changes_nothing(
    s3_store: S3Persistence, s3_server: S3Emulator, mode: Mode
) -> None:
    expected = _prepare(s3_store, mode)
    before = stored(s3_server, s3_store, "s-1")
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject("conflict_409", key=key)

    with pytest.raises(ConflictError) as caught:
        run(s3_store.save("s-1", make_snapshot(1), expected_version=expected))

    assert caught.value.session_id == "s-1"
    assert "ConditionalRequestConflict" in str(caught.value)
    # A create-only conflict reads once to tell a claim (an acquire that has not saved
    # yet, which reads as absent and is replaced) from a session: a GET, never a re-PUT.
    read_back = [("GET", key, 404)] if mode == "create-only" else []
    assert calls(s3_server) == [("PUT", key, 409), *read_back], "409 must not be retried"
    assert stored(s3_server, s3_store, "s-1") == before


@pytest.mark.parametrize("action", ["conflict_409", "precondition_412"])
def test_409_or_412_without_a_precondition_is_a_backend_error_not_a_conflict(
    s3_store: S3Persistence, s3_server: S3Emulator, action: FaultAction
) -> None:
    """A conflict needs a precondition: an unconditional save refused this way failed."""
    before = run(s3_store.save("s-1", make_snapshot(0)))
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject(action, key=key)

    with pytest.raises(BackendError) as caught:
        run(s3_store.save("s-1", make_snapshot(1)))

    assert not isinstance(caught.value, ConflictError)
    assert "carried no precondition; nothing was written" in str(caught.value)
    assert calls(s3_server) == [("PUT", key, int(action[-3:]))], "a 4xx is not retried"
    assert run(s3_store.load_versioned("s-1")) == VersionedSnapshot(make_snapshot(0), before)


@pytest.mark.parametrize("action", ["conflict_409", "precondition_412"])
def test_409_or_412_to_an_unconditional_delete_is_a_backend_error_not_a_conflict(
    s3_store: S3Persistence, s3_server: S3Emulator, action: FaultAction
) -> None:
    before = run(s3_store.save("s-1", make_snapshot(0)))
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject(action, method="DELETE", key=key)

    with pytest.raises(BackendError) as caught:
        run(s3_store.delete("s-1"))

    assert not isinstance(caught.value, ConflictError)
    assert "carried no precondition; nothing was deleted" in str(caught.value)
    assert calls(s3_server) == [("DELETE", key, int(action[-3:]))]
    assert run(s3_store.load_versioned("s-1")) == VersionedSnapshot(make_snapshot(0), before)


def test_409_on_conditional_delete_is_a_conflict_and_deletes_nothing(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    version = run(s3_store.save("s-1", make_snapshot(0)))
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject("conflict_409", method="DELETE", key=key)

    with pytest.raises(ConflictError):
        run(s3_store.delete("s-1", expected_version=version))

    assert calls(s3_server) == [("DELETE", key, 409)]
    held = stored(s3_server, s3_store, "s-1")
    assert held is not None
    assert held[1] == version


@pytest.mark.parametrize("mode", MODES)
def test_503_before_applying_is_retried_and_writes_once(
    s3_store: S3Persistence, s3_server: S3Emulator, mode: Mode
) -> None:
    expected = _prepare(s3_store, mode)
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject("slowdown_503", key=key)

    version = run(s3_store.save("s-1", make_snapshot(1), expected_version=expected))

    requests = s3_server.requests()
    assert [(r.method, r.forwarded, r.status) for r in requests] == [
        ("PUT", False, 503),
        ("PUT", True, 200),
    ]
    assert run(s3_store.load_versioned("s-1")) == VersionedSnapshot(make_snapshot(1), version)


def test_service_without_conditional_writes_is_a_backend_error_not_unknown(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    version = run(s3_store.save("s-1", make_snapshot(0)))
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject("not_implemented_501", key=key)

    with pytest.raises(BackendError) as caught:
        run(s3_store.save("s-1", make_snapshot(1), expected_version=version))

    assert not isinstance(caught.value, BackendUnavailable)
    assert "conditional writes" in str(caught.value)
    assert calls(s3_server) == [("PUT", key, 501)]
    assert run(s3_store.load_versioned("s-1")) == VersionedSnapshot(make_snapshot(0), version)


# ------------------------------------------------------- lost responses


@pytest.mark.parametrize("action", ["apply_then_500", "apply_then_drop"])
@pytest.mark.parametrize("mode", ["create-only", "expected-version"])
def test_lost_response_after_a_conditional_write_resolves_to_success(
    s3_store: S3Persistence, s3_server: S3Emulator, mode: Mode, action: FaultAction
) -> None:
    expected = _prepare(s3_store, mode)
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject(action, key=key)

    version = run(s3_store.save("s-1", make_snapshot(1), expected_version=expected))

    lost = 500 if action == "apply_then_500" else None
    if mode == "create-only" and lost is None:
        # No answer: the server may still hold the request, and a re-sent create could be
        # followed by the held one after a delete. Not re-sent: settled by the write id.
        assert calls(s3_server) == [("PUT", key, lost), ("GET", key, 200)]
    else:
        # Our write landed; the retry's 412 is its own echo, settled by the write id.
        assert calls(s3_server) == [("PUT", key, lost), ("PUT", key, 412), ("GET", key, 200)]
    held = stored(s3_server, s3_store, "s-1")
    assert held is not None
    assert held[1] == version
    assert run(s3_store.load("s-1")) == make_snapshot(1)


@pytest.mark.parametrize("action", ["apply_then_500", "apply_then_drop"])
def test_lost_response_after_an_unconditional_write_resolves_without_a_resend(
    s3_store: S3Persistence, s3_server: S3Emulator, action: FaultAction
) -> None:
    key = key_of(s3_store, "s-1")
    s3_server.inject(action, key=key)

    version = run(s3_store.save("s-1", make_snapshot(1)))

    lost = 500 if action == "apply_then_500" else None
    # Not re-sent blind: the write id read back shows our write landed.
    assert calls(s3_server) == [("PUT", key, lost), ("GET", key, 200)]
    assert run(s3_store.load_versioned("s-1")) == VersionedSnapshot(make_snapshot(1), version)


def test_a_blind_resend_never_undoes_a_rivals_acknowledged_write(
    s3_store: S3Persistence, s3_server: S3Emulator, rival: S3Persistence
) -> None:
    key = key_of(s3_store, "s-1")
    rival_snapshot = make_snapshot(9, writer="rival")
    acknowledged: list[str] = []

    def rival_builds_on_our_landed_write() -> None:
        current = rival.blocking.load_versioned("s-1")
        assert current is not None
        assert current.snapshot == make_snapshot(1)
        acknowledged.append(
            rival.blocking.save("s-1", rival_snapshot, expected_version=current.version)
        )

    s3_server.inject("apply_then_500", key=key, after_apply=rival_builds_on_our_landed_write)

    with pytest.raises(OutcomeUnknown):
        run(s3_store.save("s-1", make_snapshot(1)))

    # The rival's compare-and-swap was acknowledged, and it stays.
    assert run(s3_store.load_versioned("s-1")) == VersionedSnapshot(rival_snapshot, acknowledged[0])
    assert [method for method, _, _ in calls(s3_server)].count("PUT") == 2


def test_a_blind_delete_is_not_resent_over_a_rivals_new_write(
    s3_store: S3Persistence, s3_server: S3Emulator, rival: S3Persistence
) -> None:
    run(s3_store.save("s-1", make_snapshot(0)))
    rival_snapshot = make_snapshot(5, writer="rival")
    s3_server.inject(
        "apply_then_500",
        method="DELETE",
        key=key_of(s3_store, "s-1"),
        after_apply=lambda: rival.blocking.save("s-1", rival_snapshot, expected_version=None),
    )

    with pytest.raises(OutcomeUnknown):
        run(s3_store.delete("s-1"))

    assert run(s3_store.load("s-1")) == rival_snapshot


@pytest.mark.parametrize("mode", ["create-only", "expected-version"])
def test_lost_response_then_another_writer_is_outcome_unknown(
    s3_store: S3Persistence,
    s3_server: S3Emulator,
    rival: S3Persistence,
    mode: Mode,
) -> None:
    expected = _prepare(s3_store, mode)
    key = key_of(s3_store, "s-1")
    rival_snapshot = make_snapshot(9, writer="rival")
    s3_server.reset_log()
    s3_server.inject(
        "apply_then_500",
        key=key,
        # Lands after our write and before our retry: our write may have been
        # overwritten, or may never have happened; nobody can tell which.
        after_apply=lambda: rival.blocking.save("s-1", rival_snapshot),
    )

    with pytest.raises(OutcomeUnknown) as caught:
        run(s3_store.save("s-1", make_snapshot(1), expected_version=expected))

    assert caught.value.session_id == "s-1"
    assert calls(s3_server) == [
        ("PUT", key, 200),  # the rival's write, answered while ours is still pending
        ("PUT", key, 500),
        ("PUT", key, 412),
        ("GET", key, 200),
    ]
    assert run(s3_store.load("s-1")) == rival_snapshot


def test_update_never_reapplies_fn_after_outcome_unknown(
    s3_store: S3Persistence, s3_server: S3Emulator, rival: S3Persistence
) -> None:
    run(s3_store.save("s-1", make_snapshot(0)))
    rival_snapshot = make_snapshot(9, writer="rival")
    fn_calls = 0

    def bump(current: SessionSnapshot | None) -> SessionSnapshot:
        nonlocal fn_calls
        fn_calls += 1
        assert current is not None
        return current.model_copy(update={"turn_count": current.turn_count + 1})

    s3_server.inject(
        "apply_then_500",
        key=key_of(s3_store, "s-1"),
        after_apply=lambda: rival.blocking.save("s-1", rival_snapshot),
    )

    with pytest.raises(OutcomeUnknown):
        run(s3_store.update("s-1", bump))

    assert fn_calls == 1
    assert run(s3_store.load("s-1")) == rival_snapshot


def test_update_after_a_lost_response_succeeds_without_reapplying(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    run(s3_store.save("s-1", make_snapshot(0)))
    fn_calls = 0

    def bump(current: SessionSnapshot | None) -> SessionSnapshot:
        nonlocal fn_calls
        fn_calls += 1
        assert current is not None
        return current.model_copy(update={"turn_count": current.turn_count + 1})

    s3_server.inject("apply_then_drop", key=key_of(s3_store, "s-1"))
    result = run(s3_store.update("s-1", bump))

    assert fn_calls == 1
    assert result.snapshot.turn_count == 1
    assert run(s3_store.load_versioned("s-1")) == VersionedSnapshot(result.snapshot, result.version)


def test_5xx_on_every_attempt_after_the_write_landed_resolves_to_success(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    key = key_of(s3_store, "s-1")
    s3_server.inject("apply_then_500", key=key, times=10)

    version = run(s3_store.save("s-1", make_snapshot(1), expected_version=None))

    puts = [status for method, _, status in calls(s3_server) if method == "PUT"]
    assert puts == [500, 500, 500], "the client in the fixtures makes 3 attempts"
    held = stored(s3_server, s3_store, "s-1")
    assert held is not None
    assert held[1] == version


@pytest.mark.parametrize("action", ["apply_then_500", "apply_then_drop"])
@pytest.mark.parametrize("conditional", [True, False])
def test_lost_response_to_a_landed_delete_is_settled_by_reading(
    s3_store: S3Persistence, s3_server: S3Emulator, action: FaultAction, conditional: bool
) -> None:
    version = run(s3_store.save("s-1", make_snapshot(0)))
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject(action, method="DELETE", key=key)

    lost = 500 if action == "apply_then_500" else None
    if conditional:
        # The retry finds nothing to match (404): perhaps the echo of our own delete,
        # perhaps another client's delete before ours (then ours failed). Gone, but not
        # ours to claim: OutcomeUnknown, never a guess.
        with pytest.raises(OutcomeUnknown, match="may not have deleted it"):
            run(s3_store.delete("s-1", expected_version=version))
        expected = [("DELETE", key, lost), ("DELETE", key, 404), ("GET", key, 404)]
    else:
        run(s3_store.delete("s-1"))
        # Not re-sent blind; the read-back confirms the delete held.
        expected = [("DELETE", key, lost), ("GET", key, 404)]
    assert calls(s3_server) == expected
    assert stored(s3_server, s3_store, "s-1") is None


def test_412_to_the_retry_of_a_landed_conditional_delete_is_not_a_conflict(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    """A service may answer the retry's If-Match on the now missing key with 412 (not
    404): still the echo of our own delete, settled by the read-back."""
    version = run(s3_store.save("s-1", make_snapshot(0)))
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject("apply_then_500", method="DELETE", key=key)
    s3_server.inject("precondition_412", method="DELETE", key=key)

    with pytest.raises(OutcomeUnknown, match="may not have deleted it"):
        run(s3_store.delete("s-1", expected_version=version))

    assert calls(s3_server) == [("DELETE", key, 500), ("DELETE", key, 412), ("GET", key, 404)]
    assert stored(s3_server, s3_store, "s-1") is None


def test_lost_delete_response_then_a_new_write_is_outcome_unknown(
    s3_store: S3Persistence, s3_server: S3Emulator, rival: S3Persistence
) -> None:
    version = run(s3_store.save("s-1", make_snapshot(0)))
    s3_server.inject(
        "apply_then_500",
        method="DELETE",
        key=key_of(s3_store, "s-1"),
        after_apply=lambda: rival.blocking.save("s-1", make_snapshot(5, writer="rival")),
    )

    with pytest.raises(OutcomeUnknown):
        run(s3_store.delete("s-1", expected_version=version))

    assert run(s3_store.load("s-1")) == make_snapshot(5, writer="rival")


# ------------------------------------------------------------- unreachable


def test_unreachable_endpoint_is_backend_unavailable_not_outcome_unknown(
    aws_sandbox: None, closed_port: int
) -> None:
    store = S3Persistence(
        "some-bucket",
        "p",
        endpoint_url=f"http://127.0.0.1:{closed_port}",
        connect_timeout=1,
        read_timeout=1,
        max_attempts=2,
    )
    operations: list[Callable[[], Coroutine[Any, Any, object]]] = [
        lambda: store.save("s-1", make_snapshot(1)),  # nothing sent, so nothing landed
        lambda: store.save("s-1", make_snapshot(1), expected_version=None),
        lambda: store.load("s-1"),
        lambda: store.delete("s-1"),
    ]
    for operation in operations:
        with pytest.raises(BackendUnavailable) as caught:
            run(operation())
        assert "some-bucket" in str(caught.value)
        assert "p/s-1.json" in str(caught.value)
        assert caught.value.__cause__ is not None
    with pytest.raises(BackendUnavailable):
        list(store.blocking.list_sessions())
    store.blocking.close()


def test_409_on_a_lease_write_while_the_lease_is_current_is_retried_not_fenced(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    """S3's 409 ConditionalRequestConflict says a concurrent request was in progress, not
    that a newer owner wrote: while the lease's version is still stored, the lease
    re-reads and retries instead of abandoning the session."""
    lease = run(s3_store.acquire("s-1", "region-a"))
    key = key_of(s3_store, "s-1")
    s3_server.reset_log()
    s3_server.inject("conflict_409", key=key)
    version = run(lease.save(make_snapshot(1)))
    assert calls(s3_server) == [("PUT", key, 409), ("GET", key, 200), ("PUT", key, 200)]
    assert not lease.fenced
    held = stored(s3_server, s3_store, "s-1")
    assert held is not None
    assert held[1] == version
