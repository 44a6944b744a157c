"""SnapshotWriter on the memory store: coalescing, one in flight, rate, errors, flush, memory.

A gated store (its ``save`` waits on an event the test opens) makes "a save is in
flight" a fact the test controls; the manual clock makes the rate exact.
"""

from __future__ import annotations

import asyncio
import itertools
import tracemalloc
from typing import TYPE_CHECKING

import pytest

from sessionstore import (
    ANY_VERSION,
    FencedError,
    MemoryPersistence,
    OutcomeUnknown,
    SessionSnapshot,
)
from sessionstore.testing import make_snapshot
from sessionstore.writer import SnapshotWriter
from support.manual_clock import ManualClock

if TYPE_CHECKING:
    from sessionstore.contract import ExpectedVersion

SESSION = "call-1"


class GatedStore(MemoryPersistence):
    """Every save waits for ``gate``; records what it saved and the peak concurrency."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.started = asyncio.Event()
        self.saved: list[int] = []
        self.in_flight = 0
        self.peak = 0
        self.fail_with: Exception | None = None

    async def save(
        self,
        session_id: str,
        snapshot: SessionSnapshot,
        *,
        expected_version: ExpectedVersion = ANY_VERSION,
    ) -> str:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.started.set()
        try:
            await self.gate.wait()
            if self.fail_with is not None:
                raise self.fail_with
            version = await super().save(session_id, snapshot, expected_version=expected_version)
            self.saved.append(snapshot.turn_count)
            return version
        finally:
            self.in_flight -= 1


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_coalesces_to_the_newest_with_one_save_in_flight() -> None:
    async def scenario() -> None:
        store = GatedStore()
        store.gate.clear()
        async with SnapshotWriter(store, SESSION, min_interval=0) as writer:
            writer.submit(make_snapshot(1))
            await store.started.wait()  # save of turn 1 is in flight, held at the gate
            for turn in range(2, 40):
                writer.submit(make_snapshot(turn))
            assert store.in_flight == 1
            store.gate.set()
            await writer.flush()
            assert store.saved == [1, 39]  # 2..38 coalesced away
            assert store.peak == 1
            assert writer.writes == 2
            assert writer.durable
        stored = await store.load(SESSION)
        assert stored == make_snapshot(39)

    run(scenario())


def test_never_writes_more_often_than_min_interval() -> None:
    async def scenario() -> None:
        clock = ManualClock()
        store = GatedStore()
        starts: list[float] = []
        original = store.save

        async def timed_save(session_id: str, snapshot: SessionSnapshot, **kw: object) -> str:
            starts.append(clock())
            return await original(session_id, snapshot)

        store.save = timed_save  # type: ignore[method-assign]
        writer = SnapshotWriter(store, SESSION, min_interval=1.0, clock=clock, sleep=clock.sleep)
        writer.submit(make_snapshot(1))
        await writer.flush()  # the first write is immediate
        for turn in range(2, 12):
            writer.submit(make_snapshot(turn))
            clock.advance(0.25)
            await asyncio.sleep(0)  # let the writer run between submits, as a live loop would
        flushed = asyncio.ensure_future(writer.flush())
        while not flushed.done():
            sleeping = asyncio.ensure_future(clock.until_sleeping())
            await asyncio.wait([flushed, sleeping], return_when=asyncio.FIRST_COMPLETED)
            sleeping.cancel()
            clock.advance(0.25)
        await flushed
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert gaps, starts
        assert all(gap >= 1.0 for gap in gaps), gaps
        assert store.saved[-1] == 11
        assert writer.writes == len(starts) <= 4  # 10 submits over 2.5 s
        await writer.aclose()

    run(scenario())


@pytest.mark.parametrize(
    "error", [FencedError(SESSION, "superseded"), OutcomeUnknown(SESSION, "lost response")]
)
@pytest.mark.parametrize("next_call", ["submit", "flush", "aclose"])
def test_a_failed_save_stops_the_writer_and_the_next_call_raises_it(
    error: Exception, next_call: str
) -> None:
    async def scenario() -> None:
        store = GatedStore()
        store.fail_with = error
        seen: list[BaseException] = []
        writer = SnapshotWriter(store, SESSION, min_interval=0, on_error=seen.append)
        writer.submit(make_snapshot(1))
        task = writer._task
        assert task is not None
        await task  # the writer stops by itself: its task ends
        assert seen == [error]
        assert writer.error is error
        with pytest.raises(type(error)) as caught:  # noqa: PT012  # one call, chosen by param
            if next_call == "submit":
                writer.submit(make_snapshot(2))
            elif next_call == "flush":
                await writer.flush()
            else:
                await writer.aclose()
        assert caught.value is error
        # Sticky: it never goes back to writing.
        with pytest.raises(type(error)):
            writer.submit(make_snapshot(3))
        assert await store.load(SESSION) is None

    run(scenario())


def test_error_during_flush_reaches_the_flushing_caller() -> None:
    async def scenario() -> None:
        store = GatedStore()
        store.gate.clear()
        writer = SnapshotWriter(store, SESSION, min_interval=0)
        writer.submit(make_snapshot(1))
        await store.started.wait()
        flushing = asyncio.ensure_future(writer.flush())
        await asyncio.sleep(0)
        assert not flushing.done()
        store.fail_with = FencedError(SESSION, "taken over")
        store.gate.set()
        with pytest.raises(FencedError):
            await flushing

    run(scenario())


def test_flush_waits_only_for_what_was_submitted_before_it() -> None:
    async def scenario() -> None:
        store = GatedStore()
        writer = SnapshotWriter(store, SESSION, min_interval=0)
        await writer.flush()  # nothing submitted: returns at once
        writer.submit(make_snapshot(1))
        store.gate.clear()
        flushing = asyncio.ensure_future(writer.flush())
        await store.started.wait()
        assert not flushing.done()  # turn 1 is in flight, not durable yet
        store.gate.set()
        await flushing
        assert store.saved == [1]
        assert (await store.load(SESSION)) == make_snapshot(1)
        await writer.aclose()
        with pytest.raises(RuntimeError, match="closed"):
            writer.submit(make_snapshot(2))

    run(scenario())


def test_aclose_and_async_with_flush() -> None:
    async def scenario() -> None:
        clock = ManualClock()
        store = GatedStore()
        writer = SnapshotWriter(store, SESSION, min_interval=5.0, clock=clock, sleep=clock.sleep)
        writer.submit(make_snapshot(1))
        await writer.flush()
        writer.submit(make_snapshot(2))  # must wait 5 s (manual) before it is written
        closing = asyncio.ensure_future(writer.aclose())
        await clock.until_sleeping()
        assert not closing.done()
        clock.advance(5.0)
        await closing
        assert store.saved == [1, 2]

    run(scenario())


def test_caller_mutation_after_submit_is_not_stored() -> None:
    async def scenario() -> None:
        store = GatedStore()
        snapshot = SessionSnapshot(phase="greeting", state={"cart": {"items": [1, 2]}})
        async with SnapshotWriter(store, SESSION, min_interval=0) as writer:
            writer.submit(snapshot)
            cart = snapshot.state["cart"]
            assert isinstance(cart, dict)
            items = cart["items"]
            assert isinstance(items, list)
            items.append(3)
            snapshot.state["intruder"] = True
            snapshot.phase = "mutated"
        stored = await store.load(SESSION)
        assert stored is not None
        assert stored.state == {"cart": {"items": [1, 2]}}
        assert stored.phase == "greeting"

    run(scenario())


def test_memory_is_bounded_whatever_the_submit_rate() -> None:
    async def scenario() -> None:
        store = GatedStore()
        store.gate.clear()
        writer = SnapshotWriter(store, SESSION, min_interval=0)
        writer.submit(make_snapshot(0, padding=1000))
        await store.started.wait()  # one save held in flight: nothing drains
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for turn in range(1, 2001):
                writer.submit(make_snapshot(turn, padding=20_000))  # ~20 KB each, 40 MB total
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert grown < 1_000_000, grown  # one pending snapshot, not 2000
        store.gate.set()
        await writer.aclose()
        assert store.saved == [0, 2000]

    run(scenario())


def test_lease_writes_are_fenced_after_a_takeover() -> None:
    async def scenario() -> None:
        store = MemoryPersistence()
        lease = await store.acquire(SESSION, "region-a")
        writer = SnapshotWriter(store, SESSION, lease=lease, min_interval=0)
        writer.submit(make_snapshot(1))
        await writer.flush()
        await store.acquire(SESSION, "region-b", force=True)
        writer.submit(make_snapshot(2))
        with pytest.raises(FencedError):
            await writer.flush()
        stored = await store.load(SESSION)
        assert stored == make_snapshot(1)

    run(scenario())


def test_constructor_checks() -> None:
    store = MemoryPersistence()
    with pytest.raises(ValueError, match="min_interval"):
        SnapshotWriter(store, SESSION, min_interval=-1)
    lease = asyncio.run(store.acquire("other", "me"))
    with pytest.raises(ValueError, match="lease"):
        SnapshotWriter(store, SESSION, lease=lease)
