"""A LangGraph runner in its own process, driven line by line on stdin (for tests).

``python thread_worker.py STORE_URL THREAD_ID OWNER``; commands, one per line:

* ``acquire`` / ``acquire-force``: take the thread's lease (answers ``acquired EPOCH``);
* ``put STEP``: put a checkpoint whose parent is the newest this runner knows (its
  own last put, or the thread's head when it acquired); answers ``put CHECKPOINT_ID``
  or ``fenced`` when the saver raised FencedError;
* ``exit``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6

from sessionstore.adapters.langgraph import SessionStoreSaver, ThreadLease
from sessionstore.errors import FencedError

if TYPE_CHECKING:
    from langchain_core.runnables import RunnableConfig


def main(url: str, thread_id: str, owner: str) -> None:
    saver = SessionStoreSaver.from_url(url)
    lease: ThreadLease | None = None
    parent: RunnableConfig = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    for line in sys.stdin:
        command, *args = line.split()
        if command in {"acquire", "acquire-force"}:
            lease = saver.acquire(thread_id, owner, force=command == "acquire-force")
            latest = saver.get_tuple(parent)
            if latest is not None:
                parent = latest.config
            print(f"acquired {lease.epoch}", flush=True)
        elif command == "put":
            checkpoint = empty_checkpoint()
            checkpoint["id"] = str(uuid6(clock_seq=-1))
            checkpoint["channel_values"] = {"step": int(args[0])}
            checkpoint["channel_versions"] = {"step": int(args[0])}
            try:
                parent = saver.put(parent, checkpoint, {"source": "loop", "step": int(args[0])}, {})
            except FencedError:
                print("fenced", flush=True)
                continue
            print(f"put {parent['configurable']['checkpoint_id']}", flush=True)
        elif command == "exit":
            break
    saver.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
