"""Minimal reproductions of the violations the model checker found, kept as regressions.

Each was first committed as ``xfail(strict=True)`` against the core of the day; its fix
removed the mark and turned off the matching ``KNOWN_BUG_*`` gate in :mod:`model.machine`.
A new finding goes in the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import threading
import uuid
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from sessionstore import (
    ConflictError,
    FencedError,
    FsPersistence,
    MemoryPersistence,
    OutcomeUnknown,
    SessionSnapshot,
)
from sessionstore.adapters.s3 import S3Persistence
from sessionstore.contract import ANY_VERSION
from support.s3_fixtures import calls
from support.tagged import tag_of, tagged

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from pathlib import Path

    from sessionstore.adapters.gcs import GcsPersistence
    from sessionstore.contract import SessionPersistence
    from support.gcs_server import GcsEmulator
    from support.s3_server import S3Emulator

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture(params=["memory", "filesystem"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> SessionPersistence:
    return MemoryPersistence() if request.param == "memory" else FsPersistence(tmp_path)


def test_release_writes_back_what_the_lease_saved(store: SessionPersistence) -> None:
    lease = run(store.acquire("s", "region-a"))
    snapshot = tagged("saved")
    run(lease.save(snapshot))
    snapshot.state["tag"] = "mutated-after-save"
    run(lease.release())
    assert tag_of(run(store.load("s"))) == "saved"


def _copied_with_bad_turn() -> SessionSnapshot:
    return tagged("x").model_copy(update={"turn_count": -1})


def _constructed_with_bad_phase() -> SessionSnapshot:
    return SessionSnapshot.model_construct(phase=3, state={"tag": "x"})


@pytest.mark.parametrize("build", [_copied_with_bad_turn, _constructed_with_bad_phase])
def test_an_invalid_snapshot_is_refused_not_stored(
    store: SessionPersistence, build: Callable[[], SessionSnapshot]
) -> None:
    with contextlib.suppress(ValueError, TypeError):  # refusing it is the right answer
        run(store.save("s", build()))
    run(store.load("s"))  # whatever happened, the session must still load


def test_fenced_lease_cannot_resurrect_a_deleted_session(store: SessionPersistence) -> None:
    lease = run(store.acquire("s", "region-a"))  # missing: version None, epoch 1
    run(store.save("s", tagged("other")))  # someone else writes: the lease is fenced
    run(store.delete("s"))
    with pytest.raises(FencedError):
        run(lease.save(tagged("zombie")))
    assert run(store.load("s")) is None


# Epochs restarting after a delete or a plain save is documented, not a bug (issue
# rule (c) allows it where the README says why (a) and (b) still hold): these pin both
# halves, the restart and the fencing that does not depend on epochs.


def test_epochs_restart_across_delete_and_the_old_lease_stays_fenced(
    store: SessionPersistence,
) -> None:
    run(store.save("s", tagged("a")))
    first = run(store.acquire("s", "region-a"))
    run(store.delete("s"))
    second = run(store.acquire("s", "region-b"))
    assert second.epoch == 1  # restarted: the README says so
    with pytest.raises(FencedError):
        run(first.save(tagged("zombie")))
    run(second.save(tagged("b")))
    assert tag_of(run(store.load("s"))) == "b"


def test_epochs_restart_across_a_plain_save_and_old_leases_stay_fenced(
    store: SessionPersistence,
) -> None:
    run(store.save("s", tagged("a")))
    first = run(store.acquire("s", "region-a", force=True))
    second = run(store.acquire("s", "region-b", force=True))
    run(store.save("s", tagged("b")))
    third = run(store.acquire("s", "region-c"))
    assert (first.epoch, second.epoch, third.epoch) == (1, 2, 1)
    for old in (first, second):
        with pytest.raises(FencedError):
            run(old.save(tagged("zombie")))
    assert tag_of(run(store.load("s"))) == "b"


def test_a_body_rewritten_by_json_dumps_loads(store: SessionPersistence) -> None:
    run(store.save("s", tagged("x")))
    stored = run(store._read("s"))
    assert stored is not None
    run(store._write("s", json.dumps(json.loads(stored.body)).encode(), ANY_VERSION))
    assert tag_of(run(store.load("s"))) == "x"


def test_cancelled_save_does_not_land_after_cancellation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FsPersistence(tmp_path)
    started, gate, returned = threading.Event(), threading.Event(), threading.Event()
    original = store._write_sync

    def held(*args: Any) -> str:
        started.set()
        gate.wait()
        return original(*args)

    monkeypatch.setattr(store, "_write_sync", held)

    def open_gate() -> None:
        # A fix may finish the write before reporting the cancellation: then the gate
        # must open without us, or the test would wait forever.
        returned.wait(timeout=5)
        gate.set()

    async def main() -> tuple[Any, Any]:
        task = asyncio.create_task(store.save("s", tagged("cancelled")))
        await asyncio.to_thread(started.wait)
        opener = threading.Thread(target=open_gate)
        opener.start()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        at_cancellation = await store._read("s")
        returned.set()
        await asyncio.to_thread(opener.join)
        executor = store._workers._executor
        assert executor is not None
        await asyncio.to_thread(executor.shutdown, True)
        store._workers._executor = None
        return at_cancellation, await store._read("s")

    at_cancellation, afterwards = run(main())
    assert afterwards == at_cancellation


def test_a_store_used_before_fork_works_in_the_child(tmp_path: Path) -> None:
    store = FsPersistence(tmp_path)
    store.blocking.save("s", tagged("parent"))
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            store.blocking.save("s", tagged("child"))
            code = 0
        finally:
            os._exit(code)
    pidfd = os.pidfd_open(pid)
    try:
        finished, _, _ = select.select([pidfd], [], [], 10.0)
        if not finished:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(pidfd)
    assert finished, "the child hung"
    assert os.waitstatus_to_exitcode(status) == 0
    assert tag_of(store.blocking.load("s")) == "child"


# ------------------------------------------------ adapters: timed-out attempts


def test_s3_timed_out_create_is_never_sent_twice(
    s3_server: S3Emulator, s3_bucket: str, aws_sandbox: None
) -> None:
    client = s3_server.client(read_timeout=0.5, retries={"mode": "standard", "max_attempts": 3})
    store = S3Persistence(s3_bucket, f"r-{uuid.uuid4().hex[:10]}", client=client)
    s3_server.clear_faults()
    s3_server.inject("stall_then_apply", key=f"{store.prefix}/s.json", delay=1.0)
    s3_server.reset_log()
    try:
        # Its first attempt got no answer (the server holds it): a create-only write is
        # not re-sent (a re-sent copy could land, then the held one after a delete), so
        # the outcome stays unknown: the held attempt may still land, once.
        with pytest.raises(OutcomeUnknown):
            run(store.save("s", tagged("created"), expected_version=None))
        assert s3_server.wait_stalled(10)
        assert [call[0] for call in calls(s3_server)].count("PUT") == 1
        assert tag_of(run(store.load("s"))) == "created"  # landed once, acknowledged never
        run(store.delete("s"))
        assert run(store.load("s")) is None
    finally:
        s3_server.clear_faults()
        client.close()


@pytest.mark.usefixtures("gcs_sandbox")
def test_gcs_timed_out_create_is_never_sent_twice(
    gcs_server: GcsEmulator, make_gcs_store: Callable[..., GcsPersistence]
) -> None:
    from support.gcs_server import Fault

    store = make_gcs_store(timeout=(1.0, 0.5))
    gcs_server.add_fault(Fault("stall_before", "POST", "/upload/", delay=1.0))
    with pytest.raises(OutcomeUnknown):  # no answer: not re-sent; the outcome stays unknown
        run(store.save("s", tagged("created"), expected_version=None))
    assert gcs_server.wait_stalled(10)
    assert [r.method for r in gcs_server.requests].count("POST") == 1
    assert tag_of(run(store.load("s"))) == "created"  # landed once, acknowledged never
    run(store.delete("s"))
    assert run(store.load("s")) is None


@pytest.mark.usefixtures("gcs_sandbox")
def test_gcs_delete_cancelled_after_it_was_sent_lands_after_the_cancellation(
    gcs_server: GcsEmulator, make_gcs_store: Callable[..., GcsPersistence]
) -> None:
    """Not a bug: documented (README, *Cancellation*); the model allows it (cancel_bounded).

    The GCS finding of the soak: a cancelled conditional delete landed after a read that
    followed its cancellation. Here the proxy holds the DELETE (well inside the client's
    timeout) until after the caller saw its cancellation and read the session back.
    """
    from support.gcs_server import Fault

    reached = threading.Event()

    class Held(Fault):
        def matches(self, method: str, path: str) -> bool:
            hit = super().matches(method, path)
            if hit:
                reached.set()
            return hit

    store = make_gcs_store(timeout=(5.0, 5.0))
    version = run(store.save("s", tagged("a")))
    gcs_server.add_fault(Held("stall_before", "DELETE", "/s.json", delay=1.0))

    async def cancelled_delete() -> SessionSnapshot | None:
        task = asyncio.create_task(store.delete("s", expected_version=version))
        await asyncio.to_thread(reached.wait, 10)  # its request is on the wire
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await store.load("s")

    assert tag_of(run(cancelled_delete())) == "a"  # not deleted when the cancellation returned
    assert gcs_server.wait_stalled(10)
    assert run(store.load("s")) is None  # the cancelled delete landed afterwards


def test_conditional_delete_of_an_already_deleted_session_is_not_a_success(
    s3_server: S3Emulator, s3_bucket: str, s3_client: Any
) -> None:
    store = S3Persistence(s3_bucket, f"r-{uuid.uuid4().hex[:10]}", client=s3_client)
    version = run(store.save("s", tagged("a")))
    run(store.delete("s"))  # someone else deletes it first
    s3_server.clear_faults()
    s3_server.inject("apply_then_500", method="DELETE", key=f"{store.prefix}/s.json")
    try:
        with pytest.raises((ConflictError, OutcomeUnknown)):
            run(store.delete("s", expected_version=version))
    finally:
        s3_server.clear_faults()
