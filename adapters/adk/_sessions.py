"""``StoreSessionService``: ADK's ``BaseSessionService`` on any sessionstore store.

The log of a session is one create-only document per event (the slot), so an append is
one write whatever the history's length, and the slot is the compare-and-swap: of two
appends through the same revision exactly one creates slot ``n``. Every CHUNK events the
winner of the last slot copies them into a chunk and folds the session-scoped state into
the head, so a reader needs the head, a chunk per CHUNK events and the slots after the
last fold. See the README section "Google ADK" for what readers can observe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from typing import TYPE_CHECKING, Any, TypeVar

from google.adk.events.event import Event
from google.adk.sessions import _session_util
from google.adk.sessions.base_session_service import (
    BaseSessionService,
    GetSessionConfig,
    ListSessionsResponse,
)
from google.adk.sessions.session import Session
from google.adk.sessions.state import State
from typing_extensions import override

from sessionstore.adapters.adk import _errors
from sessionstore.adapters.adk._layout import (
    CHUNK,
    AppState,
    Chunk,
    Head,
    Layout,
    Slot,
    UserState,
)
from sessionstore.errors import ConflictError, SessionStoreError
from sessionstore.registry import open_store

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterable

    from sessionstore.contract import SessionPersistence

__all__ = ["StoreSessionService"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Slots read at once when looking for the end of the log after the first one.
PROBE_BATCH = 16
#: Most requests one call keeps in flight.
CONCURRENCY = 32
#: Attempts of an app:/user: state update under contention from other sessions.
SCOPE_ATTEMPTS = 100


class _Deleted(Exception):
    """The log ends in a tombstone: ``delete_session`` is removing this session."""


class StoreSessionService(BaseSessionService):
    """ADK sessions on a sessionstore store (memory, filesystem, S3, GCS).

    ``StoreSessionService(store)`` or ``StoreSessionService.from_url("gs://bucket/prefix")``.
    Objects live under ``namespace`` (default ``"adk"``), apart from snapshot sessions.
    """

    def __init__(self, store: SessionPersistence, *, namespace: str = "adk") -> None:
        self.store = store
        self._layout = Layout(namespace)
        self._heads = store.documents(Head)
        self._slots = store.documents(Slot)
        self._chunks = store.documents(Chunk)
        self._apps = store.documents(AppState)
        self._users = store.documents(UserState)

    @classmethod
    def from_url(cls, url: str, *, namespace: str = "adk", **options: Any) -> StoreSessionService:
        """A service on ``open_store(url, **options)``."""
        return cls(open_store(url, **options), namespace=namespace)

    async def aclose(self) -> None:
        """Close the underlying store."""
        await self.store.aclose()

    # ------------------------------------------------------------------ create

    @override
    async def create_session(
        self,
        *,
        app_name: str,
        user_id: str,
        state: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> Session:
        session_id = session_id.strip() if session_id else None
        session_id = session_id or str(uuid.uuid4())
        deltas = _session_util.extract_json_safe_state_delta(state or {})
        now = time.time()
        head = Head(
            app_name=app_name,
            user_id=user_id,
            id=session_id,
            incarnation=uuid.uuid4().hex[:16],
            created=now,
            state=deltas["session"],
            last_update_time=now,
        )
        key = self._layout.head(app_name, user_id, session_id)
        try:
            await self._heads.save(key, head, expected_version=None)
        except ConflictError as exc:
            _errors.already_exists(session_id, exc)
        token = f"{head.incarnation}-create"
        app_state, user_state = await asyncio.gather(
            self._apply_scope(
                self._apps, AppState, self._layout.app(app_name), deltas["app"], token
            ),
            self._apply_scope(
                self._users, UserState, self._layout.user(app_name, user_id), deltas["user"], token
            ),
        )
        session = Session(
            id=session_id,
            app_name=app_name,
            user_id=user_id,
            state=_merge(app_state, user_state, head.state),
            last_update_time=now,
        )
        session._storage_update_marker = _marker(head, 0)
        return session

    # ------------------------------------------------------------------ read

    @override
    async def get_session(
        self,
        *,
        app_name: str,
        user_id: str,
        session_id: str,
        config: GetSessionConfig | None = None,
    ) -> Session | None:
        session_id = session_id.strip() if session_id else session_id
        if not session_id:
            return None
        head = await self._heads.load(self._layout.head(app_name, user_id, session_id))
        if head is None:
            return None
        try:
            (tail, app_state, user_state) = await asyncio.gather(
                self._tail(head),
                self._scope(self._apps, self._layout.app(app_name)),
                self._scope(self._users, self._layout.user(app_name, user_id)),
            )
            events = await self._events(head, tail, config)
        except _Deleted:
            return None
        if events is None:
            return None
        session = Session(
            id=head.id,
            app_name=head.app_name,
            user_id=head.user_id,
            state=_merge(app_state, user_state, _session_state(head, tail)),
            events=events,
            last_update_time=_last_update(head, tail),
        )
        session._storage_update_marker = _marker(head, head.folded + len(tail))
        return session

    @override
    async def list_sessions(
        self, *, app_name: str, user_id: str | None = None
    ) -> ListSessionsResponse:
        prefix = self._layout.heads(app_name, user_id)
        depth = len(self._layout.heads(app_name)) + 2
        keys = [entry.key async for entry in self._heads.list(prefix) if len(entry.key) == depth]

        async def one(key: tuple[str, ...]) -> tuple[Head, list[Slot]] | None:
            head = await self._heads.load(key)
            if head is None:
                return None
            try:
                return head, await self._tail(head)
            except _Deleted:
                return None

        found = [x for x in await _bounded(one(key) for key in keys) if x is not None]
        users = sorted({head.user_id for head, _ in found})
        app_state, *user_states = await _bounded(
            [
                self._scope(self._apps, self._layout.app(app_name)),
                *(self._scope(self._users, self._layout.user(app_name, u)) for u in users),
            ]
        )
        by_user = dict(zip(users, user_states, strict=False))
        sessions = [
            Session(
                id=head.id,
                app_name=head.app_name,
                user_id=head.user_id,
                state=_merge(app_state, by_user[head.user_id], _session_state(head, tail)),
                last_update_time=_last_update(head, tail),
            )
            for head, tail in found
        ]
        sessions.sort(key=lambda s: (s.last_update_time, s.user_id, s.id))
        return ListSessionsResponse(sessions=sessions)

    @override
    async def get_user_state(self, *, app_name: str, user_id: str) -> dict[str, Any]:
        return await self._scope(self._users, self._layout.user(app_name, user_id))

    # ------------------------------------------------------------------ delete

    @override
    async def delete_session(self, *, app_name: str, user_id: str, session_id: str) -> None:
        session_id = session_id.strip() if session_id else session_id
        if not session_id:
            return
        key = self._layout.head(app_name, user_id, session_id)
        current = await self._heads.load_versioned(key)
        if current is None:
            return
        head = current.document
        # 1. A tombstone in the next free slot: every append through any revision now
        #    fails (the slot it would create exists), and readers see the session gone.
        end = head.folded + len(await self._tail(head, stop_at_tombstone=True))
        while True:
            try:
                await self._slots.save(
                    self._layout.slot(head, end), Slot(seq=end), expected_version=None
                )
                break
            except ConflictError:
                found = await self._slots.load(self._layout.slot(head, end))
                if found is not None and found.event is None:
                    break  # another delete got there first
                end += 1
        # 2. The head (conditionally: a fold may have moved it; a newer incarnation stays).
        while current is not None and current.document.incarnation == head.incarnation:
            try:
                await self._heads.delete(key, expected_version=current.version)
                break
            except ConflictError:
                current = await self._heads.load_versioned(key)
        # 3. The content: chunks deleted, slots overwritten by tombstones (a slot must stay
        #    to keep refusing appends through old revisions).
        await _bounded(
            [
                *(
                    self._chunks.delete(self._layout.chunk(head, c))
                    for c in range(end // CHUNK + 1)
                ),
                *(self._slots.save(self._layout.slot(head, n), Slot(seq=n)) for n in range(end)),
            ]
        )

    # ------------------------------------------------------------------ append

    @override
    async def append_event(self, session: Session, event: Event) -> Event:
        if event.partial:
            return event
        if any(e == event for e in session.events if e.id == event.id):
            return event  # an equal re-delivery, as InMemorySessionService treats it
        head, n = await self._revision(session)
        self._apply_temp_state(session, event)
        event = self._trim_temp_delta_state(event)
        slot = Slot(seq=n, event=event.model_dump(mode="json"))
        try:
            await self._slots.save(self._layout.slot(head, n), slot, expected_version=None)
        except ConflictError as exc:
            stored = await self._slots.load(self._layout.slot(head, n))
            if stored is None or stored.event is None:
                _errors.not_found(session.id, exc)
            if stored.event.get("id") != event.id or stored.event != slot.event:
                _errors.stale(session.id, exc)
            # Our own append landed before (a retry after a lost response): go on, once.
        deltas = _session_util.extract_json_safe_state_delta(event.actions.state_delta or {})
        token = f"{head.incarnation}-{n}"
        updates = []
        if deltas["app"]:
            app_key = self._layout.app(head.app_name)
            updates.append(self._apply_scope(self._apps, AppState, app_key, deltas["app"], token))
        if deltas["user"]:
            user_key = self._layout.user(head.app_name, head.user_id)
            updates.append(
                self._apply_scope(self._users, UserState, user_key, deltas["user"], token)
            )
        await asyncio.gather(*updates)
        if (n + 1) % CHUNK == 0:
            await self._fold(head, n + 1)
        self._commit_event_to_session(session, event)
        session.last_update_time = event.timestamp
        session._storage_update_marker = _marker(head, n + 1)
        return event

    async def _revision(self, session: Session) -> tuple[Head, int]:
        """The head and the slot this session's next append must create."""
        marker = session._storage_update_marker
        key = self._layout.head(session.app_name, session.user_id, session.id)
        if marker is not None and marker.count(":") == 1:
            incarnation, _, seq = marker.partition(":")
            if seq.isdigit():
                head = Head(
                    app_name=session.app_name,
                    user_id=session.user_id,
                    id=session.id,
                    incarnation=incarnation,
                    created=0.0,
                    last_update_time=0.0,
                )
                return head, int(seq)
        # A session we did not load: accept it only if it ends where the log ends.
        loaded = await self._heads.load(key)
        if loaded is None:
            _errors.not_found(session.id)
        try:
            end = loaded.folded + len(await self._tail(loaded))
        except _Deleted as exc:
            _errors.not_found(session.id, exc)
        if not session.events:
            if end:
                _errors.stale(session.id)
            return loaded, end
        last = await self._slots.load(self._layout.slot(loaded, end - 1)) if end else None
        if last is None or last.event is None or last.event.get("id") != session.events[-1].id:
            _errors.stale(session.id)
        return loaded, end

    async def _fold(self, head: Head, end: int) -> None:
        """Copy complete chunks up to ``end`` and fold their state into the head.

        Best effort: the events are already stored, so a failure here only leaves a
        longer tail for readers (the next fold catches up), and is logged, not raised.
        """
        key = self._layout.head(head.app_name, head.user_id, head.id)
        try:
            current = await self._heads.load_versioned(key)
            if current is None or current.document.incarnation != head.incarnation:
                return
            stored = current.document
            if stored.folded >= end:
                return
            slots = await _bounded(
                self._slots.load(self._layout.slot(stored, n)) for n in range(stored.folded, end)
            )
            if any(s is None or s.event is None for s in slots):
                return
            events = [s.event for s in slots if s is not None and s.event is not None]
            await _bounded(
                self._create_chunk(
                    stored, first, events[first - stored.folded : first - stored.folded + CHUNK]
                )
                for first in range(stored.folded, end, CHUNK)
            )
            state = dict(stored.state)
            for data in events:
                state.update(_session_delta(data))
            folded = stored.model_copy(
                update={
                    "state": state,
                    "folded": end,
                    "last_update_time": float(events[-1]["timestamp"]),
                }
            )
            await self._heads.save(key, folded, expected_version=current.version)
        except (SessionStoreError, ConflictError) as exc:
            logger.warning("fold of session %s up to event %d skipped: %s", head.id, end, exc)

    async def _create_chunk(self, head: Head, first: int, events: list[dict[str, Any]]) -> None:
        # ConflictError: an earlier fold wrote it (chunks are copies of immutable slots).
        with contextlib.suppress(ConflictError):
            await self._chunks.save(
                self._layout.chunk(head, first // CHUNK),
                Chunk(first=first, events=events),
                expected_version=None,
            )

    # ------------------------------------------------------------------ helpers

    async def _tail(self, head: Head, *, stop_at_tombstone: bool = False) -> list[Slot]:
        """The slots after the head's fold, read until the first missing one."""
        tail: list[Slot] = []
        start, batch = head.folded, 1
        while True:
            found = await asyncio.gather(
                *(self._slots.load(self._layout.slot(head, n)) for n in range(start, start + batch))
            )
            for slot in found:
                if slot is None:
                    return tail
                if slot.event is None:
                    if stop_at_tombstone:
                        return tail
                    raise _Deleted
                tail.append(slot)
            start, batch = start + batch, PROBE_BATCH

    async def _events(
        self, head: Head, tail: list[Slot], config: GetSessionConfig | None
    ) -> list[Event] | None:
        """The events ``config`` asks for (the same suffix InMemorySessionService returns)."""
        if config is not None and config.num_recent_events == 0:
            return []
        chunks = head.folded // CHUNK
        newest = [s.event for s in tail if s.event is not None]
        if config is not None and config.num_recent_events is not None:
            wanted = math.ceil(max(0, config.num_recent_events - len(newest)) / CHUNK)
            indexes = list(range(max(0, chunks - wanted), chunks))
        elif config is not None and config.after_timestamp is not None:
            indexes = []
            older = newest
            c = chunks
            while c > 0 and all(e["timestamp"] >= config.after_timestamp for e in older):
                c -= 1
                indexes.insert(0, c)
                loaded = await self._chunks.load(self._layout.chunk(head, c))
                if loaded is None:
                    return None
                older = loaded.events
        else:
            indexes = list(range(chunks))
        loaded_chunks = await _bounded(
            self._chunks.load(self._layout.chunk(head, c)) for c in indexes
        )
        data: list[dict[str, Any]] = []
        for chunk in loaded_chunks:
            if chunk is None:
                return None  # deleted while we read
            data.extend(chunk.events)
        data.extend(newest)
        events = [Event.model_validate(item) for item in data]
        return _filter(events, config)

    async def _scope(self, docs: Any, key: tuple[str, ...]) -> dict[str, Any]:
        doc = await docs.load(key)
        return {} if doc is None else dict(doc.state)

    async def _apply_scope(
        self,
        docs: Any,
        model: type[AppState] | type[UserState],
        key: tuple[str, ...],
        delta: dict[str, Any],
        token: str,
    ) -> dict[str, Any]:
        """Merge ``delta`` into an app:/user: document once per ``token``; the new state."""
        if not delta:
            return await self._scope(docs, key)

        def merge(current: AppState | UserState | None) -> AppState | UserState:
            state = {} if current is None else dict(current.state)
            state.update(delta)
            return model(state=state)

        result = await docs.update(key, merge, idempotency_key=token, max_attempts=SCOPE_ATTEMPTS)
        return dict(result.document.state)


def _marker(head: Head, end: int) -> str:
    return f"{head.incarnation}:{end}"


def _session_delta(event: dict[str, Any]) -> dict[str, Any]:
    actions = event.get("actions") or {}
    delta = actions.get("state_delta") or {}
    return _session_util.extract_state_delta(delta)["session"]


def _session_state(head: Head, tail: list[Slot]) -> dict[str, Any]:
    state = dict(head.state)
    for slot in tail:
        if slot.event is not None:
            state.update(_session_delta(slot.event))
    return state


def _last_update(head: Head, tail: list[Slot]) -> float:
    for slot in reversed(tail):
        if slot.event is not None:
            return float(slot.event["timestamp"])
    return head.last_update_time


def _merge(app: dict[str, Any], user: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
    merged = dict(session)
    merged.update({State.APP_PREFIX + k: v for k, v in app.items()})
    merged.update({State.USER_PREFIX + k: v for k, v in user.items()})
    return merged


def _filter(events: list[Event], config: GetSessionConfig | None) -> list[Event]:
    """InMemorySessionService's filtering, step for step."""
    if config is None:
        return events
    if config.num_recent_events is not None:
        events = [] if config.num_recent_events == 0 else events[-config.num_recent_events :]
    if config.after_timestamp is not None:
        i = len(events) - 1
        while i >= 0:
            if events[i].timestamp < config.after_timestamp:
                break
            i -= 1
        if i >= 0:
            events = events[i + 1 :]
    return events


async def _bounded(awaitables: Iterable[Awaitable[T]], limit: int = CONCURRENCY) -> list[T]:
    """Await all, at most ``limit`` at a time, results in order."""
    gate = asyncio.Semaphore(limit)

    async def one(awaitable: Awaitable[T]) -> T:
        async with gate:
            return await awaitable

    return list(await asyncio.gather(*(one(a) for a in awaitables)))
