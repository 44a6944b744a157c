"""ADK ``run_live`` against the fake Gemini Live server (loopback TLS), with our session
service and the resumption plugin: a reconnect after a non-resumable update resumes the
server session, and the next run starts from the stored handle."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import pytest
from google.adk.agents.llm_agent import LlmAgent
from google.adk.agents.run_config import RunConfig
from google.adk.live.live_request_queue import LiveRequestQueue
from google.adk.models.google_llm import Gemini
from google.adk.runners import Runner
from google.genai import types

from sessionstore.adapters.adk import LiveResumptionPlugin, StoreSessionService
from support.live_server import MODEL, FakeLiveServer, live_client

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Iterator
    from pathlib import Path

    from google.adk.events.event import Event

APP, USER, SESSION = "voice", "caller 1", "call-1"


@pytest.fixture(scope="module")
def live_server() -> Iterator[FakeLiveServer]:
    with FakeLiveServer() as server:
        yield server


def _runner(
    server: FakeLiveServer, service: StoreSessionService, plugins: list[LiveResumptionPlugin]
) -> Runner:
    agent = LlmAgent(
        name="voice_agent",
        model=Gemini(model=MODEL, client=live_client(server.url, server.ca_file)),
        instruction="Answer briefly.",
    )
    return Runner(app_name=APP, agent=agent, session_service=service, plugins=list(plugins))


def _config() -> RunConfig:
    return RunConfig(
        response_modalities=[types.Modality.TEXT],
        session_resumption=types.SessionResumptionConfig(),
    )


def _update(event: Event) -> types.LiveServerSessionResumptionUpdate | None:
    return event.live_session_resumption_update


class Pump:
    """Consumes a run_live stream in a task (the flow only reconnects while consumed)."""

    def __init__(self, stream: AsyncGenerator[Event, None]) -> None:
        self.stream = stream
        self.events: asyncio.Queue[Event | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for event in self.stream:
                await self.events.put(event)
        finally:
            await self.events.put(None)

    async def until(self, done: Callable[[Event], bool]) -> None:
        """Take events until ``done`` says so (bounded in time, so a failure cannot hang)."""

        async def take() -> None:
            while (event := await self.events.get()) is not None:
                if done(event):
                    return
            raise AssertionError("the run ended first")

        await asyncio.wait_for(take(), timeout=20)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.stream.aclose()


def _text(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


async def _reconnect_after_non_resumable_update(
    server: FakeLiveServer, runner: Runner
) -> tuple[str, str | None]:
    """One run: a turn, a non-resumable update, go_away, another turn; returns (the newest
    resumable handle before go_away, the handle the reconnect presented)."""
    before = len(server.connections)
    queue = LiveRequestQueue()
    queue.send_content(_text("hello"))
    pump = Pump(
        runner.run_live(
            user_id=USER, session_id=SESSION, live_request_queue=queue, run_config=_config()
        )
    )
    try:
        # The turn: the server sends a non-resumable update, the reply, a resumable
        # update, turnComplete and one more resumable update.
        resumable = 0

        def second_resumable(event: Event) -> bool:
            nonlocal resumable
            update = _update(event)
            resumable += bool(update and update.resumable)
            return resumable == 2

        await pump.until(second_resumable)
        record = server.connection(-1)
        newest = record.last_resumable_handle
        assert newest is not None
        server.push_update(record.id, None, resumable=False)  # ADK now holds None
        await pump.until(lambda e: bool(_update(e)) and not _update(e).resumable)  # type: ignore[union-attr]
        server.go_away(record.id, time_left=30.0)
        # ADK closes the old socket when it reconnects; then a turn on the new one
        assert await asyncio.wait_for(asyncio.to_thread(record.closed.wait, 20), timeout=25)
        queue.send_content(_text("still there?"))
        await pump.until(lambda e: bool(e.turn_complete))
        # and the update the server sends after turnComplete (its newest handle)
        await pump.until(lambda e: bool(_update(e)) and bool(_update(e).resumable))  # type: ignore[union-attr]
    finally:
        queue.close()
        await pump.stop()
    assert len(server.connections) == before + 2
    return newest, server.connection(before + 1).resumed_with


@pytest.mark.slow
def test_reconnect_resumes_and_the_next_run_is_seeded(
    live_server: FakeLiveServer, tmp_path: Path
) -> None:
    service = StoreSessionService.from_url(f"file://{tmp_path}/store")
    plugin = LiveResumptionPlugin(service.store)
    runner = _runner(live_server, service, [plugin])

    async def go() -> None:
        await service.create_session(app_name=APP, user_id=USER, session_id=SESSION)
        newest, presented = await _reconnect_after_non_resumable_update(live_server, runner)
        assert presented == newest  # resumed, not a brand-new server session
        assert live_server.connections[-1].outcome == "resumed"

        stored = await plugin.stored_handle(APP, USER, SESSION)
        assert stored == live_server.connections[-1].last_resumable_handle
        # A new run (a new process, say) with no handle in its RunConfig:
        queue = LiveRequestQueue()
        queue.send_content(_text("back again"))
        pump = Pump(
            runner.run_live(
                user_id=USER, session_id=SESSION, live_request_queue=queue, run_config=_config()
            )
        )
        try:
            await pump.until(lambda e: bool(e.turn_complete))
        finally:
            queue.close()
            await pump.stop()
        assert live_server.connections[-1].resumed_with == stored
        assert live_server.connections[-1].outcome == "resumed"
        # and the session service stored the conversation of all three connections
        session = await service.get_session(app_name=APP, user_id=USER, session_id=SESSION)
        assert session is not None
        texts = [
            p.text
            for e in session.events
            if e.content and e.content.parts
            for p in e.content.parts
            if p.text
        ]
        assert {"hello", "still there?", "back again"} <= set(texts)

    asyncio.run(go())


@pytest.mark.slow
def test_without_the_plugin_adk_starts_a_new_server_session(
    live_server: FakeLiveServer, tmp_path: Path
) -> None:
    """The failure the plugin exists for, shown on the same fake server."""
    service = StoreSessionService.from_url(f"file://{tmp_path}/store")
    runner = _runner(live_server, service, [])

    async def go() -> None:
        await service.create_session(app_name=APP, user_id=USER, session_id=SESSION)
        _, presented = await _reconnect_after_non_resumable_update(live_server, runner)
        assert presented is None
        assert live_server.connections[-1].outcome == "new"

    asyncio.run(go())
