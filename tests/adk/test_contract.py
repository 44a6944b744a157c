"""ADK's session-service semantics (read from google-adk's own services), on every backend."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from google.adk.errors._stale_session_error import StaleSessionError
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions.base_session_service import GetSessionConfig
from google.genai import types

from sessionstore.adapters.adk._layout import CHUNK
from sessionstore.errors import BackendUnavailable

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from sessionstore.adapters.adk import StoreSessionService

T = TypeVar("T")
APP = "my app"
USER = "user|1"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def event(
    text: str,
    delta: dict[str, Any] | None = None,
    *,
    ts: float | None = None,
    partial: bool = False,
) -> Event:
    made = Event(
        author="user",
        invocation_id="inv-1",
        content=types.Content(role="user", parts=[types.Part(text=text)]),
        actions=EventActions(state_delta=dict(delta or {})),
        partial=partial,
    )
    if ts is not None:
        made.timestamp = ts
    return made


def test_create_get_round_trip_with_scopes(service: StoreSessionService) -> None:
    async def go() -> None:
        created = await service.create_session(
            app_name=APP,
            user_id=USER,
            session_id="sesión 1",
            state={"k": 1, "app:a": "x", "user:u": [1, 2], "temp:t": 9},
        )
        assert created.id == "sesión 1"
        assert created.state == {"k": 1, "app:a": "x", "user:u": [1, 2]}
        loaded = await service.get_session(app_name=APP, user_id=USER, session_id="sesión 1")
        assert loaded is not None
        assert loaded.state == created.state
        assert loaded.events == []
        assert loaded.last_update_time == created.last_update_time
        assert await service.get_user_state(app_name=APP, user_id=USER) == {"u": [1, 2]}
        assert await service.get_user_state(app_name=APP, user_id="other") == {}
        # app: state is shared by every user of the app, user: state only by that user's sessions
        other = await service.create_session(app_name=APP, user_id="other")
        assert other.state == {"app:a": "x"}

    run(go())


def test_generated_id_and_whitespace_stripping(service: StoreSessionService) -> None:
    async def go() -> None:
        generated = await service.create_session(app_name=APP, user_id=USER, session_id="  ")
        assert generated.id.strip()
        assert generated.id != "  "
        padded = await service.create_session(app_name=APP, user_id=USER, session_id="  s1 \n")
        assert padded.id == "s1"
        assert await service.get_session(app_name=APP, user_id=USER, session_id=" s1 ") is not None
        with pytest.raises(AlreadyExistsError):
            await service.create_session(
                app_name=APP, user_id=USER, session_id="s1 ", state={"app:z": 1}
            )
        kept = await service.get_session(app_name=APP, user_id=USER, session_id="s1")
        assert kept is not None
        assert "app:z" not in kept.state
        await service.delete_session(app_name=APP, user_id=USER, session_id="\ts1 ")
        assert await service.get_session(app_name=APP, user_id=USER, session_id="s1") is None
        assert await service.get_session(app_name=APP, user_id=USER, session_id="") is None

    run(go())


def test_append_applies_scopes_drops_temp_and_partial(service: StoreSessionService) -> None:
    async def go() -> None:
        session = await service.create_session(app_name=APP, user_id=USER, session_id="s")
        await service.append_event(session, event("partial", {"p": 1}, partial=True))
        assert session.events == []
        appended = await service.append_event(
            session, event("hi", {"k": {"deep": 1}, "app:a": 1, "user:u": None, "temp:t": 2})
        )
        assert appended.actions.state_delta == {"k": {"deep": 1}, "app:a": 1, "user:u": None}
        assert session.state["temp:t"] == 2  # temp: lives in memory for the invocation
        await service.append_event(session, event("again", {"k": {"other": 2}}))
        loaded = await service.get_session(app_name=APP, user_id=USER, session_id="s")
        assert loaded is not None
        assert loaded.state == {"k": {"other": 2}, "app:a": 1, "user:u": None}  # replace, no merge
        assert [e.content.parts[0].text for e in loaded.events] == ["hi", "again"]  # type: ignore[index,union-attr]
        assert loaded.events == session.events
        assert loaded.last_update_time == session.events[-1].timestamp
        assert await service.get_user_state(app_name=APP, user_id=USER) == {"u": None}

    run(go())


def test_get_session_config_across_chunks(service: StoreSessionService) -> None:
    async def go() -> None:
        session = await service.create_session(app_name=APP, user_id=USER, session_id="long")
        total = CHUNK * 2 + 5
        for i in range(total):
            await service.append_event(session, event(f"e{i}", {"n": i}, ts=1000.0 + i))

        async def texts(config: GetSessionConfig | None) -> list[str]:
            got = await service.get_session(
                app_name=APP, user_id=USER, session_id="long", config=config
            )
            assert got is not None
            assert got.state == {"n": total - 1}
            return [str(e.content.parts[0].text) for e in got.events]  # type: ignore[index,union-attr]

        everything = [f"e{i}" for i in range(total)]
        assert await texts(None) == everything
        assert await texts(GetSessionConfig()) == everything
        assert await texts(GetSessionConfig(num_recent_events=0)) == []
        assert await texts(GetSessionConfig(num_recent_events=3)) == everything[-3:]
        assert (
            await texts(GetSessionConfig(num_recent_events=CHUNK + 10))
            == everything[-(CHUNK + 10) :]
        )
        assert await texts(GetSessionConfig(num_recent_events=10_000)) == everything
        assert (
            await texts(GetSessionConfig(after_timestamp=1000.0 + 7)) == everything[7:]
        )  # inclusive
        assert await texts(GetSessionConfig(after_timestamp=1000.0 + total - 2)) == everything[-2:]
        assert await texts(GetSessionConfig(after_timestamp=0.0)) == everything
        assert (
            await texts(GetSessionConfig(num_recent_events=5, after_timestamp=1000.0 + total - 3))
            == everything[-3:]
        )
        with pytest.raises(ValueError, match="num_recent_events"):
            GetSessionConfig(num_recent_events=-1)

    run(go())


def test_list_sessions_order_and_merged_state(service: StoreSessionService) -> None:
    async def go() -> None:
        a = await service.create_session(app_name=APP, user_id="u1", session_id="a", state={"x": 1})
        b = await service.create_session(
            app_name=APP, user_id="u2", session_id="b", state={"user:v": 2}
        )
        c = await service.create_session(app_name=APP, user_id="u1", session_id="c")
        await service.create_session(app_name="another app", user_id="u1", session_id="z")
        start = a.last_update_time
        await service.append_event(a, event("late", {"app:g": 1}, ts=start + 100))
        await service.append_event(b, event("later", {"y": 3}, ts=start + 50))
        everyone = (await service.list_sessions(app_name=APP)).sessions
        assert [s.id for s in everyone] == ["c", "b", "a"]  # oldest update first
        assert all(s.events == [] for s in everyone)
        assert {s.id: s.state for s in everyone} == {
            "a": {"x": 1, "app:g": 1},
            "b": {"y": 3, "user:v": 2, "app:g": 1},
            "c": {"app:g": 1},
        }
        assert [
            s.id for s in (await service.list_sessions(app_name=APP, user_id="u1")).sessions
        ] == ["c", "a"]
        assert (await service.list_sessions(app_name=APP, user_id="nobody")).sessions == []
        assert (await service.list_sessions(app_name="no app")).sessions == []
        assert c.id == "c"

    run(go())


def test_stale_session_raises_and_writes_nothing(service: StoreSessionService) -> None:
    async def go() -> None:
        await service.create_session(app_name=APP, user_id=USER, session_id="s")
        first = await service.get_session(app_name=APP, user_id=USER, session_id="s")
        second = await service.get_session(app_name=APP, user_id=USER, session_id="s")
        assert first is not None
        assert second is not None
        await service.append_event(first, event("winner", {"user:w": 1}))
        with pytest.raises(StaleSessionError):
            await service.append_event(second, event("loser", {"user:l": 1, "k": 1}))
        loaded = await service.get_session(app_name=APP, user_id=USER, session_id="s")
        assert loaded is not None
        assert [e.content.parts[0].text for e in loaded.events] == ["winner"]  # type: ignore[index,union-attr]
        assert await service.get_user_state(app_name=APP, user_id=USER) == {"w": 1}
        # a session object the service never loaded is accepted only at the log's end
        outsider = loaded.model_copy(deep=True)
        outsider._storage_update_marker = None
        await service.append_event(outsider, event("ok"))
        with pytest.raises(StaleSessionError):
            await service.append_event(first, event("stale again"))

    run(go())


def test_retried_append_applies_once(service: StoreSessionService) -> None:
    async def go() -> None:
        session = await service.create_session(app_name=APP, user_id=USER, session_id="s")
        marker = session._storage_update_marker
        sent = event("once", {"user:count": 1, "app:hits": 1})
        await service.append_event(session, sent)
        # A retry of the same call (its response was lost): the same revision, the same event.
        retry = session.model_copy(deep=True)
        retry.events = []
        retry._storage_update_marker = marker
        await service.append_event(retry, sent.model_copy(deep=True))
        loaded = await service.get_session(app_name=APP, user_id=USER, session_id="s")
        assert loaded is not None
        assert len(loaded.events) == 1
        # Re-delivering an equal event through the live session is a no-op, as in ADK.
        await service.append_event(session, sent)
        assert len(session.events) == 1

    run(go())


def test_append_to_deleted_or_missing_session(service: StoreSessionService) -> None:
    async def go() -> None:
        session = await service.create_session(app_name=APP, user_id=USER, session_id="s")
        await service.append_event(session, event("one"))
        await service.delete_session(app_name=APP, user_id=USER, session_id="s")
        with pytest.raises(SessionNotFoundError):
            await service.append_event(session, event("after delete"))
        await service.delete_session(app_name=APP, user_id=USER, session_id="s")  # no error
        again = await service.create_session(app_name=APP, user_id=USER, session_id="s")
        assert (await service.get_session(app_name=APP, user_id=USER, session_id="s")).events == []  # type: ignore[union-attr]
        await service.append_event(again, event("new life"))
        with pytest.raises(SessionNotFoundError):
            await service.append_event(session, event("old life"))
        ghost = again.model_copy(update={"id": "never-created"})
        ghost._storage_update_marker = None
        with pytest.raises(SessionNotFoundError):
            await service.append_event(ghost, event("x"))
        await service.flush()

    run(go())


def test_a_retried_append_never_applies_its_delta_twice(service: StoreSessionService) -> None:
    async def go() -> None:
        first = await service.create_session(app_name=APP, user_id=USER, session_id="s1")
        other = await service.create_session(app_name=APP, user_id=USER, session_id="s2")
        marker = first._storage_update_marker
        sent = event("x is 1", {"user:x": 1})
        await service.append_event(first, sent)  # landed, but say its response was lost
        await service.append_event(other, event("x is 2", {"user:x": 2}))
        retry = first.model_copy(deep=True)
        retry.events = []
        retry._storage_update_marker = marker
        await service.append_event(retry, sent.model_copy(deep=True))  # the caller retries
        # applied once: the retry did not bring x back to 1 over the newer 2
        assert await service.get_user_state(app_name=APP, user_id=USER) == {"x": 2}
        loaded = await service.get_session(app_name=APP, user_id=USER, session_id="s1")
        assert loaded is not None
        assert len(loaded.events) == 1

    run(go())


def test_an_append_that_failed_after_its_event_is_completed_by_its_retry(
    service: StoreSessionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def go() -> None:
        session = await service.create_session(app_name=APP, user_id=USER, session_id="s")
        real_update = service._users.update
        calls = 0

        async def failing_once(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise BackendUnavailable("injected: the user: update failed")
            return await real_update(*args, **kwargs)

        monkeypatch.setattr(service._users, "update", failing_once)
        sent = event("hello", {"user:greeted": True, "k": 1})
        with pytest.raises(BackendUnavailable):
            await service.append_event(session, sent)
        # between the two: the event is stored, its user: delta is not
        between = await service.get_session(app_name=APP, user_id=USER, session_id="s")
        assert between is not None
        assert len(between.events) == 1
        assert "user:greeted" not in between.state
        await service.append_event(session, sent)  # the retry, through the same session
        after = await service.get_session(app_name=APP, user_id=USER, session_id="s")
        assert after is not None
        assert len(after.events) == 1
        assert after.state == {"k": 1, "user:greeted": True}
        assert session.events == after.events

    run(go())
