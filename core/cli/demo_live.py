"""``sessionstore demo --live``: a Gemini Live voice session that outlives its process.

It runs against the fake Live server shipped in
``sessionstore.adapters.genai._fake_server`` (loopback, TLS with a certificate made
at start-up, a dummy API key; nothing leaves the machine), so it needs the
``genai`` extra. Acts: (1) an agent process talks three turns, every resumption
handle stored through the write-behind writer, and is SIGKILLed between turns;
(2) a new process resumes with the stored handle and sends no history; (3) the
session is handed from europe-west1 to us-central1: the old region's late save is
fenced and its Live socket closed, the new region resumes; (4) a handle the server
refuses falls back to a fresh session seeded from the transcript summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from sessionstore.cli import EXIT_OK
from sessionstore.errors import FencedError, InvalidStoreUrl, MissingDependency
from sessionstore.memory import MemoryPersistence
from sessionstore.registry import open_store

if TYPE_CHECKING:
    import argparse

    from google import genai

    from sessionstore.adapters.genai import LiveSession
    from sessionstore.adapters.genai._fake_server import FakeLiveServer
    from sessionstore.contract import SessionPersistence

SESSION = "demo-live-call"
MODEL = "gemini-live-demo"


def run(args: argparse.Namespace) -> int:
    try:
        from sessionstore.adapters.genai._fake_server import FakeLiveServer
    except ImportError as exc:
        raise MissingDependency(
            f"the live demo needs the genai extra: pip install 'sessionstore[genai]' ({exc})"
        ) from exc
    store = open_store(args.url)
    if isinstance(store, MemoryPersistence):
        raise InvalidStoreUrl("the live demo kills a process: use a file://, s3:// or gs:// URL")
    with FakeLiveServer() as server:
        asyncio.run(_acts(args.url, store, server))
    say(f"\nDone. Look at it: sessionstore show {args.url} {SESSION}")
    return EXIT_OK


async def _acts(url: str, store: SessionPersistence, server: FakeLiveServer) -> None:
    async with store:
        await store.delete(SESSION)
        say(f"sessionstore demo --live: store {url}, fake Live server {server.url}\n")
        say("1. A voice agent process talks; every resumable handle is stored as it arrives")
        killed_handle = _agent_until_killed(url, server)
        client = _client(server)
        await _resume(client, store, server, killed_handle)
        handle = await _handoff(client, store, server)
        await _refused(client, store, server, handle)


async def _resume(
    client: genai.Client, store: SessionPersistence, server: FakeLiveServer, handle: str
) -> None:
    from sessionstore.adapters.genai import LiveSession

    say("2. A new process resumes the Live session with the stored handle")
    async with LiveSession(client, store, SESSION, model=MODEL, min_interval=0.2) as live:
        record = server.connection()
        say(f"   outcome: {live.outcome.value}; setup frame carried {record.resumed_with}")
        assert record.resumed_with == handle
        say(f"   history sent before the next turn: {len(record.client_messages)} messages")
        reply = await _turn(live, 4)
        say(f"   turn 4 -> {reply}  (the server session remembered turns 1-3)")


async def _handoff(client: genai.Client, store: SessionPersistence, server: FakeLiveServer) -> str:
    from sessionstore.adapters.genai import LiveSession

    say("3. Handoff from europe-west1 to us-central1, with fencing")
    europe = LiveSession(
        client, store, SESSION, model=MODEL, owner="europe-west1/instance-7", min_interval=0.2
    )
    await europe.start()
    old = server.connection()
    assert europe.lease is not None
    say(f"   europe-west1 holds the lease (epoch {europe.lease.epoch}), {europe.outcome.value}")
    await _turn(europe, 5)
    await _settle(europe, server)
    america = await store.acquire(SESSION, "us-central1/instance-2", force=True)
    say(f"   the caller comes back through us-central1, which takes over: epoch {america.epoch}")
    europe.update(turn_count=6, phase="zombie")
    try:
        await europe.flush()
    except FencedError as exc:
        say(f"   europe-west1's late save: FencedError ({exc})")
    old.closed.wait(10)
    say(f"   europe-west1's Live socket closed: {old.closed.is_set()} (by the {old.closed_by})")
    with contextlib.suppress(FencedError):  # already raised and shown above
        await europe.aclose()
    async with LiveSession(client, store, SESSION, model=MODEL, lease=america) as live:
        record = server.connection()
        say(f"   us-central1: {live.outcome.value} with handle {record.resumed_with}")
        reply = await _turn(live, 6)
        say(f"   turn 6 -> {reply}")
        return await _settle(live, server)


async def _refused(
    client: genai.Client, store: SessionPersistence, server: FakeLiveServer, handle: str
) -> None:
    from sessionstore.adapters.genai import LiveSession

    say("4. A handle the server refuses falls back to the transcript summary")
    server.end_session_of(handle)  # as after a hard cut-off ("Deadline expired")
    async with LiveSession(client, store, SESSION, model=MODEL, min_interval=0.2) as live:
        refused, fresh = server.connections[-2:]
        say(f"   resume refused ({refused.outcome}); outcome: {live.outcome.value}")
        reply = await _turn(live, 7)
        seed = fresh.texts[0].splitlines()
        say(f"   fresh session seeded with: {seed[0]} ({len(seed) - 1} summary lines)")
        say(f"   turn 7 -> {reply}")
    final = await store.load(SESSION)
    assert final is not None
    say(f"   stored: turn {final.turn_count}, phase {final.phase}, handle {final.resume_handle}")


def _agent_until_killed(url: str, server: FakeLiveServer) -> str:
    """Act 1 in a child process; SIGKILL it once turn 3's newest handle is durable."""
    child = subprocess.Popen(
        [sys.executable, "-m", "sessionstore.cli.demo_live", url, server.url, str(server.ca_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    handle = ""
    for number in (1, 2, 3):
        child.stdin.write(f"turn {number}\n")
        child.stdin.flush()
        say(f"   {child.stdout.readline().strip()}")
        # The newest handle comes after turnComplete; wait until the child stored it.
        handle = server.connection().last_resumable_handle or ""
        child.stdin.write(f"settle {handle}\n")
        child.stdin.flush()
        say(f"   {child.stdout.readline().strip()}")
    connection = server.connection()
    say(f"   SIGKILL to process {child.pid} between turns")
    child.send_signal(signal.SIGKILL)
    child.communicate()
    connection.closed.wait(10)
    return handle


async def _agent_main(url: str, server_url: str, ca_file: str) -> None:
    from sessionstore.adapters.genai import LiveSession
    from sessionstore.adapters.genai._fake_server import client_ssl_context

    client = _make_client(server_url, client_ssl_context(ca_file))
    store = open_store(url)
    live = LiveSession(client, store, SESSION, model=MODEL, min_interval=0.2)
    await live.start()
    loop = asyncio.get_running_loop()
    while True:
        command, argument = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if command == "turn":
            reply = await _turn(live, int(argument))
            print(f"turn {argument}: {reply}", flush=True)
        else:
            if live.resume_handle != argument:
                async for message in live.receive(until_turn_complete=False):
                    update = message.session_resumption_update
                    if update is not None and update.new_handle == argument:
                        break
            await live.flush()
            print(f"  stored handle {live.resume_handle} (durable)", flush=True)


async def _turn(live: LiveSession, number: int) -> str:
    from google.genai import types

    content = types.Content(role="user", parts=[types.Part(text=f"turn {number}")])
    await live.send_client_content(turns=content)
    reply = "".join([message.text or "" async for message in live.receive()])
    summary = f"{live.snapshot.transcript_summary}caller turn {number}; agent: {reply}\n"
    live.update(turn_count=number, phase=f"turn-{number}", transcript_summary=summary)
    await live.flush()
    return reply


async def _settle(live: LiveSession, server: FakeLiveServer) -> str:
    """Wait until the newest handle the server sent is stored."""
    handle = server.connection().last_resumable_handle or ""
    if live.resume_handle != handle:
        async for message in live.receive(until_turn_complete=False):
            update = message.session_resumption_update
            if update is not None and update.new_handle == handle:
                break
    await live.flush()
    return handle


def _client(server: FakeLiveServer) -> genai.Client:
    from sessionstore.adapters.genai._fake_server import client_ssl_context

    return _make_client(server.url, client_ssl_context(server.ca_file))


def _make_client(url: str, context: object) -> genai.Client:
    from google import genai
    from google.genai import types

    options = types.HttpOptions(base_url=url, async_client_args={"ssl": context})
    return genai.Client(api_key="demo-dummy-key", http_options=options)


def say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    asyncio.run(_agent_main(*sys.argv[1:4]))
