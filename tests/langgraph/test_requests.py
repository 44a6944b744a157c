"""Exact requests per put and per get_tuple on a thread with 100 checkpoints, counted at
the S3 emulator and at the GCS proxy: constant, whatever the thread's length."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6

from sessionstore.adapters.langgraph import SessionStoreSaver
from support.gcs_fixtures import shape

if TYPE_CHECKING:
    from collections.abc import Callable

    from langchain_core.runnables import RunnableConfig

    from sessionstore.adapters.gcs import GcsPersistence
    from sessionstore.adapters.s3 import S3Persistence
    from support.gcs_server import GcsEmulator
    from support.s3_server import S3Emulator

THREAD = "thread-100"
LENGTH = 100


def checkpoint(step: int) -> Any:
    new = empty_checkpoint()
    new["id"] = str(uuid6(clock_seq=-1))
    new["channel_values"] = {"messages": [f"message {i}" for i in range(step % 5)]}
    new["channel_versions"] = {"messages": step}
    return new


async def build_thread(saver: SessionStoreSaver) -> RunnableConfig:
    """A linear thread of LENGTH checkpoints, each with one pending write."""
    parent: RunnableConfig = {"configurable": {"thread_id": THREAD, "checkpoint_ns": ""}}
    for step in range(LENGTH):
        parent = await saver.aput(parent, checkpoint(step), {"source": "loop", "step": step}, {})
        await saver.aput_writes(parent, [("messages", f"reply {step}")], f"task-{step}")
    return parent


def head_only() -> RunnableConfig:
    return {"configurable": {"thread_id": THREAD, "checkpoint_ns": ""}}


def s3_kind(method: str, key: str, query: str, prefix: str) -> str:
    if method == "GET" and "list-type=2" in query:
        return "list"
    name = key.removeprefix(prefix + "/")
    if name.startswith("langgraph:"):
        return f"{method} head"
    if "/c/" in name:
        return f"{method} checkpoint"
    if "/w/" in name:
        return f"{method} write"
    return f"{method} {name}"


def test_s3_requests_per_put_and_get_tuple(s3_store: S3Persistence, s3_server: S3Emulator) -> None:
    def measured(operation: Callable[[], Any]) -> list[str]:
        s3_server.reset_log()
        asyncio.run(operation())
        return [
            f"{s3_kind(r.method, r.key, r.query, s3_store.prefix)} {r.status}"
            for r in s3_server.requests()
        ]

    requests(measured, s3_store)


def test_gcs_requests_per_put_and_get_tuple(
    make_gcs_store: Callable[..., GcsPersistence], gcs_server: GcsEmulator
) -> None:
    """Uploads carry their object name in the body, so they are told apart by their
    precondition: ``ifGenerationMatch=0`` creates (a checkpoint or a write), a
    generation updates the head."""
    store = make_gcs_store()

    def measured(operation: Callable[[], Any]) -> list[str]:
        gcs_server.reset_log()
        asyncio.run(operation())
        out = []
        logged = gcs_server.requests
        for request, (_, kind, status) in zip(logged, shape(logged), strict=True):
            if kind == "upload":
                created = request.query.get("ifGenerationMatch") == "0"
                out.append(f"upload {'create' if created else 'head'} {status}")
            elif kind == "download":
                out.append(f"download {gcs_target(request.path)} {status}")
            else:
                out.append(f"{kind} {status}")
        return out

    def expected(s3_labels: list[str]) -> list[str]:
        translated = []
        for label in s3_labels:
            method, *target, status = label.split()
            if method == "PUT":
                what = "head" if target == ["head"] else "create"
                translated.append(f"upload {what} {status}")
            elif method == "GET":
                translated.append(f"download {target[0]} {status}")
            else:
                translated.append(f"{method} {status}")
        return translated

    requests(measured, store, expected)


def gcs_target(path: str) -> str:
    name = unquote(path.rsplit("/o/", 1)[-1])
    if "langgraph:" in name:
        return "head"
    return "checkpoint" if "/c/" in name else "write" if "/w/" in name else name


def requests(
    measured: Callable[[Callable[[], Any]], list[str]],
    store: Any,
    expected: Callable[[list[str]], list[str]] = list,
) -> None:
    """The same exact sequence on every backend (request kinds, in order, with statuses;
    ``expected`` translates S3's labels into what another backend's log can show)."""
    saver = SessionStoreSaver(store)
    tip = asyncio.run(build_thread(saver))

    def put_on(saver: SessionStoreSaver, parent: RunnableConfig) -> Callable[[], Any]:
        return lambda: saver.aput(parent, checkpoint(LENGTH), {"step": LENGTH}, {})

    # put: the checkpoint (create-only) and the head (conditional on the version this
    # saver last wrote): two requests, whatever the thread's length.
    assert measured(put_on(saver, tip)) == expected(["PUT checkpoint 200", "PUT head 200"])
    # A saver that has not seen the head yet reads it first.
    assert measured(put_on(SessionStoreSaver(store), tip)) == expected(
        [
            "PUT checkpoint 200",
            "GET head 200",
            "PUT head 200",
        ]
    )
    # Under a lease: the head write is the lease's conditional write; still two.
    owned = SessionStoreSaver(store)
    asyncio.run(owned.aacquire(THREAD, "runner"))
    latest = asyncio.run(owned.aget_tuple(head_only()))
    assert latest is not None
    assert measured(put_on(owned, latest.config)) == expected(
        ["PUT checkpoint 200", "PUT head 200"]
    )

    latest = asyncio.run(owned.aget_tuple(head_only()))
    assert latest is not None
    writes = [("messages", "a"), ("messages", "b")]
    # put_writes: one create-only write per pending write; a retry changes nothing.
    assert measured(lambda: owned.aput_writes(latest.config, writes, "task-x")) == expected(
        [
            "PUT write 200",
            "PUT write 200",
        ]
    )
    # A retry: each create-only write is refused, one request each (documents are never
    # claims, so nothing is read back).
    retried = measured(lambda: owned.aput_writes(latest.config, writes, "task-x"))
    assert sorted(retried) == sorted(expected(["PUT write 412", "PUT write 412"]))
    # get_tuple, latest: the head, the checkpoint, one listing of its pending writes,
    # and each pending write.
    assert measured(lambda: saver.aget_tuple(head_only())) == expected(
        [
            "GET head 200",
            "GET checkpoint 200",
            "list 200",
            "GET write 200",
            "GET write 200",
        ]
    )
    # get_tuple of a given checkpoint (the 100th): no head read.
    assert measured(lambda: saver.aget_tuple(tip)) == expected(
        [
            "GET checkpoint 200",
            "list 200",
            "GET write 200",
        ]
    )
