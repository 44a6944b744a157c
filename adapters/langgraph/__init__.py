"""LangGraph checkpointer on any sessionstore store (``pip install 'sessionstore[langgraph]'``).

::

    from sessionstore.adapters.langgraph import SessionStoreSaver

    saver = SessionStoreSaver.from_url("s3://bucket/agents")   # or SessionStoreSaver(store)
    graph = builder.compile(checkpointer=saver)

Layout (see :mod:`sessionstore.adapters.langgraph._layout`): every checkpoint and every
pending write is its own immutable document, written create-only, so a retried
``put`` or ``put_writes`` is idempotent by construction and a lost response is resolved
exactly by the library's write id. The newest checkpoint of each namespace of a thread
is recorded in the thread's *head*, the session ``langgraph:<encoded thread id>``,
updated by compare-and-swap; ``get_tuple`` without a checkpoint id finds it in one read
instead of listing the thread. The head is the newest checkpoint id whatever its
parent, so forks (time travel, two concurrent writers) are never rejected and every
branch stays readable.

Write ownership is opt-in: ``lease = await saver.aacquire(thread_id, owner)`` takes the
head session's fenced lease (:mod:`sessionstore.ownership`); while held, every head
update of that thread through this saver is a write of the lease, so once another
runner takes over (``force=True`` or ``stale_after``), the old runner's ``put`` raises
:class:`~sessionstore.errors.FencedError` and leaves nothing behind.

Importing this module imports LangGraph; ``import sessionstore`` never does.
"""

from __future__ import annotations

from sessionstore.adapters.langgraph._layout import (
    EMPTY_SEGMENT,
    decode_segment,
    encode_segment,
    head_session_id,
)
from sessionstore.adapters.langgraph._saver import SessionStoreSaver, ThreadLease

__all__ = [
    "EMPTY_SEGMENT",
    "SessionStoreSaver",
    "ThreadLease",
    "decode_segment",
    "encode_segment",
    "head_session_id",
]
