"""``LiveResumptionPlugin``: keeps a Gemini Live session resumable across ``run_live`` runs.

ADK's live flow stores the newest resumption handle only in memory, and a
non-resumable update (sent while the model generates or runs a tool) overwrites it with
``None``: a reconnect after that (``go_away``) opens a brand-new server session. This
plugin persists the newest handle that came with ``resumable=true`` (one write per new
handle), puts it back in the invocation whenever ADK has just dropped it, and seeds
``RunConfig.session_resumption.handle`` of a new run from the store while the handle is
younger than ``handle_ttl``.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from google.adk.plugins.base_plugin import BasePlugin
from google.genai import types
from pydantic import BaseModel, ConfigDict
from typing_extensions import override

from sessionstore.ids import encode_id

if TYPE_CHECKING:
    from collections.abc import Callable

    from google.adk.agents.base_agent import BaseAgent
    from google.adk.agents.callback_context import CallbackContext
    from google.adk.agents.invocation_context import InvocationContext
    from google.adk.events.event import Event

    from sessionstore.contract import SessionPersistence

__all__ = ["LiveResumptionPlugin", "ResumeHandle"]

logger = logging.getLogger(__name__)

#: How long the Gemini API keeps a handle valid (2 hours after the session ends; we
#: count from when the handle arrived, which can only be earlier).
DEFAULT_HANDLE_TTL = 7200.0


class ResumeHandle(BaseModel):
    """The stored record: the newest resumable handle, and when it arrived (Unix seconds)."""

    model_config = ConfigDict(extra="forbid")

    handle: str
    received_at: float


class LiveResumptionPlugin(BasePlugin):
    """Persist and restore Gemini Live resumption handles for ADK ``run_live``.

    ``LiveResumptionPlugin(store)``; pass it in ``Runner(..., plugins=[plugin])``. The
    handle of session (app, user, session) is the document
    ``(namespace, <app>, "live", <user>, <session>)`` of ``store``.
    """

    def __init__(
        self,
        store: SessionPersistence,
        *,
        namespace: str = "adk",
        handle_ttl: float = DEFAULT_HANDLE_TTL,
        clock: Callable[[], float] = time.time,
        name: str = "sessionstore_live_resumption",
    ) -> None:
        super().__init__(name=name)
        self._docs = store.documents(ResumeHandle)
        self._namespace = encode_id(namespace)
        self.handle_ttl = handle_ttl
        self._clock = clock
        self._newest: dict[str, str] = {}  # invocation id -> newest resumable handle
        # invocation id -> the agents' own contexts (copies of the runner's), whose
        # handle ADK's live flow reads when it reconnects
        self._agent_contexts: dict[str, list[InvocationContext]] = {}

    def key(self, app_name: str, user_id: str, session_id: str) -> tuple[str, ...]:
        return (
            self._namespace,
            encode_id(app_name),
            "live",
            encode_id(user_id),
            encode_id(session_id),
        )

    def _key_of(self, context: InvocationContext) -> tuple[str, ...]:
        session = context.session
        return self.key(session.app_name, session.user_id, session.id)

    async def stored_handle(self, app_name: str, user_id: str, session_id: str) -> str | None:
        """The stored handle if it is still valid, else None."""
        record = await self._docs.load(self.key(app_name, user_id, session_id))
        if record is None or self._clock() - record.received_at >= self.handle_ttl:
            return None
        return record.handle

    @override
    async def before_run_callback(self, *, invocation_context: InvocationContext) -> Any:
        config = invocation_context.run_config
        current = config.session_resumption if config is not None else None
        if current is not None and current.handle:
            self._newest[invocation_context.invocation_id] = current.handle
            return None  # the caller chose a handle: theirs wins
        session = invocation_context.session
        handle = await self.stored_handle(session.app_name, session.user_id, session.id)
        if handle is None or config is None:
            return None
        resumption = (
            current.model_copy(update={"handle": handle})
            if current is not None
            else types.SessionResumptionConfig(handle=handle)
        )
        invocation_context.run_config = config.model_copy(update={"session_resumption": resumption})
        self._newest[invocation_context.invocation_id] = handle
        return None

    @override
    async def before_agent_callback(
        self, *, agent: BaseAgent, callback_context: CallbackContext
    ) -> Any:
        context = callback_context._invocation_context
        self._agent_contexts.setdefault(context.invocation_id, []).append(context)
        return None

    @override
    async def on_event_callback(
        self, *, invocation_context: InvocationContext, event: Event
    ) -> Any:
        update = event.live_session_resumption_update
        if update is None:
            return None
        invocation = invocation_context.invocation_id
        if update.resumable and update.new_handle:
            if self._newest.get(invocation) != update.new_handle:
                record = ResumeHandle(handle=update.new_handle, received_at=self._clock())
                await self._docs.save(self._key_of(invocation_context), record)
                self._newest[invocation] = update.new_handle
        elif invocation in self._newest:
            # ADK just replaced the handle by None: a reconnect would start afresh.
            for context in [invocation_context, *self._agent_contexts.get(invocation, [])]:
                if not context.live_session_resumption_handle:
                    context.live_session_resumption_handle = self._newest[invocation]
        return None

    @override
    async def after_run_callback(self, *, invocation_context: InvocationContext) -> None:
        self._newest.pop(invocation_context.invocation_id, None)
        self._agent_contexts.pop(invocation_context.invocation_id, None)
