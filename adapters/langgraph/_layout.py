"""Where a thread's objects live, and the documents stored there.

Every LangGraph object is a sessionstore document under the ``langgraph`` segment,
except a thread's head, which is a session (so it can be leased)::

    langgraph:<T>                               the head: {namespace: newest checkpoint id}
    langgraph/<T>/<N>/c/<C>.json                a checkpoint (immutable, create-only)
    langgraph/<T>/<N>/w/<C>/<K>/i<idx>.json     a pending write of task K at index idx

``<T>``, ``<N>``, ``<C>`` and ``<K>`` are the thread id, namespace, checkpoint id and
task id through :func:`sessionstore.ids.encode_id`; the empty string (the root
namespace, or an empty thread id) is :data:`EMPTY_SEGMENT`, ``0=``, which is not the
encoding of any string, so it can never collide with one. A string whose encoding is
longer than :data:`MAX_SEGMENT_LENGTH` (deeply nested subgraph namespaces, long
non-ASCII thread ids) is stored as ``0=h`` and its SHA-256 in hex: not an encoding of
any string either, so no collision with short ones. Such a segment is not reversible,
which costs nothing: every document carries its thread id and namespace in full.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, JsonValue

from sessionstore.errors import InvalidSessionId
from sessionstore.ids import decode_id, encode_id
from sessionstore.model import SessionSnapshot

if TYPE_CHECKING:
    from langgraph.checkpoint.serde.base import SerializerProtocol

__all__ = [
    "CHECKPOINTS",
    "EMPTY_SEGMENT",
    "HEAD_PHASE",
    "HEAD_PREFIX",
    "ROOT",
    "WRITES",
    "CheckpointDoc",
    "Typed",
    "WriteDoc",
    "checkpoint_key",
    "decode_segment",
    "encode_segment",
    "head_heads",
    "head_session_id",
    "head_snapshot",
    "namespace_prefix",
    "thread_prefix",
    "write_key",
    "writes_prefix",
]

ROOT = "langgraph"
CHECKPOINTS = "c"
WRITES = "w"
HEAD_PREFIX = "langgraph:"
HEAD_PHASE = "langgraph-thread"
#: The segment for the empty string: ``encode_id`` never produces it (``=`` must be
#: followed by two hex digits), so it is unambiguous.
EMPTY_SEGMENT = "0="
#: Longest encoded segment; longer ones are hashed. Keeps the head's session id within
#: 200 characters and the deepest key (7 segments) within the document layer's 800.
MAX_SEGMENT_LENGTH = 190
HASHED_PREFIX = "0=h"


def encode_segment(text: str) -> str:
    """``text`` as one key segment: :func:`encode_id`, ``0=`` for ``""``, or ``0=h<sha256>``
    when the encoding would be longer than :data:`MAX_SEGMENT_LENGTH`."""
    if not isinstance(text, str):
        raise InvalidSessionId(text, "thread ids, namespaces and task ids must be strings")
    if not text:
        return EMPTY_SEGMENT
    try:
        encoded = encode_id(text)
    except InvalidSessionId:
        encoded = ""  # too long to encode
    if encoded and len(encoded) <= MAX_SEGMENT_LENGTH:
        return encoded
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return HASHED_PREFIX + digest


def decode_segment(segment: str) -> str:
    """The string :func:`encode_segment` encoded as ``segment`` (not for hashed ones)."""
    if segment == EMPTY_SEGMENT:
        return ""
    if segment.startswith(HASHED_PREFIX):
        raise InvalidSessionId(segment, "a hashed segment cannot be decoded")
    return decode_id(segment)


def head_session_id(thread_id: str) -> str:
    """The session id holding a thread's head (and its lease): ``langgraph:<T>``."""
    return HEAD_PREFIX + encode_segment(thread_id)


def thread_prefix(thread_id: str) -> tuple[str, ...]:
    return (ROOT, encode_segment(thread_id))


def namespace_prefix(thread_id: str, checkpoint_ns: str) -> tuple[str, ...]:
    return (*thread_prefix(thread_id), encode_segment(checkpoint_ns))


def checkpoint_key(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> tuple[str, ...]:
    return (*namespace_prefix(thread_id, checkpoint_ns), CHECKPOINTS, encode_segment(checkpoint_id))


def writes_prefix(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> tuple[str, ...]:
    return (*namespace_prefix(thread_id, checkpoint_ns), WRITES, encode_segment(checkpoint_id))


def write_key(
    thread_id: str, checkpoint_ns: str, checkpoint_id: str, task_id: str, idx: int
) -> tuple[str, ...]:
    return (
        *writes_prefix(thread_id, checkpoint_ns, checkpoint_id),
        encode_segment(task_id),
        f"i{idx}",
    )


class Typed(BaseModel):
    """A value as the saver's serde wrote it: its type tag and its bytes (base64)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    type: str
    data: str

    @classmethod
    def dump(cls, serde: SerializerProtocol, value: object) -> Typed:
        tag, raw = serde.dumps_typed(value)
        return cls(type=tag, data=base64.b64encode(raw).decode("ascii"))

    def load(self, serde: SerializerProtocol) -> object:
        return serde.loads_typed((self.type, base64.b64decode(self.data)))


class CheckpointDoc(BaseModel):
    """One checkpoint with its metadata and parent, exactly as ``put`` received them."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_checkpoint_id: str | None
    checkpoint: Typed
    metadata: Typed


class WriteDoc(BaseModel):
    """One pending write of one task."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    task_id: str
    idx: int
    channel: str
    task_path: str
    value: Typed


def head_snapshot(thread_id: str, heads: dict[str, str]) -> SessionSnapshot:
    """The head session's snapshot: the newest checkpoint id of every namespace."""
    ordered: dict[str, JsonValue] = dict(sorted(heads.items()))
    return SessionSnapshot(phase=HEAD_PHASE, state={"thread_id": thread_id, "heads": ordered})


def head_heads(snapshot: SessionSnapshot | None) -> dict[str, str]:
    """``{namespace: newest checkpoint id}`` from a head snapshot (empty for None)."""
    if snapshot is None:
        return {}
    heads = snapshot.state.get("heads")
    if not isinstance(heads, dict):
        return {}
    return {str(ns): str(cid) for ns, cid in heads.items() if isinstance(cid, str)}
