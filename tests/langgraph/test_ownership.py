"""Write ownership (opt-in fenced leases) and forks without it.

With a lease: two real processes run one thread; after the second takes it over, the
first one's ``put`` raises FencedError, leaves no checkpoint behind, and the chain stays
linear. Without one: concurrent writers fork the thread, and every branch stays readable.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6

from sessionstore import FencedError, SessionBusy, open_store
from sessionstore.adapters.langgraph import SessionStoreSaver, head_session_id

if TYPE_CHECKING:
    from collections.abc import Iterator

    from langchain_core.runnables import RunnableConfig

    from sessionstore.adapters.s3 import S3Persistence
    from sessionstore.contract import SessionPersistence

WORKER = Path(__file__).with_name("thread_worker.py")
TESTS_DIR = WORKER.parent.parent


class Runner:
    """One ``thread_worker.py`` process, answering one line per command."""

    def __init__(self, url: str, thread_id: str, owner: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(TESTS_DIR)}
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), url, thread_id, owner],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
        )

    def ask(self, command: str) -> str:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        assert answer, f"runner died: {self.process.stderr.read() if self.process.stderr else ''}"
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("exit\n")
        self.process.stdin.flush()
        _, err = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, err


def config(thread_id: str, checkpoint_id: str | None = None) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def chain(saver: SessionStoreSaver, thread_id: str) -> list[tuple[str, str | None]]:
    """(checkpoint id, parent id) of every checkpoint of the thread, newest first."""
    return [
        (
            item.config["configurable"]["checkpoint_id"],
            item.parent_config["configurable"]["checkpoint_id"] if item.parent_config else None,
        )
        for item in saver.list(config(thread_id))
    ]


def test_takeover_fences_the_old_runner(store_url: str) -> None:
    url = store_url
    thread = "thread|with space"  # thread ids are free text
    first = Runner(url, thread, "worker-a")
    second = Runner(url, thread, "worker-b")
    try:
        assert first.ask("acquire") == "acquired 1"
        a1 = first.ask("put 1").removeprefix("put ")
        a2 = first.ask("put 2").removeprefix("put ")
        assert second.ask("acquire-force") == "acquired 2"  # the takeover
        b3 = second.ask("put 3").removeprefix("put ")
        assert first.ask("put 3") == "fenced"  # the old runner's late put
        assert first.ask("put 4") == "fenced"  # and it stays fenced
        b4 = second.ask("put 4").removeprefix("put ")
    finally:
        first.close()
        second.close()

    saver = SessionStoreSaver.from_url(url)
    try:
        assert chain(saver, thread) == [(b4, b3), (b3, a2), (a2, a1), (a1, None)]
        latest = saver.get_tuple(config(thread))
        assert latest is not None
        assert latest.config["configurable"]["checkpoint_id"] == b4
    finally:
        saver.close()


# ------------------------------------------------------------------ in one process


def checkpoint(step: int) -> Any:
    new = empty_checkpoint()
    new["id"] = str(uuid6(clock_seq=-1))
    new["channel_values"] = {"step": step}
    new["channel_versions"] = {"step": step}
    return new


async def put(saver: SessionStoreSaver, parent: RunnableConfig, step: int) -> str:
    stored = await saver.aput(parent, checkpoint(step), {"source": "loop", "step": step}, {})
    return str(stored["configurable"]["checkpoint_id"])


async def stored_checkpoints(store: SessionPersistence, thread_id: str) -> int:
    saver = SessionStoreSaver(store)
    return len([item async for item in saver.alist(config(thread_id))])


@pytest.fixture(params=["memory", "file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionPersistence]:
    if request.param == "s3":
        s3_store: S3Persistence = request.getfixturevalue("s3_store")
        yield s3_store
        return
    opened = open_store("memory://" if request.param == "memory" else f"file://{tmp_path}")
    yield opened
    asyncio.run(opened.aclose())


def test_fenced_put_leaves_nothing_behind(store: SessionPersistence) -> None:
    async def scenario() -> None:
        old, new = SessionStoreSaver(store), SessionStoreSaver(store)
        lease = await old.aacquire("t", "old")
        first = await put(old, config("t"), 1)
        with pytest.raises(SessionBusy):
            await new.aacquire("t", "new")  # held, and no force
        await new.aacquire("t", "new", force=True)
        with pytest.raises(FencedError):
            await put(old, config("t", first), 2)
        assert lease.fenced
        assert await stored_checkpoints(store, "t") == 1  # the fenced checkpoint was taken back
        second = await put(new, config("t", first), 2)
        latest = await new.aget_tuple(config("t"))
        assert latest is not None
        assert latest.config["configurable"]["checkpoint_id"] == second
        with pytest.raises(FencedError):  # refused before any write once known fenced
            await put(old, config("t", second), 3)
        async with lease:  # leaving the lease's block does not make the old saver unowned
            pass
        with pytest.raises(FencedError):
            await put(old, config("t", second), 3)
        assert await stored_checkpoints(store, "t") == 2

    asyncio.run(scenario())


def test_released_lease_frees_the_thread_and_stops_fencing_puts(store: SessionPersistence) -> None:
    async def scenario() -> None:
        saver = SessionStoreSaver(store)
        async with await saver.aacquire("t", "one") as lease:
            first = await put(saver, config("t"), 1)
            assert lease.epoch == 1
        assert lease.released
        other = SessionStoreSaver(store)
        async with await other.aacquire("t", "two") as second_lease:  # no force needed
            assert second_lease.epoch == 2
            second = await put(other, config("t", first), 2)
        await put(saver, config("t", second), 3)  # without a lease: an ordinary CAS writer
        assert await stored_checkpoints(store, "t") == 3

    asyncio.run(scenario())


def test_a_write_without_the_lease_fences_the_holder(store: SessionPersistence) -> None:
    """Ownership is opt-in: an unleased saver may still write, and that supersedes the
    holder (as any sessionstore write does), so the holder cannot silently fork it."""

    async def scenario() -> None:
        holder, outsider = SessionStoreSaver(store), SessionStoreSaver(store)
        await holder.aacquire("t", "holder")
        first = await put(holder, config("t"), 1)
        await put(outsider, config("t", first), 2)
        with pytest.raises(FencedError):
            await put(holder, config("t", first), 3)
        assert await stored_checkpoints(store, "t") == 2

    asyncio.run(scenario())


def test_two_writers_without_ownership_fork_and_both_branches_read(
    store: SessionPersistence,
) -> None:
    async def scenario() -> None:
        one, two = SessionStoreSaver(store), SessionStoreSaver(store)
        root = await put(one, config("t"), 0)
        assert await two.aget_tuple(config("t")) is not None  # both know the same head
        older, newer = checkpoint(1), checkpoint(1)  # ids increase: older < newer
        assert older["id"] < newer["id"]
        await one.aput(config("t", root), newer, {"step": 1}, {})
        # The other writer, on a stale head, stores a fork with a smaller id: its head
        # update must lose the compare-and-swap, re-read, and leave the newer head.
        await two.aput(config("t", root), older, {"step": 1}, {})
        for reader in (one, two, SessionStoreSaver(store)):
            latest = await reader.aget_tuple(config("t"))
            assert latest is not None
            assert latest.config["configurable"]["checkpoint_id"] == newer["id"]
        for branch in (older["id"], newer["id"]):
            found = await one.aget_tuple(config("t", branch))
            assert found is not None
            assert found.parent_config is not None
            assert found.parent_config["configurable"]["checkpoint_id"] == root
        assert await stored_checkpoints(store, "t") == 3


def test_concurrent_writers_lose_nothing(store: SessionPersistence) -> None:
    async def scenario() -> None:
        savers = [SessionStoreSaver(store) for _ in range(8)]
        root = await put(savers[0], config("t"), 0)
        for saver in savers:
            assert await saver.aget_tuple(config("t")) is not None
        branches = await asyncio.gather(*(put(s, config("t", root), 1) for s in savers))
        listed = [
            item.config["configurable"]["checkpoint_id"]
            async for item in savers[0].alist(config("t"))
        ]
        assert sorted(listed) == sorted([root, *branches])
        latest = await savers[0].aget_tuple(config("t"))
        assert latest is not None
        assert latest.config["configurable"]["checkpoint_id"] == max(branches)

    asyncio.run(scenario())


def test_the_head_is_the_lease_session(tmp_path: Path) -> None:
    """The head lives in a session a person on call can inspect and lease."""
    store = open_store(f"file://{tmp_path}")
    saver = SessionStoreSaver(store)
    stored = saver.put(config("a|b"), checkpoint(1), {"step": 1}, {})
    assert head_session_id("a|b") == "langgraph:a=7Cb"
    head = store.blocking.load(head_session_id("a|b"))
    assert head is not None
    assert head.state["heads"] == {"": stored["configurable"]["checkpoint_id"]}


def test_sync_lease_and_puts_from_another_event_loop(tmp_path: Path) -> None:
    """A lease taken on your loop keeps serving the blocking API (sessionstore's loop)."""
    saver = SessionStoreSaver(open_store(f"file://{tmp_path}"))

    async def take() -> Any:
        return await saver.aacquire("t", "runner")

    lease = asyncio.run(take())
    first = saver.put(config("t"), checkpoint(1), {"step": 1}, {})
    asyncio.run(put(saver, first, 2))  # yet another loop
    saver.put(first, checkpoint(3), {"step": 3}, {})
    with lease:
        pass
    assert lease.released
    with saver.acquire("t", "next") as again:
        assert again.epoch == 2
        saver.put(first, checkpoint(4), {"step": 4}, {})
    assert len(list(saver.list(config("t")))) == 4


def test_parallel_puts_under_one_lease_do_not_fence_it(store: SessionPersistence) -> None:
    """Parallel subgraphs put into several namespaces of one thread at once."""

    async def scenario() -> None:
        saver = SessionStoreSaver(store)
        lease = await saver.aacquire("t", "runner")
        namespaces = [f"child:{i}" for i in range(8)]
        stored = await asyncio.gather(
            *(
                saver.aput(
                    {"configurable": {"thread_id": "t", "checkpoint_ns": ns}},
                    checkpoint(i),
                    {"step": i},
                    {},
                )
                for i, ns in enumerate(namespaces)
            )
        )
        assert not lease.fenced
        for ns, config_ in zip(namespaces, stored, strict=True):
            latest = await saver.aget_tuple(
                {"configurable": {"thread_id": "t", "checkpoint_ns": ns}}
            )
            assert latest is not None
            assert latest.config == config_

    asyncio.run(scenario())
