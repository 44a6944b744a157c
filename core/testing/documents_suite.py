"""Contract clauses for the document layer (every backend): any pydantic model under
hierarchical keys, with the snapshot guarantees."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from pydantic import BaseModel, ConfigDict

from sessionstore.errors import (
    ConflictError,
    InvalidIdempotencyKey,
    InvalidSessionId,
    InvalidSnapshot,
)
from sessionstore.ids import encode_id
from sessionstore.testing.snapshots import make_snapshot

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from sessionstore.contract import SessionPersistence
    from sessionstore.documents import DocumentEntry, Documents

T = TypeVar("T")

__all__ = ["DocumentsContract"]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Event(BaseModel):
    """A document model of the kind integrations store (strict: no unknown fields)."""

    model_config = ConfigDict(extra="forbid")

    author: str
    text: str
    sequence: int
    tags: list[str] = []


def _event(sequence: int, text: str = "hello") -> Event:
    return Event(author="user", text=text, sequence=sequence, tags=["a", "é"])


async def _listed(docs: Documents[Event], prefix: tuple[str, ...] = ()) -> list[DocumentEntry]:
    return [entry async for entry in docs.list(prefix)]


class DocumentsContract:
    """Mixed into :class:`SessionPersistenceContract`; uses its ``store`` fixture."""

    def test_documents_round_trip_under_hierarchical_keys(self, store: SessionPersistence) -> None:
        docs = store.documents(Event)
        key = ("adk", encode_id("my app"), encode_id("user 1"), "events", "0001")
        version = run(docs.save(key, _event(1)))
        loaded = run(docs.load_versioned(key))
        assert loaded is not None
        assert loaded.document == _event(1)
        assert loaded.version == version
        assert run(docs.load(("adk", "other"))) is None

    def test_document_compare_and_swap(self, store: SessionPersistence) -> None:
        docs = store.documents(Event)
        key = ("docs", "slot-1")
        first = run(docs.save(key, _event(1), expected_version=None))
        with pytest.raises(ConflictError):
            run(docs.save(key, _event(2), expected_version=None))
        second = run(docs.save(key, _event(2), expected_version=first))
        with pytest.raises(ConflictError):
            run(docs.save(key, _event(3), expected_version=first))
        with pytest.raises(ConflictError):
            run(docs.delete(key, expected_version=first))
        assert run(docs.load(key)) == _event(2)
        run(docs.delete(key, expected_version=second))
        assert run(docs.load(key)) is None
        run(docs.delete(key))  # a missing document: not an error

    def test_document_update_and_idempotency_keys(self, store: SessionPersistence) -> None:
        docs = store.documents(Event)
        key = ("docs", "counter")
        calls: list[int] = []

        def bump(current: Event | None) -> Event:
            calls.append(1)
            return _event(0 if current is None else current.sequence + 1)

        run(docs.update(key, bump, idempotency_key="turn-1"))
        run(docs.update(key, bump, idempotency_key="turn-1"))
        run(docs.update(key, bump, idempotency_key="turn-2"))
        assert calls == [1, 1]
        loaded = run(docs.load(key))
        assert loaded is not None
        assert loaded.sequence == 1
        version = run(docs.save(key, _event(9), idempotency_key="put-1"))
        assert run(docs.save(key, _event(10), idempotency_key="put-1")) == version
        with pytest.raises(InvalidIdempotencyKey):
            run(docs.save(key, _event(11), idempotency_key="bad key"))

    def test_an_invalid_document_is_refused_before_any_io(self, store: SessionPersistence) -> None:
        docs = store.documents(Event)
        bad = Event.model_construct(author="user", text=None, sequence=1)
        with pytest.raises(InvalidSnapshot, match="'text'"):
            run(docs.save(("docs", "d"), bad))
        nan = Event.model_construct(author="user", text="x", sequence=float("nan"))
        with pytest.raises(InvalidSnapshot, match="'sequence'"):
            run(docs.save(("docs", "d"), nan))
        assert run(docs.load(("docs", "d"))) is None

    @pytest.mark.parametrize(
        "key",
        ["docs/d", (), ("docs", "a/b"), ("docs", ""), ("docs", "-x"), ("a",) * 9, ["ok", 7]],
    )
    def test_a_bad_key_is_refused_before_any_io(self, store: SessionPersistence, key: Any) -> None:
        docs = store.documents(Event)
        with pytest.raises(InvalidSessionId):
            run(docs.save(key, _event(1)))
        with pytest.raises(InvalidSessionId):
            run(docs.load(key))

    def test_listing_streams_keys_by_prefix_with_modified_times(
        self, store: SessionPersistence
    ) -> None:
        docs = store.documents(Event)
        keys = [
            ("adk", "app", "u1", "s1"),
            ("adk", "app", "u1", "s2"),
            ("adk", "app", "u2", "s1"),
            ("adk", "app2", "u1", "s1"),
            ("lg", "thread", "c1"),
        ]
        for number, key in enumerate(keys):
            run(docs.save(key, _event(number)))
        run(store.save("session-1", make_snapshot(1)))
        found = run(_listed(docs, ("adk", "app")))
        assert sorted(entry.key for entry in found) == sorted(keys[:3])
        assert all(entry.modified is None or entry.modified > 0 for entry in found)
        assert sorted(e.key for e in run(_listed(docs, ("adk", "app", "u1")))) == keys[:2]
        everything = sorted(entry.key for entry in run(_listed(docs)))
        assert everything == sorted([*keys, ("session-1",)])
        # Sessions never list documents, and documents never disturb sessions.
        assert run(_sessions(store)) == ["session-1"]

    def test_the_stored_body_carries_the_metadata_first(self, store: SessionPersistence) -> None:
        docs = store.documents(Event)
        run(docs.save(("docs", "d"), _event(1)))
        stored = run(store._read("docs/d"))
        assert stored is not None
        assert stored.body.startswith(b'{"_sessionstore":{"v":1,"write_id":"')


async def _sessions(store: SessionPersistence) -> list[str]:
    return [session_id async for session_id in store.list_sessions()]
