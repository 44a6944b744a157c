"""Minimal reproductions of the violations the model checker found on today's core.

Each is marked ``xfail(strict=True)``: it fails now, and the day the fix lands it
passes, strict xfail turns that into a failure, and whoever fixed it removes the
mark and flips the matching ``KNOWN_BUG_*`` constant in :mod:`model.machine`.
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


@pytest.mark.xfail(
    strict=True,
    reason="KNOWN_BUG_RELEASE_REWRITES: release() re-encodes the caller's snapshot object, "
    "mutations made after lease.save included",
)
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


@pytest.mark.xfail(
    strict=True,
    reason="KNOWN_BUG_UNVALIDATED_SNAPSHOTS: model_copy(update=)/model_construct snapshots are "
    "stored unvalidated and every later load raises CorruptSnapshot",
)
@pytest.mark.parametrize("build", [_copied_with_bad_turn, _constructed_with_bad_phase])
def test_an_invalid_snapshot_is_refused_not_stored(
    store: SessionPersistence, build: Callable[[], SessionSnapshot]
) -> None:
    with contextlib.suppress(ValueError, TypeError):  # refusing it is the right answer
        run(store.save("s", build()))
    run(store.load("s"))  # whatever happened, the session must still load


@pytest.mark.xfail(
    strict=True,
    reason="KNOWN_BUG_FENCED_CREATE_AFTER_DELETE: a lease taken on a missing session "
    "re-creates it after someone else created and deleted it",
)
def test_fenced_lease_cannot_resurrect_a_deleted_session(store: SessionPersistence) -> None:
    lease = run(store.acquire("s", "region-a"))  # missing: version None, epoch 1
    run(store.save("s", tagged("other")))  # someone else writes: the lease is fenced
    run(store.delete("s"))
    with pytest.raises(FencedError):
        run(lease.save(tagged("zombie")))
    assert run(store.load("s")) is None


@pytest.mark.xfail(
    strict=True,
    reason="KNOWN_BUG_EPOCH_RESETS: a delete drops the epoch, so the next acquire "
    "hands out an epoch that is not greater than an earlier one",
)
def test_epochs_increase_across_delete(store: SessionPersistence) -> None:
    run(store.save("s", tagged("a")))
    first = run(store.acquire("s", "region-a"))
    run(store.delete("s"))
    second = run(store.acquire("s", "region-b"))
    assert second.epoch > first.epoch


@pytest.mark.xfail(
    strict=True,
    reason="KNOWN_BUG_EPOCH_RESETS: a plain save stores epoch 0, so the next acquire "
    "hands out an epoch that is not greater than an earlier one",
)
def test_epochs_increase_across_a_plain_save(store: SessionPersistence) -> None:
    run(store.save("s", tagged("a")))
    first = run(store.acquire("s", "region-a", force=True))
    second = run(store.acquire("s", "region-b", force=True))
    run(store.save("s", tagged("b")))
    third = run(store.acquire("s", "region-c"))
    assert first.epoch < second.epoch < third.epoch


@pytest.mark.xfail(
    strict=True,
    reason="KNOWN_BUG_DUMPS_BODY_UNREADABLE: a body re-serialised by json.dumps "
    "('{\"_sessionstore\": {...}', a space after the colon) raises CorruptSnapshot",
)
def test_a_body_rewritten_by_json_dumps_loads(store: SessionPersistence) -> None:
    run(store.save("s", tagged("x")))
    stored = run(store._read("s"))
    assert stored is not None
    run(store._write("s", json.dumps(json.loads(stored.body)).encode(), ANY_VERSION))
    assert tag_of(run(store.load("s"))) == "x"


@pytest.mark.xfail(
    strict=True,
    reason="KNOWN_BUG_CANCELLED_WRITE_LANDS_LATE: a cancelled save keeps running on its "
    "worker thread and lands after the cancellation returned",
)
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


@pytest.mark.xfail(
    strict=True,
    reason="KNOWN_BUG_FORK_HANGS: a store used before fork() hangs in the child",
)
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


@pytest.mark.xfail(
    strict=True,
    reason="KNOWN_BUG_TIMED_OUT_WRITE_RESENT (S3 adapter): a create-only save whose first "
    "attempt timed out is re-sent; the held attempt lands later and resurrects the session",
)
def test_s3_timed_out_create_does_not_land_after_delete(
    s3_server: S3Emulator, s3_bucket: str, aws_sandbox: None
) -> None:
    client = s3_server.client(read_timeout=0.5, retries={"mode": "standard", "max_attempts": 3})
    store = S3Persistence(s3_bucket, f"r-{uuid.uuid4().hex[:10]}", client=client)
    s3_server.clear_faults()
    s3_server.inject("stall_then_apply", key=f"{store.prefix}/s.json", delay=1.0)
    try:
        run(store.save("s", tagged("created"), expected_version=None))
        run(store.delete("s"))
        assert s3_server.wait_stalled(10)
        assert run(store.load("s")) is None
    finally:
        s3_server.clear_faults()
        client.close()


@pytest.mark.usefixtures("gcs_sandbox")
@pytest.mark.xfail(
    strict=True,
    reason="KNOWN_BUG_TIMED_OUT_WRITE_RESENT (GCS adapter): a create-only save whose first "
    "attempt timed out is re-sent; the held attempt lands later and resurrects the session",
)
def test_gcs_timed_out_create_does_not_land_after_delete(
    gcs_server: GcsEmulator, make_gcs_store: Callable[..., GcsPersistence]
) -> None:
    from support.gcs_server import Fault

    store = make_gcs_store(timeout=(1.0, 0.5))
    gcs_server.add_fault(Fault("stall_before", "POST", "/upload/", delay=1.0))
    run(store.save("s", tagged("created"), expected_version=None))
    run(store.delete("s"))
    assert gcs_server.wait_stalled(10)
    assert run(store.load("s")) is None


@pytest.mark.xfail(
    strict=True,
    reason="KNOWN_BUG_CONDITIONAL_DELETE_RESOLVED_BY_ABSENCE: delete(expected_version=v) "
    "whose attempt may have landed reports success because the session is absent, though "
    "someone else deleted it before the call",
)
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
