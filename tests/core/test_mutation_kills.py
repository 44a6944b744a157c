"""Behaviour that mutation testing (``scripts/mutation.sh``) found unchecked in the core.

Each test names the mutants of ``core/contract.py``, ``core/ownership.py`` or
``core/codec.py`` it kills. Faults are scripted on an in-memory store
(:class:`ScriptedStore`): a write can lose its response after landing, be refused
as a conflict, or report an unknown outcome without landing; a read can fail once.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pytest
from pydantic import BaseModel, ConfigDict, model_validator

import sessionstore.contract as contract_module
import sessionstore.ownership as ownership_module
from sessionstore import MemoryPersistence, VersionedSnapshot, codec
from sessionstore.contract import ANY_VERSION
from sessionstore.errors import (
    BackendUnavailable,
    ConflictError,
    CorruptSnapshot,
    FencedError,
    InvalidSnapshot,
    OutcomeUnknown,
    SessionBusy,
)
from sessionstore.testing import make_snapshot
from sessionstore.testing.lease_suite import SettableClock

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from sessionstore.contract import ExpectedVersion, RemoveExpected, StoredObject
    from sessionstore.ownership import SessionLease

T = TypeVar("T")

Fault = Literal[
    "lose-response", "conflict", "unknown-unapplied", "land-then-rewrite", "unavailable"
]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class ScriptedStore(MemoryPersistence):
    """A memory store whose next writes and reads meet the scripted faults."""

    def __init__(self) -> None:
        super().__init__()
        self.write_faults: list[Fault] = []
        self.remove_faults: list[Fault] = []
        self.read_faults = 0
        self.writes = 0

    async def _write(self, session_id: str, body: bytes, expected: ExpectedVersion) -> str:
        self.writes += 1
        fault = self.write_faults.pop(0) if self.write_faults else None
        if fault == "conflict":
            raise ConflictError(session_id, "scripted conflict")
        if fault == "unavailable":
            raise BackendUnavailable("scripted: refused, nothing written")
        if fault == "unknown-unapplied":
            raise OutcomeUnknown(session_id, "scripted: lost, never applied")
        version = await super()._write(session_id, body, expected)
        if fault == "lose-response":
            raise OutcomeUnknown(session_id, "scripted: applied, response lost")
        if fault == "land-then-rewrite":
            # Another program rewrites the body we wrote, keeping our metadata.
            fields = json.loads(body)
            fields["state"] = {"rewritten": True}
            await super()._write(session_id, json.dumps(fields).encode(), ANY_VERSION)
            raise OutcomeUnknown(session_id, "scripted: applied, rewritten, response lost")
        return version

    async def _remove(self, session_id: str, expected: RemoveExpected) -> None:
        fault = self.remove_faults.pop(0) if self.remove_faults else None
        if fault == "unknown-unapplied":
            raise OutcomeUnknown(session_id, "scripted: lost, never applied")
        await super()._remove(session_id, expected)
        if fault == "lose-response":
            raise OutcomeUnknown(session_id, "scripted: applied, response lost")

    async def _read(self, session_id: str) -> StoredObject | None:
        if self.read_faults:
            self.read_faults -= 1
            raise BackendUnavailable("scripted: read failed")
        return await super()._read(session_id)


@pytest.fixture
def store() -> ScriptedStore:
    return ScriptedStore()


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The attempts after which the contract backed off (no real sleeping)."""
    seen: list[int] = []

    async def record(attempt: int) -> None:
        seen.append(attempt)

    monkeypatch.setattr(contract_module, "contention_backoff", record)
    monkeypatch.setattr(ownership_module, "contention_backoff", record)
    return seen


# ------------------------------------------------------------------ keyed saves
# contract.SessionPersistence._keyed_save


def test_keyed_save_with_a_stale_expected_version_is_refused_naming_the_session(
    store: ScriptedStore,
) -> None:
    """Kills _keyed_save mutants 21 and 23 (check_expected given None)."""
    with pytest.raises(ConflictError) as caught:
        run(store.save("s", make_snapshot(1), expected_version="v-old", idempotency_key="k"))
    assert caught.value.session_id == "s"
    assert run(store._read("s")) is None


def test_keyed_save_remembers_earlier_keys(store: ScriptedStore) -> None:
    """Kills _keyed_save mutant 40 (the stored keys forgotten on a keyed save)."""
    first = run(store.save("s", make_snapshot(1), idempotency_key="k1"))
    second = run(store.save("s", make_snapshot(2), idempotency_key="k2"))
    assert second != first
    assert run(store.save("s", make_snapshot(3), idempotency_key="k1")) == second
    assert run(store.load("s")) == make_snapshot(2)


def test_keyed_save_retries_a_conflict_and_backs_off_between_attempts_only(
    store: ScriptedStore, backoffs: list[int]
) -> None:
    """Kills _keyed_save mutants 44-48 (backoff count and argument, break for continue)."""
    store.write_faults = ["conflict", "conflict"]
    version = run(store.save("s", make_snapshot(1), idempotency_key="k"))
    assert run(store.load_versioned("s")) == VersionedSnapshot(make_snapshot(1), version)
    assert backoffs == [0, 1]


def test_keyed_save_gives_up_after_ten_races_without_a_last_backoff(
    store: ScriptedStore, backoffs: list[int]
) -> None:
    """Kills _keyed_save mutants 44, 46 and 59-62 (the give-up error and its backoffs)."""
    store.write_faults = ["conflict"] * 10
    with pytest.raises(ConflictError) as caught:
        run(store.save("s", make_snapshot(1), idempotency_key="k"))
    assert caught.value.session_id == "s"
    assert "gave up after 10 races" in str(caught.value)
    assert store.writes == 10
    assert backoffs == list(range(9))


def test_keyed_save_whose_response_was_lost_after_a_rewrite_is_found_by_its_key(
    store: ScriptedStore,
) -> None:
    """Kills _keyed_save mutants 49-58 (the key looked up after OutcomeUnknown)."""
    store.write_faults = ["land-then-rewrite"]
    version = run(store.save("s", make_snapshot(1), idempotency_key="k"))
    stored = run(store.load_versioned("s"))
    assert stored is not None
    assert stored.version == version
    assert stored.snapshot.state == {"rewritten": True}


def test_keyed_save_lost_and_never_applied_is_outcome_unknown(store: ScriptedStore) -> None:
    """Kills _keyed_save mutant 57 (a missing key taken for an applied one)."""
    store.write_faults = ["unknown-unapplied"]
    with pytest.raises(OutcomeUnknown):
        run(store.save("s", make_snapshot(1), idempotency_key="k"))
    assert run(store._read("s")) is None


# ------------------------------------------------------------------ lost responses
# contract.SessionPersistence._resolve_write


def test_lost_response_of_a_write_that_never_landed_stays_unknown(store: ScriptedStore) -> None:
    """Kills _resolve_write mutants 10, 11 (nothing stored: read back must not crash)."""
    store.write_faults = ["unknown-unapplied"]
    with pytest.raises(OutcomeUnknown) as caught:
        run(store.save("s", make_snapshot(1)))
    assert caught.value.session_id == "s"
    assert "never applied" in str(caught.value)


def test_lost_response_of_a_rewritten_write_says_it_landed(store: ScriptedStore) -> None:
    """Kills _resolve_write mutants 13-17 (the landed-then-rewritten verdict)."""
    store.write_faults = ["land-then-rewrite"]
    with pytest.raises(OutcomeUnknown) as caught:
        run(store.save("s", make_snapshot(1)))
    assert caught.value.session_id == "s"
    assert "it landed, then another program rewrote the body" in str(caught.value)
    assert isinstance(caught.value.__cause__, OutcomeUnknown)


def test_lost_response_of_another_programs_body_is_plain_unknown(store: ScriptedStore) -> None:
    """Kills _resolve_write mutant 13 (a foreign body taken for our rewritten write)."""
    run(store.save("s", make_snapshot(0)))
    store.write_faults = ["unknown-unapplied"]
    with pytest.raises(OutcomeUnknown) as caught:
        run(store.save("s", make_snapshot(1)))
    assert "rewrote" not in str(caught.value)


def test_lost_response_whose_read_back_fails_names_both(store: ScriptedStore) -> None:
    """Kills _resolve_write mutants 3, 4 (the read-back failure's error)."""
    store.write_faults = ["lose-response"]
    store.read_faults = 1
    with pytest.raises(OutcomeUnknown) as caught:
        run(store.save("s", make_snapshot(1)))
    assert caught.value.session_id == "s"
    assert "reading it back failed" in str(caught.value)
    assert "scripted: read failed" in str(caught.value)


# ------------------------------------------------------------------ claims and deletes
# codec.is_claim, codec.write_id_in


def test_expect_absent_delete_refuses_a_body_with_unreadable_metadata(
    store: ScriptedStore,
) -> None:
    """Kills is_claim mutant 7 (unreadable metadata taken for a claim)."""
    body = b'{"_sessionstore":{"v":99},"state":{}}'
    run(MemoryPersistence._write(store, "s", body, ANY_VERSION))
    with pytest.raises(ConflictError):
        run(store.delete("s", expected_version=None))


# ------------------------------------------------------------------ leases
# ownership.SessionLease and BlockingSessionLease


def test_a_lease_adopts_its_landed_write_after_the_read_back_failed(
    store: ScriptedStore,
) -> None:
    """Kills write_id_in mutants 1, 7 (the pending write not recognised by its write id)."""
    lease = run(store.acquire("s", "owner-a"))
    store.write_faults = ["lose-response"]
    store.read_faults = 1
    with pytest.raises(OutcomeUnknown):
        run(lease.save(make_snapshot(1)))
    # The next call resolves the pending write: it landed, so the lease adopts it.
    run(lease.save(make_snapshot(2)))
    assert not lease.fenced
    assert run(lease.load()) == make_snapshot(2)


def test_lease_load_after_a_takeover_fences_and_names_the_new_holder(
    store: ScriptedStore,
) -> None:
    """Kills SessionLease.load mutants 3-21 and _fence mutants 1, 2."""
    run(store.save("s", make_snapshot(0)))
    old = run(store.acquire("s", "owner-a"))
    run(store.acquire("s", "owner-b", force=True))
    with pytest.raises(FencedError) as caught:
        run(old.load())
    assert caught.value.session_id == "s"
    assert str(caught.value).endswith("'owner-a' (epoch 1) was superseded by 'owner-b'")
    assert old.fenced
    with pytest.raises(FencedError) as again:
        run(old.save(make_snapshot(1)))
    assert again.value.session_id == "s"
    assert str(again.value).endswith("'owner-a' (epoch 1) was fenced earlier")


def test_lease_load_after_a_delete_fences(store: ScriptedStore) -> None:
    """Kills SessionLease.load mutant 3 (``and`` for ``or``: a missing entry)."""
    lease = run(store.acquire("s", "owner-a"))
    run(lease.save(make_snapshot(1)))
    run(store.delete("s"))
    with pytest.raises(FencedError) as caught:
        run(lease.load())
    assert str(caught.value).endswith("'owner-a' (epoch 1) was superseded")
    assert lease.fenced


def test_a_refused_lease_write_fences_the_lease(store: ScriptedStore) -> None:
    """Kills _fence mutants 1-9 (the flag and the error of a fenced write)."""
    lease = run(store.acquire("s", "owner-a"))
    run(store.save("s", make_snapshot(5, writer="outsider")))
    with pytest.raises(FencedError) as caught:
        run(lease.save(make_snapshot(1)))
    assert caught.value.session_id == "s"
    assert str(caught.value).endswith("since this lease last wrote or read it")
    assert lease.fenced
    assert repr(lease).endswith(", fenced)")


def test_leaving_a_lease_block_releases_and_a_fenced_release_is_raised(
    store: ScriptedStore,
) -> None:
    """Kills SessionLease.__aexit__ mutants 1-3."""

    async def superseded_inside() -> None:
        async with await store.acquire("s", "owner-a") as lease:
            await lease.save(make_snapshot(1))
            await store.save("s", make_snapshot(2, writer="outsider"))

    # No error in the block: the release's FencedError is the one to see.
    with pytest.raises(FencedError):
        run(superseded_inside())

    async def body_fails_after_takeover() -> None:
        async with await store.acquire("t", "owner-a") as lease:
            await lease.save(make_snapshot(1))
            await store.acquire("t", "owner-b", force=True)
            raise KeyError("the body's own error")

    with pytest.raises(KeyError):
        run(body_fails_after_takeover())

    async def fenced_in_block() -> None:
        async with await store.acquire("u", "owner-a") as lease:
            await store.save("u", make_snapshot(2, writer="outsider"))
            with pytest.raises(FencedError):
                await lease.save(make_snapshot(1))
            assert lease.fenced
        # leaving a fenced lease's block writes nothing and raises nothing

    run(fenced_in_block())
    assert run(store.load("u")) == make_snapshot(2, writer="outsider")


def test_blocking_lease_save_honours_its_idempotency_key(store: ScriptedStore) -> None:
    """Kills BlockingSessionLease.save mutants 3, 5 (the key dropped)."""
    lease = store.blocking.acquire("s", "owner-a")
    first = lease.save(make_snapshot(1), idempotency_key="k")
    writes = store.writes
    assert lease.save(make_snapshot(2), idempotency_key="k") == first
    assert store.writes == writes
    assert lease.load() == make_snapshot(1)


def test_blocking_lease_block_error_wins_over_a_fenced_release(store: ScriptedStore) -> None:
    """Kills BlockingSessionLease.__exit__ mutant 3 (the block's error not passed on)."""

    def serve() -> None:
        with store.blocking.acquire("s", "owner-a") as lease:
            lease.save(make_snapshot(1))
            store.blocking.acquire("s", "owner-b", force=True)
            raise KeyError("the block's own error")

    with pytest.raises(KeyError):
        serve()


def _lease_with_a_pending_write_that_did_not_land(store: ScriptedStore) -> SessionLease:
    """A lease that saved snapshot 1, then got OutcomeUnknown for snapshot 2 (not stored)."""
    lease = run(store.acquire("s", "owner-a"))
    run(lease.save(make_snapshot(1)))
    store.write_faults = ["unknown-unapplied"]
    store.read_faults = 1
    with pytest.raises(OutcomeUnknown):
        run(lease.save(make_snapshot(2)))
    return lease


def test_a_lease_write_lost_before_landing_is_forgotten_by_the_next_call(
    store: ScriptedStore,
) -> None:
    """Kills SessionLease._write/_ready mutants of the pending write that did not land."""
    lease = _lease_with_a_pending_write_that_did_not_land(store)
    run(lease.save(make_snapshot(3)))
    assert not lease.fenced
    assert run(store.load("s")) == make_snapshot(3)


def test_an_adopted_lease_write_keeps_its_payload_and_keys(store: ScriptedStore) -> None:
    """Kills SessionLease._write mutants 11-15 and 24 (what a pending write records)."""
    lease = run(store.acquire("s", "owner-a"))
    store.write_faults = ["lose-response"]
    store.read_faults = 1
    with pytest.raises(OutcomeUnknown):
        run(lease.save(make_snapshot(1), idempotency_key="k"))
    version = run(lease.save(make_snapshot(2), idempotency_key="k"))  # adopted: not re-applied
    assert version == lease.version
    assert run(store.load("s")) == make_snapshot(1)
    run(lease.release())
    assert run(store.load("s")) == make_snapshot(1)


def test_a_lost_release_that_landed_ends_the_lease(store: ScriptedStore) -> None:
    """Kills the pending release's mutants (``held`` recorded, the lease marked released)."""
    lease = run(store.acquire("s", "owner-a"))
    run(lease.save(make_snapshot(1)))
    store.write_faults = ["lose-response"]
    store.read_faults = 1
    with pytest.raises(OutcomeUnknown):
        run(lease.release())
    with pytest.raises(FencedError) as caught:
        run(lease.save(make_snapshot(2)))
    assert caught.value.session_id == "s"
    assert str(caught.value).endswith("the lease of 'owner-a' was released")
    assert lease.released
    run(store.acquire("s", "owner-b"))  # released: no force needed


def test_release_marks_the_lease_released_and_keeps_its_keys(store: ScriptedStore) -> None:
    """Kills SessionLease.release mutants 9, 15, 16 and __repr__ mutants."""
    lease = run(store.acquire("s", "owner-a"))
    assert repr(lease).endswith(f"version={lease.version!r})")
    assert (lease.released, lease.fenced) == (False, False)  # not merely falsy
    run(lease.save(make_snapshot(1), idempotency_key="k"))
    run(lease.release())
    assert lease.released
    assert repr(lease).endswith(", released)")
    writes = store.writes
    run(lease.release())  # a no-op
    assert store.writes == writes
    with pytest.raises(FencedError) as caught:
        run(lease.load())
    assert caught.value.session_id == "s"
    assert str(caught.value).endswith("the lease of 'owner-a' was released")
    version = run(store.load_versioned("s"))
    assert version is not None
    assert run(store.save("s", make_snapshot(2), idempotency_key="k")) == version.version
    assert store.writes == writes


def test_releasing_a_claim_whose_delete_response_was_lost(store: ScriptedStore) -> None:
    """Kills SessionLease.release mutants 6, 7 (a lost claim delete settled by reading)."""
    landed = run(store.acquire("s", "owner-a"))
    store.remove_faults = ["lose-response"]
    run(landed.release())
    assert landed.released
    assert run(store._read("s")) is None

    unapplied = run(store.acquire("t", "owner-a"))
    store.remove_faults = ["unknown-unapplied"]
    with pytest.raises(OutcomeUnknown):
        run(unapplied.release())
    assert not unapplied.released


def test_a_lease_save_restarts_the_stale_after_clock(store: ScriptedStore) -> None:
    """Kills SessionLease._write mutants 6, 10 (a lease write without its written_at)."""
    clock = SettableClock()
    store.clock = clock
    holder = run(store.acquire("s", "owner-a"))
    clock.now += 100.0
    run(holder.save(make_snapshot(1)))
    clock.now += 10.0
    with pytest.raises(SessionBusy):
        run(store.acquire("s", "owner-b", stale_after=30.0))
    clock.now += 25.0
    taker = run(store.acquire("s", "owner-b", stale_after=30.0))
    assert taker.epoch == holder.epoch + 1


def test_an_invalid_snapshot_is_refused_naming_the_session(store: ScriptedStore) -> None:
    """Kills SessionLease.save mutant 2 and codec.serialize mutant 1."""
    lease = run(store.acquire("s", "owner-a"))
    bad = make_snapshot(1).model_copy(update={"state": {"x": float("nan")}})
    with pytest.raises(InvalidSnapshot) as caught:
        run(lease.save(bad))
    assert caught.value.session_id == "s"


def test_contention_backoff_is_full_jitter_doubling_to_200_ms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Kills contract.contention_backoff mutants (its bounds)."""
    bounds: list[tuple[float, float]] = []
    slept: list[float] = []

    def uniform(low: float, high: float) -> float:
        bounds.append((low, high))
        return high

    async def sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr(random, "uniform", uniform)
    monkeypatch.setattr(asyncio, "sleep", sleep)
    for attempt in (0, 1, 5, 7, 30):
        run(contract_module.contention_backoff(attempt))
    assert bounds == [(0, 0.002), (0, 0.004), (0, 0.064), (0, 0.2), (0, 0.2)]
    assert slept == [0.002, 0.004, 0.064, 0.2, 0.2]


# ------------------------------------------------------------------ bodies other programs wrote
# codec._meta_by_full_parse, codec.encode, ANY_VERSION


def _reordered(body: bytes) -> bytes:
    """The body as a program that moves our field last would store it."""
    fields = json.loads(body)
    meta = fields.pop("_sessionstore")
    return json.dumps({**fields, "_sessionstore": meta}).encode()


def test_metadata_moved_to_the_end_of_the_body_is_still_ours(store: ScriptedStore) -> None:
    """Kills codec._meta_by_full_parse mutants (metadata found by a full parse)."""
    lease = run(store.acquire("s", "owner-a"))
    run(lease.save(make_snapshot(1)))
    stored = run(store._read("s"))
    assert stored is not None
    run(MemoryPersistence._write(store, "s", _reordered(stored.body), ANY_VERSION))
    assert run(store.load("s")) == make_snapshot(1)
    with pytest.raises(SessionBusy) as caught:
        run(store.acquire("s", "owner-b"))
    assert (caught.value.owner, caught.value.epoch) == ("owner-a", 1)
    claim = run(store.acquire("c", "owner-a"))
    assert claim.epoch == 1
    claimed = run(store._read("c"))
    assert claimed is not None
    run(MemoryPersistence._write(store, "c", _reordered(claimed.body), ANY_VERSION))
    assert run(store.load("c")) is None
    run(store.delete("c", expected_version=None))  # a claim reads as absent


def test_unreadable_metadata_moved_to_the_end_is_corrupt(store: ScriptedStore) -> None:
    """Kills codec._meta_by_full_parse mutants (the CorruptSnapshot of bad metadata)."""
    run(store.save("s", make_snapshot(1)))
    stored = run(store._read("s"))
    assert stored is not None
    fields = json.loads(stored.body)
    fields.pop("_sessionstore")
    body = json.dumps({**fields, "_sessionstore": {"v": 99}}).encode()
    run(MemoryPersistence._write(store, "s", body, ANY_VERSION))
    with pytest.raises(CorruptSnapshot) as caught:
        run(store.load("s"))
    assert caught.value.session_id == "s"
    assert "unreadable _sessionstore field" in str(caught.value)


def test_our_field_name_inside_a_value_is_not_metadata(store: ScriptedStore) -> None:
    """Kills codec._meta_by_full_parse mutants (only a top-level field is ours)."""
    snapshot = make_snapshot(1).model_copy(update={"state": {"_sessionstore": {"v": 1}}})
    body = codec.serialize("s", snapshot)
    run(MemoryPersistence._write(store, "s", body, ANY_VERSION))
    assert run(store.load("s")) == snapshot
    run(store.acquire("s", "owner-a"))
    body = b'{"_sessionstore" "not json'
    run(MemoryPersistence._write(store, "t", body, ANY_VERSION))
    with pytest.raises(CorruptSnapshot):
        run(store.load("t"))


def test_encode_frames_a_validated_snapshot() -> None:
    """Kills codec.encode mutants."""
    meta = codec.StoreMeta(write_id="w-1", owner="o", epoch=3, held=True)
    body = codec.encode(make_snapshot(1), meta, "s")
    decoded = codec.decode("s", body)
    assert decoded.snapshot == make_snapshot(1)
    assert decoded.meta == meta
    bad = make_snapshot(1).model_copy(update={"state": {"x": float("nan")}})
    with pytest.raises(InvalidSnapshot) as caught:
        codec.encode(bad, meta, "s")
    assert caught.value.session_id == "s"
    with pytest.raises(InvalidSnapshot) as default:
        codec.encode(bad, meta)
    assert default.value.session_id == "-"


def test_any_version_reads_as_its_name() -> None:
    """Kills _AnyVersion.__repr__ mutants."""
    assert repr(ANY_VERSION) == "ANY_VERSION"


def test_blocking_lease_release(store: ScriptedStore) -> None:
    """Kills BlockingSessionLease.release mutant 1."""
    lease = store.blocking.acquire("s", "owner-a")
    lease.save(make_snapshot(1))
    lease.release()
    assert lease.released
    store.blocking.acquire("s", "owner-b")


# ------------------------------------------------------------------ deletes
# contract.SessionPersistence._delete


def test_delete_checks_its_expected_version_argument(store: ScriptedStore) -> None:
    """Kills _delete mutant 1."""
    with pytest.raises(TypeError, match="expected_version must be"):
        run(store.delete("s", expected_version=5))  # type: ignore[arg-type]


def test_expect_absent_delete_of_a_stored_session_is_a_conflict(store: ScriptedStore) -> None:
    """Kills _delete mutants 9-14."""
    run(store.save("s", make_snapshot(1)))
    with pytest.raises(ConflictError) as caught:
        run(store.delete("s", expected_version=None))
    assert caught.value.session_id == "s"
    assert str(caught.value).endswith("expected nothing stored, found something")


def test_a_lost_conditional_delete_that_did_not_apply_is_sent_again(
    store: ScriptedStore,
) -> None:
    """Kills _delete mutants 30, 31, 33 (the one retry of an unapplied delete)."""
    version = run(store.save("s", make_snapshot(1)))
    store.remove_faults = ["unknown-unapplied"]
    run(store.delete("s", expected_version=version))
    assert run(store._read("s")) is None
    version = run(store.save("t", make_snapshot(1)))
    store.remove_faults = ["unknown-unapplied", "unknown-unapplied"]
    with pytest.raises(OutcomeUnknown):
        run(store.delete("t", expected_version=version))
    assert run(store._read("t")) is not None


def test_a_lost_conditional_delete_of_a_gone_session_is_unknown(store: ScriptedStore) -> None:
    """Kills _delete mutant 25 (the error's session)."""
    version = run(store.save("s", make_snapshot(1)))
    store.remove_faults = ["lose-response"]
    with pytest.raises(OutcomeUnknown) as caught:
        run(store.delete("s", expected_version=version))
    assert caught.value.session_id == "s"
    assert "it is gone, but this call may not have deleted it" in str(caught.value)


# ------------------------------------------------------------------ updates
# contract.SessionPersistence._update, contract._ownership_of


def test_update_takes_one_attempt_and_refuses_none(store: ScriptedStore) -> None:
    """Kills _update mutants 6-10."""
    result = run(store.update("s", lambda _: make_snapshot(1), max_attempts=1))
    assert result.snapshot == make_snapshot(1)
    with pytest.raises(ValueError, match=r"^max_attempts must be at least 1$"):
        run(store.update("s", lambda _: make_snapshot(2), max_attempts=0))


def test_update_refuses_an_invalid_result_naming_the_session(store: ScriptedStore) -> None:
    """Kills _update mutant 27."""
    bad = make_snapshot(1).model_copy(update={"state": {"x": float("nan")}})
    with pytest.raises(InvalidSnapshot) as caught:
        run(store.update("s", lambda _: bad))
    assert caught.value.session_id == "s"


def test_update_backs_off_between_attempts_and_gives_up(
    store: ScriptedStore, backoffs: list[int]
) -> None:
    """Kills _update mutants 50-52 and 64-67."""
    store.write_faults = ["conflict", "conflict"]
    run(store.update("s", lambda _: make_snapshot(1), max_attempts=3))
    assert backoffs == [0, 1]
    backoffs.clear()
    store.write_faults = ["conflict"] * 3
    with pytest.raises(ConflictError) as caught:
        run(store.update("s", lambda _: make_snapshot(2), max_attempts=3))
    assert caught.value.session_id == "s"
    assert str(caught.value).endswith("update gave up after 3 conflicting attempts")
    assert backoffs == [0, 1]


def test_a_keyed_update_whose_response_was_lost_is_found_by_its_key(
    store: ScriptedStore,
) -> None:
    """Kills _update mutants 55-63 (the key looked up after OutcomeUnknown)."""
    store.write_faults = ["land-then-rewrite"]
    result = run(store.update("s", lambda _: make_snapshot(1), idempotency_key="k"))
    assert result.snapshot.state == {"rewritten": True}
    assert result == run(store.load_versioned("s"))
    store.write_faults = ["unknown-unapplied"]
    with pytest.raises(OutcomeUnknown):
        run(store.update("t", lambda _: make_snapshot(1), idempotency_key="k"))


def test_update_keeps_the_holders_last_write_time(store: ScriptedStore) -> None:
    """Kills _ownership_of mutants 8, 12 (an update resetting written_at)."""
    clock = SettableClock()
    store.clock = clock
    holder = run(store.acquire("s", "owner-a"))
    run(holder.save(make_snapshot(1)))
    clock.now += 100.0
    run(store.update("s", lambda _: make_snapshot(2)))
    taker = run(store.acquire("s", "owner-b", stale_after=30.0))
    assert taker.epoch == holder.epoch + 1


# ------------------------------------------------------------------ more of the lease
# ownership.SessionLease: __init__, _ready, _write, _put_unless_superseded


def test_a_lease_knows_the_version_it_replaced(store: ScriptedStore) -> None:
    """Kills SessionLease.__init__ mutant 2."""
    version = run(store.save("s", make_snapshot(0)))
    assert run(store.acquire("s", "owner-a")).previous_version == version


def test_a_pending_lease_write_then_a_delete_fences(store: ScriptedStore) -> None:
    """Kills SessionLease._ready mutants 13, 33 (a pending write, nothing stored)."""
    lease = _lease_with_a_pending_write_that_did_not_land(store)
    run(store.delete("s"))
    with pytest.raises(FencedError):
        run(lease.save(make_snapshot(3)))
    assert lease.fenced


def test_a_pending_write_resolved_by_a_load_is_forgotten(store: ScriptedStore) -> None:
    """Kills SessionLease._ready mutant 35 (a resolved pending write left behind)."""
    lease = _lease_with_a_pending_write_that_did_not_land(store)
    assert run(lease.load()) == make_snapshot(1)
    assert run(lease.load()) == make_snapshot(1)
    run(lease.save(make_snapshot(3)))
    assert run(store.load("s")) == make_snapshot(3)


def test_a_lease_write_refused_before_sending_can_be_retried(store: ScriptedStore) -> None:
    """Kills SessionLease._write mutant 30 (a failed write left pending)."""
    lease = run(store.acquire("s", "owner-a"))
    store.write_faults = ["unavailable"]
    with pytest.raises(BackendUnavailable):
        run(lease.save(make_snapshot(1)))
    assert run(lease.load()) is None
    run(lease.save(make_snapshot(2)))
    assert run(store.load("s")) == make_snapshot(2)


def test_a_lease_write_retries_three_conflicts_while_its_version_holds(
    store: ScriptedStore, backoffs: list[int]
) -> None:
    """Kills SessionLease._put_unless_superseded mutants 2, 3 (how many retries)."""
    lease = run(store.acquire("s", "owner-a"))
    store.write_faults = ["conflict"] * 3
    run(lease.save(make_snapshot(1)))
    assert backoffs == [0, 1, 2]
    store.write_faults = ["conflict"] * 4
    with pytest.raises(FencedError):
        run(lease.save(make_snapshot(2)))
    assert run(store.load("s")) == make_snapshot(1)


# ------------------------------------------------------------------ codec details
# codec.decode, ModelCodec._unserialisable_field, codec._first_error, _meta_by_full_parse


def test_decode_names_the_session_of_a_corrupt_body() -> None:
    """Kills codec.decode mutant 1."""
    with pytest.raises(CorruptSnapshot) as caught:
        codec.decode("s", b"not json")
    assert caught.value.session_id == "s"


class _Opaque:
    """A value pydantic cannot serialise."""


class Ordered(BaseModel):
    low: int
    high: int

    @model_validator(mode="after")
    def _ordered(self) -> Ordered:
        if self.low > self.high:
            raise ValueError("low above high")
        return self


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int


class Inner(BaseModel):
    x: int


class Outer(BaseModel):
    first: str = "a"
    inner: Inner
    extra: object = None


def test_the_unserialisable_field_is_named(store: ScriptedStore) -> None:
    """Kills ModelCodec._unserialisable_field mutants 2, 5 (the first field blamed)."""
    documents = store.documents(Outer)
    bad = Outer.model_construct(first="a", inner=Inner(x=1), extra=_Opaque())
    with pytest.raises(InvalidSnapshot) as caught:
        run(documents.save(["d"], bad))
    assert caught.value.field == "extra"


def test_a_nested_invalid_field_is_named_by_its_path(store: ScriptedStore) -> None:
    """Kills codec._first_error mutant 12."""
    documents = store.documents(Outer)
    bad = Outer.model_construct(first="a", inner=Inner.model_construct(x="not a number"))
    with pytest.raises(InvalidSnapshot) as caught:
        run(documents.save(["d"], bad))
    assert caught.value.field == "inner.x"


def test_a_strict_document_with_moved_metadata_still_reads(store: ScriptedStore) -> None:
    """Kills codec._meta_by_full_parse mutants 14, 15 (the body given without our field)."""
    documents = store.documents(Strict)
    run(documents.save(["d"], Strict(n=1)))
    stored = run(store._read("d"))
    assert stored is not None
    run(MemoryPersistence._write(store, "d", _reordered(stored.body), ANY_VERSION))
    assert run(documents.load(["d"])) == Strict(n=1)


def test_an_invalid_whole_value_is_named_as_such(store: ScriptedStore) -> None:
    """Kills codec._first_error mutants 16, 17 (an error with no field location)."""
    documents = store.documents(Ordered)
    with pytest.raises(InvalidSnapshot) as caught:
        run(documents.save(["d"], Ordered.model_construct(low=2, high=1)))
    assert caught.value.field == "snapshot"
