"""Regression tests for the outside review's findings on the local stores (issue 11),
and the exactly-once turn scenarios (issue 13): cancellation, forks, exit, the sweep.

Each test failed on the code before its fix; each drives only the public API plus the
real filesystem, real processes and real signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import multiprocessing
import os
import subprocess
import sys
import threading
import zlib
from typing import TYPE_CHECKING, Any

import pytest

from sessionstore import FsPersistence, MemoryPersistence, SessionSnapshot
from sessionstore.testing import increment, make_snapshot
from support.processes import finish, in_forked_child, spawn_worker

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from sessionstore.contract import SessionPersistence

FORK = multiprocessing.get_context("fork")


def _stripe_lock(directory: Path, session_id: str) -> Path:
    return directory / ".sessionstore-locks" / f"{zlib.crc32(session_id.encode()) % 256:02x}.lock"


@contextlib.contextmanager
def _holding_stripe(directory: Path, session_id: str) -> Iterator[None]:
    """Hold the stripe lock of ``session_id`` as another writer would."""
    path = _stripe_lock(directory, session_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class _GatedReplace:
    """Hold every rename (the filesystem store's commit point) until ``open()``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.gate = threading.Event()
        self.reached = threading.Event()
        real = os.replace

        def replace(src: Any, dst: Any) -> None:
            self.reached.set()
            self.gate.wait()
            real(src, dst)

        monkeypatch.setattr(os, "replace", replace)


def _drain(store: SessionPersistence) -> None:
    """Wait until every call the store's workers started has finished."""
    executor = store._workers._executor
    if executor is not None:
        executor.shutdown(wait=True)
    store._workers._executor = None


# ----------------------------------------------------------- cancellation (13)


def test_a_save_cancelled_while_waiting_for_its_lock_never_lands(tmp_path: Path) -> None:
    store = FsPersistence(tmp_path / "s")
    store.blocking.save("s-1", make_snapshot(1))

    async def timed_out_save() -> None:
        with pytest.raises(asyncio.TimeoutError):  # Python 3.10's own class
            await asyncio.wait_for(store.save("s-1", make_snapshot(2)), timeout=0.2)

    with _holding_stripe(tmp_path / "s", "s-1"):
        asyncio.run(timed_out_save())
    _drain(store)  # the worker got the lock after the timeout: it must not write
    assert store.blocking.load("s-1") == make_snapshot(1)


@pytest.mark.parametrize("keyed", [True, False])
def test_a_timed_out_update_that_lands_later_and_its_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keyed: bool
) -> None:
    """The reviewer's scenario: the write lands after TimeoutError; the caller retries."""
    store = FsPersistence(tmp_path / "s")
    store.blocking.update("s-1", increment)
    key = "turn-2" if keyed else None
    gated = _GatedReplace(monkeypatch)

    async def timed_out_update() -> None:
        update = asyncio.ensure_future(store.update("s-1", increment, idempotency_key=key))
        await asyncio.get_running_loop().run_in_executor(None, gated.reached.wait)
        update.cancel()  # the request is past its point of no return: it will land
        with pytest.raises(asyncio.CancelledError):
            await update

    asyncio.run(timed_out_update())
    gated.gate.set()
    _drain(store)
    store.blocking.update("s-1", increment, idempotency_key=key)  # the caller's retry
    final = store.blocking.load("s-1")
    assert final is not None
    # With a key the turn is applied once; without one, twice (the README's warning).
    assert final.turn_count == (2 if keyed else 3)


def _keys() -> str:
    return ",".join(f"turn-{number}" for number in range(25))


def test_eight_processes_running_the_same_25_keyed_turns_apply_each_once(
    tmp_path: Path,
) -> None:
    url = f"file://{tmp_path / 's'}"
    workers = [spawn_worker("keyed-counter", url, "counter", _keys(), str(n)) for n in range(8)]
    for worker in workers:
        assert finish(worker).strip() == "done"
    final = FsPersistence(tmp_path / "s").blocking.load("counter")
    assert final is not None
    assert final.turn_count == 25


# --------------------------------------------------------------- forks (7, 8)


def _child_uses(store: SessionPersistence, session_id: str) -> None:
    # Runs in the forked child: both APIs must work there.
    asyncio.run(store.save(session_id, make_snapshot(7, writer="child")))
    assert store.blocking.load(session_id) == make_snapshot(7, writer="child")
    store.blocking.save(session_id, make_snapshot(8, writer="child"))


def _in_forked_child(target: Callable[..., None], *args: Any) -> int | None:
    """Run ``target`` in a child made by a plain ``os.fork()``; its exit code, or None
    if it was still running after 60 s (then it is killed)."""
    return in_forked_child(target, *args)


@pytest.fixture(params=["memory", "filesystem"])
def local_store(request: pytest.FixtureRequest, tmp_path: Path) -> SessionPersistence:
    if request.param == "memory":
        return MemoryPersistence()
    return FsPersistence(tmp_path / "s")


def test_a_store_used_before_fork_keeps_working_in_the_child(
    local_store: SessionPersistence,
) -> None:
    # Use both APIs first, so worker threads and the blocking loop exist at fork.
    asyncio.run(local_store.save("s-1", make_snapshot(1)))
    local_store.blocking.save("s-1", make_snapshot(2))
    assert _in_forked_child(_child_uses, local_store, "s-2") == 0
    if isinstance(local_store, FsPersistence):  # the child's writes are durable
        assert local_store.blocking.load("s-2") == make_snapshot(8, writer="child")
    assert local_store.blocking.load("s-1") == make_snapshot(2)


def test_a_child_forked_during_a_save_never_holds_the_parents_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FsPersistence(tmp_path / "s")
    store.blocking.save("s-1", make_snapshot(1))
    gated = _GatedReplace(monkeypatch)
    saving = threading.Thread(target=store.blocking.save, args=("s-1", make_snapshot(2)))
    saving.start()
    gated.reached.wait()  # the parent's save holds the stripe lock now

    child = FORK.Process(target=_child_saves_same_stripe, args=(tmp_path / "s",))
    child.start()
    gated.gate.set()  # the parent's save finishes and releases its lock
    saving.join()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("the child kept the parent's stripe lock: its own save never ran")
    assert child.exitcode == 0
    assert store.blocking.load("s-1") == make_snapshot(9, writer="child")


def _child_saves_same_stripe(directory: Path) -> None:
    os.replace = _real_replace  # the parent's gate is not the child's
    FsPersistence(directory).blocking.save("s-1", make_snapshot(9, writer="child"))


_real_replace = os.replace


# ------------------------------------------------------------------ exit (9)


def test_saving_from_an_atexit_handler_works(tmp_path: Path) -> None:
    script = f"""
import asyncio, atexit
from sessionstore import FsPersistence, SessionSnapshot
store = FsPersistence({str(tmp_path / "s")!r})
store.blocking.save("warm", SessionSnapshot(phase="start"))  # threads exist before exit

def final_flush():
    store.blocking.save("blocking", SessionSnapshot(phase="flushed", turn_count=1))
    asyncio.run(store.save("async", SessionSnapshot(phase="flushed", turn_count=2)))

atexit.register(final_flush)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    store = FsPersistence(tmp_path / "s")
    assert store.blocking.load("blocking") == SessionSnapshot(
        phase="flushed", turn_count=1, saved_at=_saved_at(store, "blocking")
    )
    loaded = store.blocking.load("async")
    assert loaded is not None
    assert loaded.turn_count == 2


def _saved_at(store: FsPersistence, session_id: str) -> str:
    loaded = store.blocking.load(session_id)
    assert loaded is not None
    return loaded.saved_at


# ------------------------------------------------------ filesystem (11, 12)


def test_an_unremovable_temp_lookalike_never_blocks_a_save(tmp_path: Path) -> None:
    directory = tmp_path / "s"
    directory.mkdir()
    stray = directory / ".s-1.json.abcdef.tmp"
    stray.mkdir()
    (stray / "inside").write_text("not ours")
    store = FsPersistence(directory)
    store.blocking.save("s-1", make_snapshot(1))
    assert store.blocking.load("s-1") == make_snapshot(1)
    assert stray.is_dir()


def test_creating_the_store_directory_fsyncs_every_new_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    directory = tmp_path / "a" / "b" / "c"
    FsPersistence(directory).blocking.save("s-1", make_snapshot(1))
    for created in (tmp_path / "a", tmp_path / "a" / "b", directory):
        assert str(created.parent) in synced, f"{created.parent} not fsynced after mkdir"


def test_snapshot_mutated_after_save_is_not_what_a_blocking_lease_releases(
    tmp_path: Path,
) -> None:
    store = FsPersistence(tmp_path / "s")
    snapshot = SessionSnapshot(phase="a", turn_count=1)
    with store.blocking.acquire("s-1", "owner") as lease:
        lease.save(snapshot)
        snapshot.turn_count = 2
    loaded = store.blocking.load("s-1")
    assert loaded is not None
    assert loaded.turn_count == 1
