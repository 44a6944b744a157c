"""Cancellation on the boto3 transport: a call cancelled while queued never sends.

The boto3 calls run on the store's worker threads and do not mark their own point of
no return (unlike the filesystem's, which wait for a lock first): a call begins when a
worker picks it up. So a save cancelled while it waits for a free worker must never
reach the server, even after a worker frees up.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

import pytest

from sessionstore.adapters.s3 import S3Persistence
from sessionstore.testing import make_snapshot
from support.s3_fixtures import run

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from support.s3_server import S3Emulator


def test_a_save_cancelled_while_queued_for_a_worker_is_never_sent(
    s3_server: S3Emulator,
    s3_bucket: str,
    s3_client: S3Client,
    s3_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = S3Persistence(s3_bucket, s3_prefix, client=s3_client, max_workers=1)
    entered, release = threading.Event(), threading.Event()
    original = store._write_sync

    def held_for_s1(session_id: str, *args: Any) -> str:
        if session_id == "s-1":
            entered.set()
            release.wait(30)
        return original(session_id, *args)

    monkeypatch.setattr(store, "_write_sync", held_for_s1)

    async def scenario() -> None:
        first = asyncio.ensure_future(store.save("s-1", make_snapshot(1)))
        # The only worker is now busy with s-1 (wait for it off the loop).
        await asyncio.get_running_loop().run_in_executor(None, entered.wait, 30)
        second = asyncio.ensure_future(store.save("s-2", make_snapshot(2)))
        # One turn of the loop runs the save up to its first suspension: the submit to
        # the busy pool. Checked, so that a change of that path fails here, not silently.
        await asyncio.sleep(0)
        executor: Any = store._workers._executor
        assert executor._work_queue.qsize() == 1
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        release.set()
        await first
        # The worker is free again: a later save runs after the cancelled one would have.
        await store.save("s-3", make_snapshot(3))

    s3_server.reset_log()
    run(scenario())
    puts = [r.key for r in s3_server.requests() if r.method == "PUT"]
    assert puts == [f"{s3_prefix}/s-1.json", f"{s3_prefix}/s-3.json"]
    assert run(store.load("s-2")) is None
    assert run(store.load("s-1")) == make_snapshot(1)
    run(store.aclose())
