"""Lost responses on S3: a put or put_writes whose request landed but whose answer was
lost is retried by botocore, meets its own landed body (412 to a create-only or
conditional write) and is resolved by the write id: success, nothing doubled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6

from sessionstore.adapters.langgraph import SessionStoreSaver

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig

    from sessionstore.adapters.s3 import S3Persistence
    from support.s3_server import S3Emulator

HEAD: RunnableConfig = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}


def checkpoint() -> Any:
    new = empty_checkpoint()
    new["id"] = str(uuid6(clock_seq=-1))
    new["channel_values"] = {"k": "v"}
    new["channel_versions"] = {"k": 1}
    return new


@pytest.mark.parametrize("fault", ["apply_then_500", "apply_then_drop"])
def test_lost_responses_on_put_and_put_writes_resolve_exactly(
    s3_store: S3Persistence, s3_server: S3Emulator, fault: Any
) -> None:
    saver = SessionStoreSaver(s3_store)
    first = saver.put(HEAD, checkpoint(), {"step": 0}, {})
    new = checkpoint()
    checkpoint_key = f"{s3_store.prefix}/langgraph/t/0=/c/{new['id']}.json"
    head_key = f"{s3_store.prefix}/langgraph:t.json"
    s3_server.inject(fault, key=checkpoint_key)
    s3_server.inject(fault, key=head_key)
    s3_server.reset_log()

    stored = saver.put(first, new, {"step": 1}, {})

    assert s3_server.pending_faults() == 0
    seen = [
        (r.method, r.key.removeprefix(s3_store.prefix + "/"), r.status)
        for r in s3_server.requests()
    ]
    landed = None if fault == "apply_then_drop" else 500
    checkpoint_name = checkpoint_key.removeprefix(s3_store.prefix + "/")
    # The checkpoint is create-only: after an answer (500) botocore's retry meets our own
    # body (412); after no answer (a drop) it is not re-sent, as the server may still hold
    # it. Either way the read of the write id resolves it. The head is an If-Match write:
    # re-sent, its 412 is our own echo, resolved the same way.
    created = [("PUT", checkpoint_name, 412)] if landed == 500 else []
    assert seen == [
        ("PUT", checkpoint_name, landed),
        *created,
        ("GET", checkpoint_name, 200),
        ("PUT", "langgraph:t.json", landed),
        ("PUT", "langgraph:t.json", 412),
        ("GET", "langgraph:t.json", 200),
    ]
    latest = saver.get_tuple(HEAD)
    assert latest is not None
    assert latest.config == stored
    assert len(list(saver.list(HEAD))) == 2

    write_key = f"{s3_store.prefix}/langgraph/t/0=/w/{new['id']}/task-1/i0.json"
    s3_server.inject(fault, key=write_key)
    saver.put_writes(stored, [("k", "w")], "task-1")
    saver.put_writes(stored, [("k", "other")], "task-1")  # a retry: insert-if-absent
    assert s3_server.pending_faults() == 0
    latest = saver.get_tuple(HEAD)
    assert latest is not None
    assert latest.pending_writes == [("task-1", "k", "w")]
