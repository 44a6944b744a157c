"""Contract clauses for ownership: leases, fencing and handoff (every backend)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from sessionstore.errors import ConflictError, FencedError, SessionBusy
from sessionstore.testing.snapshots import make_snapshot

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from sessionstore.contract import SessionPersistence

T = TypeVar("T")

__all__ = ["LeaseContract"]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _listed(store: SessionPersistence) -> list[str]:
    return [session_id async for session_id in store.list_sessions()]


class SettableClock:
    """A wall clock the test moves by hand, so no test sleeps."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class LeaseContract:
    """Mixed into :class:`SessionPersistenceContract`; uses its ``store`` fixture."""

    def test_acquiring_a_missing_session_leaves_a_claim_that_reads_as_absent(
        self, store: SessionPersistence
    ) -> None:
        lease = run(store.acquire("new", "region-a/1"))
        assert lease.epoch == 1
        assert lease.previous_version is None
        assert run(store.load("new")) is None
        assert run(store.load_versioned("new")) is None
        with pytest.raises(SessionBusy):
            run(store.acquire("new", "region-b/1"))
        # A claim reads as absent, so "expect absent" holds and create-only succeeds
        # (and, being a write, fences the claimant).
        run(store.delete("new", expected_version=None))
        run(store.save("new", make_snapshot(1, writer="creator"), expected_version=None))
        with pytest.raises(FencedError):
            run(lease.save(make_snapshot(2, writer="a")))
        assert run(store.load("new")) == make_snapshot(1, writer="creator")

    def test_releasing_an_unsaved_claim_leaves_nothing(self, store: SessionPersistence) -> None:
        lease = run(store.acquire("new", "region-a/1"))
        run(lease.release())
        assert run(store._read("new")) is None
        assert list(run(_listed(store))) == []

    def test_a_fenced_lease_never_writes_again_even_after_delete_and_recreate(
        self, store: SessionPersistence
    ) -> None:
        # The outside review's case: a lease on a missing session, fenced, the
        # session deleted: the old lease must not resurrect it.
        first = run(store.acquire("new", "region-a/1"))
        second = run(store.acquire("new", "region-b/1", force=True))
        run(second.save(make_snapshot(1, writer="b")))
        with pytest.raises(FencedError):
            run(first.save(make_snapshot(1, writer="a")))
        run(store.delete("new"))
        with pytest.raises(FencedError):
            run(first.save(make_snapshot(2, writer="a")))
        with pytest.raises(FencedError):
            run(second.save(make_snapshot(2, writer="b")))
        assert run(store._read("new")) is None
        run(store.save("new", make_snapshot(3, writer="c")))
        for lease in (first, second):
            with pytest.raises(FencedError):
                run(lease.save(make_snapshot(4, writer="zombie")))
            with pytest.raises(FencedError):
                run(lease.release())
        assert run(store.load("new")) == make_snapshot(3, writer="c")

    def test_a_lease_that_never_saw_the_delete_is_fenced_by_it(
        self, store: SessionPersistence
    ) -> None:
        lease = run(store.acquire("new", "region-a/1"))
        run(store.delete("new"))
        with pytest.raises(FencedError):
            run(lease.save(make_snapshot(1, writer="a")))
        assert run(store._read("new")) is None

    @pytest.mark.parametrize("present", [False, True])
    def test_of_many_owners_at_most_one_lease_can_ever_write(
        self, store: SessionPersistence, present: bool
    ) -> None:
        if present:
            run(store.save("call", make_snapshot(0)))

        async def race() -> list[Any]:
            async def take(number: int) -> Any:
                try:
                    return await store.acquire("call", f"owner-{number}", force=True)
                except ConflictError:
                    return None  # gave up racing: holds nothing

            leases = list(await asyncio.gather(*(take(n) for n in range(8))))
            held = [lease for lease in leases if lease is not None]

            async def write(lease: Any, turn: int) -> bool:
                try:
                    await lease.save(make_snapshot(turn, writer=lease.owner))
                except FencedError:
                    return False
                return True

            first = await asyncio.gather(*(write(lease, 1) for lease in held))
            # ...and ever: after a delete, a re-create and another round, still one.
            await store.delete("call")
            await store.save("call", make_snapshot(7, writer="outsider"))
            again = await asyncio.gather(*(write(lease, 2) for lease in held))
            return [sum(first), sum(again)]

        first_round, after_delete = run(race())
        assert first_round == 1
        assert after_delete == 0
        assert run(store.load("call")) == make_snapshot(7, writer="outsider")

    def test_release_keeps_the_last_saved_body_not_the_callers_object(
        self, store: SessionPersistence
    ) -> None:
        lease = run(store.acquire("call", "region-a/1"))
        snapshot = make_snapshot(1, writer="a")
        run(lease.save(snapshot))
        snapshot.state["half-applied"] = True  # mutated after save returned
        snapshot.turn_count = 2
        run(lease.release())
        assert run(store.load("call")) == make_snapshot(1, writer="a")

    def test_leaving_the_block_on_an_error_writes_nothing_unsaved(
        self, store: SessionPersistence
    ) -> None:
        async def turn() -> None:
            async with await store.acquire("call", "region-a/1") as lease:
                snapshot = make_snapshot(1, writer="a")
                await lease.save(snapshot)
                snapshot.state["half-applied"] = True
                snapshot.turn_count = 99
                raise RuntimeError("the turn failed half-way")

        with pytest.raises(RuntimeError):
            run(turn())
        assert run(store.load("call")) == make_snapshot(1, writer="a")
        run(store.acquire("call", "region-b/1"))  # released: free without force

    def test_release_after_acquire_keeps_exactly_the_body_read(
        self, store: SessionPersistence
    ) -> None:
        run(store.save("call", make_snapshot(5, writer="x")))
        lease = run(store.acquire("call", "region-a/1"))
        loaded = run(lease.load())
        assert loaded is not None
        loaded.state["mutated"] = True
        run(lease.release())
        assert run(store.load("call")) == make_snapshot(5, writer="x")

    def test_two_owners_racing_for_a_new_session_only_one_can_save(
        self, store: SessionPersistence
    ) -> None:
        first = run(store.acquire("new", "region-a/1"))
        with pytest.raises(SessionBusy):  # the claim is held, as a saved session would be
            run(store.acquire("new", "region-b/1"))
        second = run(store.acquire("new", "region-b/1", force=True))
        assert second.epoch == first.epoch + 1
        with pytest.raises(FencedError):
            run(first.save(make_snapshot(1, writer="a")))
        run(second.save(make_snapshot(1, writer="b")))
        assert run(store.load("new")) == make_snapshot(1, writer="b")

    def test_cooperative_handoff_sees_the_last_snapshot(self, store: SessionPersistence) -> None:
        run(store.save("call", make_snapshot(0)))
        region_a = run(store.acquire("call", "region-a/1"))
        run(region_a.save(make_snapshot(1, writer="a")))
        run(region_a.save(make_snapshot(2, writer="a")))
        run(region_a.release())
        region_b = run(store.acquire("call", "region-b/7"))
        assert region_b.epoch > region_a.epoch
        assert run(region_b.load()) == make_snapshot(2, writer="a")
        run(region_b.save(make_snapshot(3, writer="b")))
        assert run(store.load("call")) == make_snapshot(3, writer="b")

    def test_held_session_is_busy_without_force(self, store: SessionPersistence) -> None:
        run(store.save("call", make_snapshot(0)))
        holder = run(store.acquire("call", "region-a/1"))
        before = run(store.load_versioned("call"))
        with pytest.raises(SessionBusy) as caught:
            run(store.acquire("call", "region-b/1"))
        assert caught.value.owner == "region-a/1"
        assert caught.value.epoch == holder.epoch
        assert run(store.load_versioned("call")) == before

    def test_forced_takeover_fences_the_old_owner(self, store: SessionPersistence) -> None:
        run(store.save("call", make_snapshot(0)))
        zombie = run(store.acquire("call", "region-a/1"))
        run(zombie.save(make_snapshot(1, writer="a")))
        new_owner = run(store.acquire("call", "region-b/1", force=True))
        run(new_owner.save(make_snapshot(2, writer="b")))
        after_takeover = run(store.load_versioned("call"))
        with pytest.raises(FencedError):
            run(zombie.save(make_snapshot(99, writer="a")))
        with pytest.raises(FencedError):
            run(zombie.release())
        with pytest.raises(FencedError):
            run(zombie.load())
        assert run(store.load_versioned("call")) == after_takeover

    def test_stale_after_uses_the_stores_clock(self, store: SessionPersistence) -> None:
        clock = SettableClock()
        store.clock = clock
        run(store.save("call", make_snapshot(0)))
        holder = run(store.acquire("call", "region-a/1"))
        clock.now += 29.0
        with pytest.raises(SessionBusy):
            run(store.acquire("call", "region-b/1", stale_after=30.0))
        clock.now += 1.0
        taker = run(store.acquire("call", "region-b/1", stale_after=30.0))
        assert taker.epoch == holder.epoch + 1
        with pytest.raises(FencedError):
            run(holder.save(make_snapshot(5)))

    def test_a_lease_save_counts_as_activity_for_stale_after(
        self, store: SessionPersistence
    ) -> None:
        clock = SettableClock()
        store.clock = clock
        holder = run(store.acquire("call", "region-a/1"))
        run(holder.save(make_snapshot(1)))
        clock.now += 25.0
        run(holder.save(make_snapshot(2)))
        clock.now += 25.0
        with pytest.raises(SessionBusy):
            run(store.acquire("call", "region-b/1", stale_after=30.0))

    def test_epochs_strictly_increase(self, store: SessionPersistence) -> None:
        run(store.save("call", make_snapshot(0)))
        epochs = []
        for number in range(5):
            lease = run(store.acquire("call", f"owner-{number}", force=True))
            epochs.append(lease.epoch)
        assert epochs == sorted(set(epochs))
        assert len(epochs) == 5

    def test_unconditional_save_clears_ownership_and_fences(
        self, store: SessionPersistence
    ) -> None:
        holder = run(store.acquire("call", "region-a/1"))
        run(holder.save(make_snapshot(1)))
        run(store.save("call", make_snapshot(2, writer="outsider")))
        with pytest.raises(FencedError):
            run(holder.save(make_snapshot(3)))
        # Ownership was cleared, so another owner needs no force.
        run(store.acquire("call", "region-b/1"))

    def test_update_keeps_owner_and_epoch_but_fences_the_holder(
        self, store: SessionPersistence
    ) -> None:
        holder = run(store.acquire("call", "region-a/1"))
        run(holder.save(make_snapshot(1)))
        run(store.update("call", lambda s: make_snapshot(2, writer="outsider")))
        with pytest.raises(FencedError):
            run(holder.save(make_snapshot(3)))
        with pytest.raises(SessionBusy) as caught:
            run(store.acquire("call", "region-b/1"))
        assert caught.value.owner == "region-a/1"
        assert caught.value.epoch == holder.epoch
        assert run(store.load("call")) == make_snapshot(2, writer="outsider")

    def test_lease_context_manager_releases_on_exit(self, store: SessionPersistence) -> None:
        async def serve() -> int:
            async with await store.acquire("call", "region-a/1") as lease:
                await lease.save(make_snapshot(1))
                return lease.epoch

        epoch = run(serve())
        successor = run(store.acquire("call", "region-b/1"))
        assert successor.epoch == epoch + 1

    def test_lease_metadata_rides_in_the_one_extra_field(self, store: SessionPersistence) -> None:
        lease = run(store.acquire("call", "europe-west1/instance-42"))
        run(lease.save(make_snapshot(1)))
        stored = run(store._read("call"))
        assert stored is not None
        body = json.loads(stored.body)
        assert body["_sessionstore"]["owner"] == "europe-west1/instance-42"
        assert body["_sessionstore"]["epoch"] == 1
        assert body["_sessionstore"]["held"] is True
        assert len(body) == 7

    def test_blocking_lease(self, store: SessionPersistence) -> None:
        with store.blocking.acquire("call", "script") as lease:
            lease.save(make_snapshot(1))
            assert lease.load() == make_snapshot(1)
        taker = store.blocking.acquire("call", "other")
        assert taker.epoch == 2
