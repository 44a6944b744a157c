"""The Live resumption plugin's logic, on a stand-in invocation context (every backend)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from google.adk.agents.run_config import RunConfig
from google.adk.events.event import Event
from google.adk.sessions.session import Session
from google.genai import types

from sessionstore.adapters.adk import LiveResumptionPlugin, ResumeHandle

if TYPE_CHECKING:
    from google.adk.agents.invocation_context import InvocationContext

    from sessionstore.contract import SessionPersistence


@dataclass
class Context:
    """The part of InvocationContext the plugin touches."""

    session: Session
    invocation_id: str = "inv-1"
    run_config: RunConfig = field(default_factory=RunConfig)
    live_session_resumption_handle: str | None = None


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _context(**options: Any) -> Context:
    return Context(session=Session(id="call 1", app_name="voice app", user_id="caller"), **options)


def _update(handle: str | None, *, resumable: bool) -> Event:
    return Event(
        author="agent",
        live_session_resumption_update=types.LiveServerSessionResumptionUpdate(
            new_handle=handle, resumable=resumable
        ),
    )


def _as_ic(context: Context) -> InvocationContext:
    return cast("InvocationContext", context)


def test_keeps_the_newest_resumable_handle_and_seeds_the_next_run(
    backend_store: SessionPersistence,
) -> None:
    clock = Clock()
    plugin = LiveResumptionPlugin(backend_store, clock=clock)

    async def go() -> None:
        context = _context()
        assert await plugin.before_run_callback(invocation_context=_as_ic(context)) is None
        assert context.run_config.session_resumption is None  # nothing stored yet
        await plugin.on_event_callback(
            invocation_context=_as_ic(context), event=_update("h1", resumable=True)
        )
        await plugin.on_event_callback(
            invocation_context=_as_ic(context), event=_update("h2", resumable=True)
        )
        # ADK sets its in-memory handle to None on a non-resumable update ...
        context.live_session_resumption_handle = None
        await plugin.on_event_callback(
            invocation_context=_as_ic(context), event=_update(None, resumable=False)
        )
        # ... the plugin puts the newest resumable one back, and the store keeps it.
        restored: str | None = context.live_session_resumption_handle
        assert restored == "h2"
        await plugin.on_event_callback(
            invocation_context=_as_ic(context), event=Event(author="agent")
        )
        await plugin.after_run_callback(invocation_context=_as_ic(context))
        assert await plugin.stored_handle("voice app", "caller", "call 1") == "h2"

        nxt = _context(
            invocation_id="inv-2",
            run_config=RunConfig(
                session_resumption=types.SessionResumptionConfig(transparent=True)
            ),
        )
        await plugin.before_run_callback(invocation_context=_as_ic(nxt))
        assert nxt.run_config.session_resumption == types.SessionResumptionConfig(
            handle="h2", transparent=True
        )

        clock.now += plugin.handle_ttl  # expired: a fresh session, not a refused resume
        late = _context(invocation_id="inv-3")
        await plugin.before_run_callback(invocation_context=_as_ic(late))
        assert late.run_config.session_resumption is None

    asyncio.run(go())


def test_a_handle_the_caller_chose_wins_and_repeats_are_not_rewritten(
    backend_store: SessionPersistence,
) -> None:
    plugin = LiveResumptionPlugin(backend_store)
    docs = backend_store.documents(ResumeHandle)

    async def go() -> None:
        first = _context()
        await plugin.before_run_callback(invocation_context=_as_ic(first))
        await plugin.on_event_callback(
            invocation_context=_as_ic(first), event=_update("stored", resumable=True)
        )
        version = await docs.load_versioned(plugin.key("voice app", "caller", "call 1"))
        assert version is not None
        await plugin.on_event_callback(
            invocation_context=_as_ic(first), event=_update("stored", resumable=True)
        )
        again = await docs.load_versioned(plugin.key("voice app", "caller", "call 1"))
        assert again is not None
        assert again.version == version.version
        chosen = _context(
            invocation_id="inv-2",
            run_config=RunConfig(session_resumption=types.SessionResumptionConfig(handle="mine")),
        )
        await plugin.before_run_callback(invocation_context=_as_ic(chosen))
        assert chosen.run_config.session_resumption.handle == "mine"  # type: ignore[union-attr]
        # a non-resumable update before any resumable one leaves ADK's None alone
        await plugin.on_event_callback(
            invocation_context=_as_ic(_context(invocation_id="inv-9")),
            event=_update(None, resumable=False),
        )

    asyncio.run(go())
