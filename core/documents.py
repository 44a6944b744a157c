"""JSON documents of any pydantic model under hierarchical keys, with the snapshot guarantees.

Integrations (the ADK session service, the LangGraph checkpointer) store things that
are not :class:`~sessionstore.SessionSnapshot`\\ s under ids that are free text. This
layer gives them, on every backend, exactly what snapshots get — it is the same code:
the snapshot API is this layer with one model and one-segment keys.

* create-only (``expected_version=None``), expected-version and unconditional writes,
  conditional deletes; versions that never repeat; typed conflicts;
* a fresh write id in every body, so a lost response is resolved exactly;
* validation of the exact JSON before any I/O, and ``max_bytes``;
* idempotency keys (the newest 32 per document);
* streamed listing by key prefix, with each entry's last-modified time where the
  backend returns it with the listing (filesystem, S3, GCS; memory keeps its own).

A key is a tuple of segments, each a valid id (:func:`sessionstore.ids.encode_id` turns
any text into one), stored as ``seg1/seg2/.../segN.json`` under the store's root. Keys
of one segment are session ids: give documents a first segment of their own (``"adk"``,
``"langgraph"``) so they never meet sessions. ``list_sessions`` never lists documents
with more than one segment.

Example::

    class Note(BaseModel):
        text: str

    notes = store.documents(Note)
    version = await notes.save(("notes", encode_id("user 1"), "n1"), Note(text="hi"))
    async for entry in notes.list(("notes",)):
        print(entry.key, entry.modified)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from pydantic import BaseModel

from sessionstore.codec import ModelCodec
from sessionstore.contract import ANY_VERSION
from sessionstore.errors import InvalidSessionId
from sessionstore.ids import validate_session_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence

    from sessionstore.contract import ExpectedVersion, SessionPersistence

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_KEY_SEGMENTS",
    "DocumentEntry",
    "Documents",
    "VersionedDocument",
    "key_name",
]

M = TypeVar("M", bound=BaseModel)

#: Most segments in a key; the whole name is at most MAX_KEY_LENGTH characters.
MAX_KEY_SEGMENTS = 8
#: Longest stored name (S3 keys are at most 1,024 bytes, with the store's prefix).
MAX_KEY_LENGTH = 800
SEPARATOR = "/"


@dataclass(frozen=True)
class VersionedDocument(Generic[M]):
    """A document together with the opaque version it is stored under."""

    document: M
    version: str


@dataclass(frozen=True)
class DocumentEntry:
    """One listed document: its key, and when it was last written if the backend said."""

    key: tuple[str, ...]
    modified: float | None
    """Unix seconds, or None where the backend's listing does not carry it."""


def key_name(key: Sequence[str], *, allow_empty: bool = False) -> str:
    """The stored name of ``key`` (segments joined by ``/``); InvalidSessionId if bad."""
    if isinstance(key, str) or not isinstance(key, (tuple, list)):
        raise InvalidSessionId(key, "a document key is a tuple of segments, not a string")
    if not key and not allow_empty:
        raise InvalidSessionId(key, "a document key needs at least one segment")
    if len(key) > MAX_KEY_SEGMENTS:
        raise InvalidSessionId(key, f"a document key has at most {MAX_KEY_SEGMENTS} segments")
    name = SEPARATOR.join(validate_session_id(segment) for segment in key)
    if len(name) > MAX_KEY_LENGTH:
        raise InvalidSessionId(name, f"a document key is at most {MAX_KEY_LENGTH} characters")
    return name


class Documents(Generic[M]):
    """Documents of one model in one store (from ``store.documents(Model)``)."""

    def __init__(self, store: SessionPersistence, model: type[M]) -> None:
        self.store = store
        self.model = model
        self._codec = ModelCodec(model)

    def __repr__(self) -> str:
        return f"Documents({self.store!r}, {self.model.__name__})"

    async def save(
        self,
        key: Sequence[str],
        document: M,
        *,
        expected_version: ExpectedVersion = ANY_VERSION,
        idempotency_key: str | None = None,
    ) -> str:
        """Store ``document`` under ``key``; same conditions as ``SessionPersistence.save``."""
        name = key_name(key)
        return await self.store._save(
            self._codec, name, document, expected_version, idempotency_key
        )

    async def load(self, key: Sequence[str]) -> M | None:
        """The stored document, or None."""
        entry = await self.store._load(self._codec, key_name(key))
        return None if entry is None else entry.value

    async def load_versioned(self, key: Sequence[str]) -> VersionedDocument[M] | None:
        """The stored document and its version, or None."""
        entry = await self.store._load(self._codec, key_name(key))
        if entry is None or entry.value is None:
            return None
        return VersionedDocument(entry.value, entry.version)

    async def delete(
        self, key: Sequence[str], *, expected_version: ExpectedVersion = ANY_VERSION
    ) -> None:
        """Delete the document; same conditions as ``SessionPersistence.delete``."""
        await self.store._delete(key_name(key), expected_version)

    async def update(
        self,
        key: Sequence[str],
        fn: Callable[[M | None], M],
        *,
        max_attempts: int = 10,
        idempotency_key: str | None = None,
    ) -> VersionedDocument[M]:
        """Read-modify-write with compare-and-swap; same rules as ``SessionPersistence.update``."""
        value, version = await self.store._update(
            self._codec, key_name(key), fn, max_attempts, idempotency_key
        )
        return VersionedDocument(value, version)

    async def list(self, prefix: Sequence[str] = ()) -> AsyncIterator[DocumentEntry]:
        """Stream every document whose key starts with the segments ``prefix`` (any depth).

        Order is unspecified. Objects whose names are not keys (foreign objects) are skipped.
        """
        root = key_name(prefix, allow_empty=True)
        start = f"{root}{SEPARATOR}" if root else ""
        async for listed in self.store._list_tree(start):
            segments = tuple(listed.name.split(SEPARATOR))
            if len(segments) > MAX_KEY_SEGMENTS or not listed.name.startswith(start):
                continue
            try:
                key_name(segments)
            except InvalidSessionId:
                continue  # not one of ours
            yield DocumentEntry(segments, listed.modified)
