"""Differential test: random operation sequences on ADK's own InMemorySessionService and
on ours, compared after every step (events, state, ordering), shrunk by hypothesis."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.events.event import Event
from google.adk.events.event_actions import EventActions
from google.adk.sessions.base_session_service import GetSessionConfig
from google.adk.sessions.in_memory_session_service import InMemorySessionService
from google.genai import types
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessionstore.adapters.adk import StoreSessionService
from sessionstore.adapters.adk._layout import CHUNK

if TYPE_CHECKING:
    from google.adk.sessions.session import Session

    from sessionstore.contract import SessionPersistence

APPS = ["app", "app 2"]
USERS = ["u1", "ü 2"]
KEYS = ["a", "b", "app:a", "app:b", "user:a", "user:b", "temp:a"]

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.text(max_size=3),
    st.lists(st.integers(0, 2), max_size=2),
    st.dictionaries(st.sampled_from(["x", "y"]), st.integers(0, 2), max_size=2),
)
deltas = st.dictionaries(st.sampled_from(KEYS), values, max_size=3)
# few places, so sequences meet: the same session created, appended to, read, deleted
where = st.sampled_from(
    [("app", "u1", "s1"), ("app", "u1", " s1 "), ("app", "ü 2", "s1"), ("app 2", "u1", "s2")]
)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), where, deltas),
        st.tuples(st.just("append"), where, deltas, st.integers(0, 2)),
        st.tuples(st.just("burst"), where, st.integers(1, CHUNK + 2)),
        st.tuples(
            st.just("get"),
            where,
            st.sampled_from([None, 0, 1, 3, 70]),
            st.sampled_from([None, 0, 1, 2, 3]),
        ),
        st.tuples(st.just("list"), st.sampled_from(APPS), st.sampled_from([None, *USERS])),
        st.tuples(st.just("delete"), where),
        st.tuples(st.just("user_state"), st.sampled_from(APPS), st.sampled_from(USERS)),
    ),
    max_size=16,
)


def _view(session: Session | None) -> Any:
    if session is None:
        return None
    return (
        session.app_name,
        session.user_id,
        session.id,
        session.state,
        [e.model_dump() for e in session.events],
    )


class Pair:
    """The reference and ours, driven with the same calls and the same event objects."""

    def __init__(self, store: SessionPersistence) -> None:
        self.ref = InMemorySessionService()
        self.ours = StoreSessionService(store)
        self.live: dict[tuple[str, str, str], tuple[Session, Session]] = {}
        self.clock = 1000.0

    def event(self, delta: dict[str, Any], tick: int) -> Event:
        self.clock += tick  # ties allowed: ordering must still follow append order
        return Event(
            author="agent",
            invocation_id="inv",
            content=types.Content(role="model", parts=[types.Part(text=f"t{self.clock}")]),
            actions=EventActions(state_delta=dict(delta)),
            timestamp=self.clock,
        )

    async def step(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "create":
            (app, user, sid), delta = op[1], op[2]
            outcomes: list[Session | None] = []
            for service in (self.ref, self.ours):
                try:
                    made = await service.create_session(
                        app_name=app, user_id=user, session_id=sid, state=dict(delta)
                    )
                    outcomes.append(made)
                except AlreadyExistsError:
                    outcomes.append(None)
            assert (outcomes[0] is None) == (outcomes[1] is None)
            if outcomes[0] is not None and outcomes[1] is not None:
                assert outcomes[0].id == outcomes[1].id
                assert outcomes[0].state == outcomes[1].state
                self.live[(app, user, outcomes[0].id)] = (outcomes[0], outcomes[1])
        elif kind in ("append", "burst"):
            app, user, sid = op[1]
            key = (app, user, sid.strip())
            if key not in self.live:
                return
            ref_session, our_session = self.live[key]
            batch = [(op[2], op[3])] if kind == "append" else [({"b": i}, 0) for i in range(op[2])]
            for delta, tick in batch:
                sent = self.event(delta, tick)
                await self.ref.append_event(ref_session, sent.model_copy(deep=True))
                await self.ours.append_event(our_session, sent.model_copy(deep=True))
                assert _view(ref_session) == _view(our_session)
        elif kind == "get":
            app, user, sid = op[1]
            config = (
                None
                if op[2] is None and op[3] is None
                else GetSessionConfig(
                    num_recent_events=op[2],
                    after_timestamp=None if op[3] is None else 1000.0 + op[3],
                )
            )
            ref = await self.ref.get_session(
                app_name=app, user_id=user, session_id=sid, config=config
            )
            ours = await self.ours.get_session(
                app_name=app, user_id=user, session_id=sid, config=config
            )
            assert _view(ref) == _view(ours)
            if ref is not None and ours is not None and config is None:
                assert ref.last_update_time == ours.last_update_time
                self.live[(app, user, sid.strip())] = (ref, ours)  # append through the fresh copies
        elif kind == "list":
            app, user = op[1], op[2]
            ref_list = (await self.ref.list_sessions(app_name=app, user_id=user)).sessions
            our_list = (await self.ours.list_sessions(app_name=app, user_id=user)).sessions
            # Creation times differ between the two services: compare ordering among
            # sessions that have events (their times are the events'), and the content.
            assert sorted(map(_view, ref_list), key=repr) == sorted(map(_view, our_list), key=repr)
            ref_timed = [s.id + s.user_id for s in ref_list if self._has_events(app, s)]
            our_timed = [s.id + s.user_id for s in our_list if self._has_events(app, s)]
            assert ref_timed == our_timed
        elif kind == "delete":
            app, user, sid = op[1]
            await self.ref.delete_session(app_name=app, user_id=user, session_id=sid)
            await self.ours.delete_session(app_name=app, user_id=user, session_id=sid)
            self.live.pop((app, user, sid.strip()), None)
        elif kind == "user_state":
            app, user = op[1], op[2]
            assert await self.ref.get_user_state(
                app_name=app, user_id=user
            ) == await self.ours.get_user_state(app_name=app, user_id=user)

    def _has_events(self, app: str, session: Session) -> bool:
        stored = self.ref.sessions.get(app, {}).get(session.user_id, {}).get(session.id)
        return bool(stored and stored.events)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(ops=operations)
def test_matches_in_memory_session_service(
    backend_store: SessionPersistence, ops: list[tuple[Any, ...]]
) -> None:
    namespace = f"d{uuid.uuid4().hex[:12]}"  # every example starts from an empty namespace
    pair_store = backend_store

    async def go() -> None:
        pair = Pair(pair_store)
        pair.ours = StoreSessionService(pair_store, namespace=namespace)
        for op in ops:
            await pair.step(op)
        for app in APPS:
            await pair.step(("list", app, None))
            for user in USERS:
                await pair.step(("user_state", app, user))

    asyncio.run(go())
