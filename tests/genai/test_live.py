"""The Gemini Live adapter against the fake Live server, on the filesystem, S3 and GCS.

Each test is event-driven: processes report what they did on stdout, after it
happened; the server records every setup frame and client message, so "resumed
with the newest handle and sent no history" is read from what the server got.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import signal
import threading
import time
from typing import TYPE_CHECKING

import pytest
from google.genai import types

from sessionstore import FencedError, SessionSnapshot
from sessionstore.adapters.genai import (
    LIVE_STATE_KEY,
    LiveSession,
    ResumeOutcome,
    handle_received_at,
)
from sessionstore.writer import SnapshotWriter
from support.live_server import MODEL, FakeLiveServer
from support.manual_clock import ManualClock
from support.processes import spawn_module

if TYPE_CHECKING:
    import subprocess

    from google import genai

    from support.gcs_server import GcsEmulator, LoggedRequest

    from .conftest import Backend

SESSION = "call-42"


def user(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


async def turn(live: LiveSession, number: int) -> str:
    await live.send_client_content(turns=user(f"turn {number}"))
    reply = "".join([m.text or "" async for m in live.receive()])
    summary = f"{live.snapshot.transcript_summary}turn {number}: {reply}\n"
    live.update(turn_count=number, phase=f"phase-{number}", transcript_summary=summary)
    return reply


async def collect(live: LiveSession) -> list[types.LiveServerMessage]:
    return [message async for message in live.receive()]


async def until_handle(live: LiveSession, handle: str) -> None:
    """Read messages until the adapter has processed the update carrying ``handle``."""
    if live.resume_handle == handle:
        return
    async for message in live.receive(until_turn_complete=False):
        update = message.session_resumption_update
        if update is not None and update.new_handle == handle:
            return


class Agent:
    """A ``support.live_agent`` process: send commands, wait for its report lines."""

    def __init__(self, backend: Backend, server: FakeLiveServer, *options: str) -> None:
        self.process: subprocess.Popen[str] = spawn_module(
            "support.live_agent",
            backend.url,
            SESSION,
            server.url,
            str(server.ca_file),
            *options,
            env=backend.env,
            stdin=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def expect(self, word: str, timeout: float = 60) -> list[str]:
        line = self.lines.get(timeout=timeout)
        if line is None:
            _, err = self.process.communicate(timeout=10)
            raise AssertionError(f"agent exited ({self.process.returncode}) before {word!r}: {err}")
        parts = line.split()
        assert parts[0] == word, line
        return parts[1:]

    def ask(self, command: str, word: str) -> list[str]:
        self.send(command)
        return self.expect(word)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.communicate(timeout=30)

    def finish(self) -> int:
        self.process.communicate(timeout=30)
        return self.process.returncode


# ------------------------------------------------------------- crash and resume


def test_sigkill_between_turns_then_the_new_process_resumes_with_the_newest_handle(
    backend: Backend, live_server: FakeLiveServer
) -> None:
    first = Agent(backend, live_server)
    first.expect("ready")
    assert first.ask("connect", "outcome")[0] == "new"
    connection = live_server.connection()
    for number in (1, 2, 3):
        first.ask(f"turn {number}", "turn")
    # The newest resumable handle came *after* turnComplete (SDK's receive() had stopped).
    newest = connection.last_resumable_handle
    assert newest is not None
    assert connection.handles_sent[-1] == (newest, True)
    assert first.ask(f"settle {newest}", "durable") == [newest]
    first.kill()
    assert connection.closed.wait(10)

    second = Agent(backend, live_server)
    second.expect("ready")
    outcome, handle = second.ask("connect", "outcome")
    assert (outcome, handle) == ("resumed", newest)
    resumed = live_server.connection()
    assert resumed.resumed_with == newest
    assert resumed.setup["sessionResumption"] == {"handle": newest}
    assert resumed.outcome == "resumed"
    assert resumed.session == connection.session
    assert resumed.client_messages == []  # no history replayed
    reply = second.ask("turn 4", "turn")
    assert "reply 4" in " ".join(reply)  # the server session remembered turns 1-3
    assert resumed.texts == ["turn 4"]
    second.ask("close", "closed")
    assert second.finish() == 0
    stored = asyncio.run(backend.open().load(SESSION))
    assert stored is not None
    assert stored.turn_count == 4
    assert stored.resume_handle == resumed.last_resumable_handle


def test_a_non_resumable_update_never_replaces_the_stored_handle(
    backend: Backend, live_server: FakeLiveServer, client: genai.Client
) -> None:
    async def scenario() -> None:
        store = backend.open()
        async with LiveSession(client, store, SESSION, model=MODEL, min_interval=0) as live:
            await turn(live, 1)
            connection = live_server.connection()
            good = connection.last_resumable_handle
            assert good is not None
            await until_handle(live, good)
            await live.flush()
            live_server.push_update(connection.id, None, resumable=False)
            live_server.push_update(connection.id, "not-resumable-yet", resumable=False)
            live_server.push_update(connection.id, "", resumable=True)
            marker = live_server.push_update(connection.id, "marker-only", resumable=False)
            async for message in live.receive(until_turn_complete=False):
                update = message.session_resumption_update
                if update is not None and update.new_handle == marker:
                    break
            live.update(phase="after-updates")  # a save after the updates
            await live.flush()
            assert live.resume_handle == good
            stored = await store.load(SESSION)
            assert stored is not None
            assert stored.phase == "after-updates"
            assert stored.resume_handle == good
            assert handle_received_at(stored) is not None

    asyncio.run(scenario())


@pytest.mark.parametrize("why", ["refused", "expired"])
def test_a_refused_or_expired_handle_falls_back_to_a_fresh_session_seeded_from_the_summary(
    backend: Backend, live_server: FakeLiveServer, client: genai.Client, why: str
) -> None:
    async def scenario() -> None:
        store = backend.open()
        async with LiveSession(client, store, SESSION, model=MODEL, min_interval=0) as live:
            await turn(live, 1)
            await turn(live, 2)
            first = live_server.connection()
            newest = first.last_resumable_handle
            assert newest is not None
            await until_handle(live, newest)
        stored = await store.load(SESSION)
        assert stored is not None
        assert stored.resume_handle == newest
        summary = stored.transcript_summary
        assert "turn 2" in summary

        clock = time.time
        if why == "refused":
            live_server.end_session_of(newest)  # e.g. after a hard cut-off
        else:
            received = handle_received_at(stored)
            assert received is not None
            clock = lambda: received + 2 * 3600 + 1  # noqa: E731  # past the 2 h window
        attempts_before = len(live_server.connections)
        async with LiveSession(
            client, store, SESSION, model=MODEL, min_interval=0, clock=clock
        ) as live:
            assert live.outcome is (
                ResumeOutcome.REFUSED if why == "refused" else ResumeOutcome.EXPIRED
            )
            assert live.outcome.seeded
            tried = live_server.connections[attempts_before:]
            if why == "refused":
                assert [c.resumed_with for c in tried] == [newest, None]
                assert tried[0].outcome.startswith("refused")
            else:  # an expired handle is not even tried
                assert [c.resumed_with for c in tried] == [None]
            fresh = tried[-1]
            assert fresh.outcome == "new"
            assert live.resume_handle is None  # the dead handle is dropped
            await turn(live, 3)  # the server has seen everything sent before it
            seed, asked = fresh.client_contents
            assert seed["turnComplete"] is False
            assert summary in fresh.texts[0]
            assert fresh.texts[1:] == ["turn 3"]
            assert asked["turnComplete"] is True
            await live.flush()
        stored = await store.load(SESSION)
        assert stored is not None
        assert stored.turn_count == 3
        assert stored.resume_handle == fresh.last_resumable_handle

    asyncio.run(scenario())


# ----------------------------------------------------------------- handoff


def test_two_process_handoff_fences_the_old_owner_and_closes_its_socket(
    backend: Backend, live_server: FakeLiveServer
) -> None:
    europe = Agent(backend, live_server, "--owner", "europe-west1")
    europe.expect("ready")
    europe.ask("connect", "outcome")
    old = live_server.connection()
    europe.ask("turn 1", "turn")
    europe.ask("turn 2", "turn")
    newest = old.last_resumable_handle
    assert newest is not None
    europe.ask(f"settle {newest}", "durable")

    america = Agent(backend, live_server, "--owner", "us-central1", "--force")
    america.expect("ready")  # acquired: europe-west1 is fenced from here on

    assert europe.ask("late 3", "fenced") == ["closed=True"]
    assert old.closed.wait(10)
    assert old.closed_by == "client"
    assert europe.finish() == 0

    outcome, handle = america.ask("connect", "outcome")
    assert (outcome, handle) == ("resumed", newest)
    new = live_server.connection()
    assert new.resumed_with == newest
    assert new.client_messages == []
    america.ask("turn 3", "turn")
    america.ask("close", "closed")
    assert america.finish() == 0

    stored = asyncio.run(backend.open().load(SESSION))
    assert stored is not None
    assert stored.turn_count == 3  # europe's late turn 3 never landed; america's did
    assert "reply 3" in stored.transcript_summary


def test_owner_acquires_and_a_takeover_stops_the_session(
    live_server: FakeLiveServer, client: genai.Client
) -> None:
    from sessionstore import MemoryPersistence

    async def scenario() -> None:
        store = MemoryPersistence()
        live = LiveSession(client, store, SESSION, model=MODEL, owner="region-a", min_interval=0)
        async with live:
            assert live.lease is not None
            await turn(live, 1)
            await live.flush()
            connection = live_server.connection()
            await store.acquire(SESSION, "region-b", force=True)
            live.update(turn_count=2)  # the late save
            with pytest.raises(FencedError):
                async for _ in live.receive():
                    pass
            assert connection.closed.wait(10)
            assert not live.connected
            with pytest.raises(FencedError):
                live.update(turn_count=3)
            with pytest.raises(FencedError):
                await live.send_client_content(turns=user("too late"))
        stored = await store.load(SESSION)
        assert stored is not None
        assert stored.turn_count == 1

    with pytest.raises(FencedError):  # leaving the block raises it too: never swallowed
        asyncio.run(scenario())


def test_owner_releases_the_lease_on_a_clean_close(
    live_server: FakeLiveServer, client: genai.Client
) -> None:
    from sessionstore import MemoryPersistence

    async def scenario() -> None:
        store = MemoryPersistence()
        async with LiveSession(client, store, SESSION, model=MODEL, owner="a", min_interval=0):
            pass
        lease = await store.acquire(SESSION, "b")  # no force needed: released
        assert lease.epoch == 2

    asyncio.run(scenario())


# --------------------------------------------------------- rate and bursts


def test_a_burst_of_50_updates_in_one_second_costs_at_most_2_writes(backend: Backend) -> None:
    async def scenario() -> None:
        clock = ManualClock()
        store = backend.open()
        writer = SnapshotWriter(store, SESSION, min_interval=1.0, clock=clock, sleep=clock.sleep)
        for number in range(1, 51):  # 50 updates over 0.98 s of writer time
            writer.submit(SessionSnapshot(phase="talking", turn_count=number))
            await asyncio.sleep(0.005)  # a live loop between messages; real I/O can finish
            clock.advance(0.02)
        flushed = asyncio.ensure_future(writer.flush())
        sleeping = asyncio.ensure_future(clock.until_sleeping())
        await asyncio.wait([flushed, sleeping], return_when=asyncio.FIRST_COMPLETED)
        clock.advance(1.0)
        await flushed
        sleeping.cancel()
        assert backend.writes(SESSION) <= 2
        assert backend.writes(SESSION) == writer.writes
        stored = await store.load(SESSION)
        assert stored is not None
        assert stored.turn_count == 50
        await writer.aclose()

    asyncio.run(scenario())


def test_on_gcs_the_writer_never_exceeds_the_configured_rate(
    gcs_server: GcsEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """Request times are taken at the emulator's proxy, as each upload is answered."""
    from sessionstore import open_store

    interval = 0.3
    stamps: list[tuple[float, LoggedRequest]] = []
    original = gcs_server._log

    def log(entry: LoggedRequest) -> None:
        stamps.append((time.monotonic(), entry))
        original(entry)

    monkeypatch.setattr(gcs_server, "_log", log)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.url)

    async def scenario() -> None:
        store = open_store("gs://sessionstore-tests/rate-test")
        writer = SnapshotWriter(store, SESSION, min_interval=interval)
        for number in range(1, 121):  # an update every 10 ms for 1.2 s
            writer.submit(SessionSnapshot(phase="talking", turn_count=number))
            await asyncio.sleep(0.01)
        await writer.aclose()
        stored = await store.load(SESSION)
        assert stored is not None
        assert stored.turn_count == 120
        await store.aclose()

    asyncio.run(scenario())
    uploads = [at for at, entry in stamps if entry.is_upload]
    assert len(uploads) >= 3  # it did keep writing during the burst
    gaps = [b - a for a, b in itertools.pairwise(uploads)]
    assert min(gaps) >= interval, gaps


# ------------------------------------------------------ go_away, 1011, SIGTERM


def test_go_away_flushes_and_reconnects_with_the_newest_handle_before_time_runs_out(
    live_server: FakeLiveServer, client: genai.Client, tmp_path: object
) -> None:
    from sessionstore import FsPersistence

    async def scenario() -> None:
        store = FsPersistence(f"{tmp_path}/sessions")
        async with LiveSession(client, store, SESSION, model=MODEL, min_interval=0) as live:
            await turn(live, 1)
            old = live_server.connection()
            newest = old.last_resumable_handle
            assert newest is not None
            await until_handle(live, newest)
            live_server.go_away(old.id, time_left=20.0)
            async for message in live.receive(until_turn_complete=False):
                if message.go_away is not None:
                    break
            # The caller's loop just keeps going: the reconnect happens underneath, and
            # sends wait for it.
            await live.send_client_content(turns=user("turn 2"))
            reply = "".join([m.text or "" async for m in live.receive()])
            assert "reply 2" in reply
            assert live.outcomes == [ResumeOutcome.NEW, ResumeOutcome.RESUMED]
            new = live_server.connection()
            assert new.resumed_with == newest
            assert new.texts == ["turn 2"]  # no history
            assert old.closed_by == "client"  # closed by us, not cut by the server
            assert old.closed_at is not None
            assert old.go_away_at is not None
            assert old.closed_at - old.go_away_at < 20.0
            assert new.opened_at >= old.closed_at  # old socket closed before resuming
        stored = await store.load(SESSION)
        assert stored is not None
        assert stored.state[LIVE_STATE_KEY]

    asyncio.run(scenario())


def test_go_away_during_a_turn_finishes_the_turn_then_resumes(
    live_server: FakeLiveServer, client: genai.Client
) -> None:
    from sessionstore import MemoryPersistence

    async def scenario() -> None:
        store = MemoryPersistence()
        async with LiveSession(client, store, SESSION, model=MODEL, min_interval=0) as live:
            await turn(live, 1)
            old = live_server.connection()
            first_handles = {h for h, ok in old.handles_sent if ok}
            live_server.go_away_during_next_turn(20.0)
            connections = len(live.outcomes)
            await live.send_client_content(turns=user("turn 2"))
            # Bounded: a reader that dropped the old socket at go_away would wait forever.
            messages = await asyncio.wait_for(collect(live), 30)
            assert any(m.go_away is not None for m in messages)
            assert "reply 2" in "".join(m.text or "" for m in messages)  # the whole turn
            assert await live.connection_after(connections) is ResumeOutcome.RESUMED
            new = live_server.connection()
            assert new.resumed_with not in first_handles  # a handle from turn 2
            assert new.resumed_with in [h for h, ok in old.handles_sent if ok]
            assert old.closed_by == "client"
            reply = await turn(live, 3)
            assert "reply 3" in reply  # same server session
            assert new.texts == ["turn 3"]

    asyncio.run(scenario())


def test_a_1011_close_reconnects_and_a_refused_handle_falls_back_to_the_summary(
    live_server: FakeLiveServer, client: genai.Client
) -> None:
    from sessionstore import MemoryPersistence

    async def scenario() -> None:
        store = MemoryPersistence()
        async with LiveSession(client, store, SESSION, model=MODEL, min_interval=0) as live:
            await turn(live, 1)
            old = live_server.connection()
            await until_handle(live, old.last_resumable_handle or "")
            connections = len(live.outcomes)
            live_server.close(old.id, 1011, "Deadline expired")  # ends the server session
            assert await live.connection_after(connections) is ResumeOutcome.REFUSED
            await live.send_client_content(turns=user("turn 2"))
            reply = "".join([m.text or "" async for m in live.receive()])
            assert "reply 1" in reply  # a new server session: its first turn
            assert live.outcomes == [
                ResumeOutcome.NEW,
                ResumeOutcome.REFUSED,
            ]
            refused, fresh = live_server.connections[-2:]
            assert refused.resumed_with == old.last_resumable_handle
            assert fresh.texts[0].startswith("Context:")
            assert fresh.texts[1] == "turn 2"

    asyncio.run(scenario())


def test_sigterm_flushes_the_newest_snapshot_before_exit(
    live_server: FakeLiveServer, tmp_path: object
) -> None:
    from sessionstore import FsPersistence

    url = f"file://{tmp_path}/sessions"
    backend = type("B", (), {"url": url, "env": {}})()
    agent = Agent(backend, live_server, "--sigterm", "--min-interval", "1.0")
    agent.expect("ready")
    agent.ask("connect", "outcome")
    agent.ask("turn 1", "turn")  # submitted, not flushed: within 1 s of the first write
    agent.send("await-signal")
    agent.process.send_signal(signal.SIGTERM)
    agent.expect("closed", timeout=10)
    assert agent.finish() == 0
    stored = FsPersistence(f"{tmp_path}/sessions").blocking.load(SESSION)
    assert stored is not None
    assert stored.turn_count == 1
    assert "reply 1" in stored.transcript_summary
