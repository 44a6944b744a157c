"""Contract clauses for exactly-once turns: idempotency keys (every backend)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from sessionstore.errors import ConflictError, InvalidIdempotencyKey
from sessionstore.model import SessionSnapshot
from sessionstore.testing.snapshots import make_snapshot

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from sessionstore.contract import SessionPersistence

T = TypeVar("T")

__all__ = ["ExactlyOnceContract", "increment"]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def increment(current: SessionSnapshot | None) -> SessionSnapshot:
    """One turn: the counter every exactly-once clause counts with."""
    if current is None:
        return SessionSnapshot(phase="counting", turn_count=1)
    return current.model_copy(update={"turn_count": current.turn_count + 1})


class ExactlyOnceContract:
    """Mixed into :class:`SessionPersistenceContract`; uses its ``store`` fixture."""

    def test_a_keyed_update_retried_is_applied_once(self, store: SessionPersistence) -> None:
        calls: list[int] = []

        def counted(current: SessionSnapshot | None) -> SessionSnapshot:
            calls.append(1)
            return increment(current)

        first = run(store.update("s-1", counted, idempotency_key="turn-1"))
        stored_before = run(store._read("s-1"))
        again = run(store.update("s-1", counted, idempotency_key="turn-1"))
        assert calls == [1], "fn must not run for a key already applied"
        assert again == first
        assert run(store._read("s-1")) == stored_before, "a repeated key writes nothing"
        run(store.update("s-1", counted, idempotency_key="turn-2"))
        final = run(store.load("s-1"))
        assert final is not None
        assert final.turn_count == 2

    def test_a_keyed_save_retried_writes_nothing(self, store: SessionPersistence) -> None:
        version = run(store.save("s-1", make_snapshot(1), idempotency_key="msg-1"))
        stored_before = run(store._read("s-1"))
        assert run(store.save("s-1", make_snapshot(99), idempotency_key="msg-1")) == version
        assert run(store._read("s-1")) == stored_before
        assert run(store.load("s-1")) == make_snapshot(1)

    def test_an_applied_key_wins_over_a_moved_expected_version(
        self, store: SessionPersistence
    ) -> None:
        base = run(store.save("s-1", make_snapshot(0)))
        applied = run(
            store.save("s-1", make_snapshot(1), expected_version=base, idempotency_key="k")
        )
        # The retry still carries the old expected version; the key says it applied.
        assert (
            run(store.save("s-1", make_snapshot(1), expected_version=base, idempotency_key="k"))
            == applied
        )
        with pytest.raises(ConflictError):
            run(store.save("s-1", make_snapshot(2), expected_version=base, idempotency_key="k2"))
        assert run(store.load("s-1")) == make_snapshot(1)

    def test_create_only_with_a_key(self, store: SessionPersistence) -> None:
        version = run(
            store.save("s-1", make_snapshot(1), expected_version=None, idempotency_key="c")
        )
        assert (
            run(store.save("s-1", make_snapshot(1), expected_version=None, idempotency_key="c"))
            == version
        )
        with pytest.raises(ConflictError):
            run(store.save("s-1", make_snapshot(2), expected_version=None, idempotency_key="d"))

    def test_keys_are_remembered_across_writes_for_a_window_of_32(
        self, store: SessionPersistence
    ) -> None:
        for number in range(40):
            run(store.update("s-1", increment, idempotency_key=f"turn-{number}"))
        for number in range(8, 40):  # the newest 32 are remembered
            run(store.update("s-1", increment, idempotency_key=f"turn-{number}"))
        final = run(store.load("s-1"))
        assert final is not None
        assert final.turn_count == 40
        # Beyond the window a key is forgotten: applying it again applies it again.
        run(store.update("s-1", increment, idempotency_key="turn-0"))
        final = run(store.load("s-1"))
        assert final is not None
        assert final.turn_count == 41

    def test_an_unkeyed_blind_save_forgets_the_keys(self, store: SessionPersistence) -> None:
        run(store.update("s-1", increment, idempotency_key="turn-1"))
        run(store.save("s-1", SessionSnapshot(phase="counting", turn_count=10)))
        run(store.update("s-1", increment, idempotency_key="turn-1"))
        final = run(store.load("s-1"))
        assert final is not None
        assert final.turn_count == 11

    def test_a_lease_save_with_a_key_is_applied_once(self, store: SessionPersistence) -> None:
        lease = run(store.acquire("s-1", "owner"))
        version = run(lease.save(make_snapshot(1), idempotency_key="turn-1"))
        stored_before = run(store._read("s-1"))
        assert run(lease.save(make_snapshot(1), idempotency_key="turn-1")) == version
        assert run(store._read("s-1")) == stored_before
        # Keys survive the lease's release and the next owner's acquire.
        run(lease.release())
        successor = run(store.acquire("s-1", "next-owner"))
        run(successor.save(make_snapshot(1), idempotency_key="turn-1"))
        assert run(store.update("s-1", increment, idempotency_key="turn-1")).snapshot == (
            make_snapshot(1)
        )

    @pytest.mark.parametrize("key", ["", "k" * 129, "a b", "ü", "a/b", 7, b"bytes"])
    def test_a_bad_key_is_refused_before_any_io(self, store: SessionPersistence, key: Any) -> None:
        with pytest.raises(InvalidIdempotencyKey):
            run(store.save("s-1", make_snapshot(1), idempotency_key=key))
        with pytest.raises(InvalidIdempotencyKey):
            run(store.update("s-1", increment, idempotency_key=key))
        assert run(store._read("s-1")) is None

    def test_concurrent_calls_with_one_key_apply_it_once(self, store: SessionPersistence) -> None:
        async def race() -> list[Any]:
            return list(
                await asyncio.gather(
                    *(
                        store.update("s-1", increment, idempotency_key="turn-1", max_attempts=100)
                        for _ in range(8)
                    )
                )
            )

        results = run(race())
        final = run(store.load_versioned("s-1"))
        assert final is not None
        assert final.snapshot.turn_count == 1
        assert {result.version for result in results} == {final.version}
