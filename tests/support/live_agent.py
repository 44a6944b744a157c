"""A voice-agent process on the fake Live server, driven line by line from stdin.

``python -m support.live_agent STORE_URL SESSION SERVER_URL CA_FILE [options]``

It prints ``ready`` (after acquiring the lease with ``--owner``), then obeys:

``connect``          open the LiveSession; prints ``outcome <outcome> <handle or ->``
``turn N``           send "turn N", read the model turn, update the snapshot, flush;
                     prints ``turn N <reply text>``
``settle HANDLE``    read messages until the adapter has stored HANDLE, flush;
                     prints ``durable HANDLE``
``late N``           update turn_count to N and flush; prints ``fenced closed=<bool>``
                     when the writer was fenced (and whether the socket is closed)
``await-signal``     read until the session is closed (by SIGTERM with
                     ``--sigterm``); prints ``closed``
``close``            close the session; prints ``closed``

Everything is printed after it happened, flushed, so the parent knows exactly
what was acknowledged before it kills this process.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from google.genai import types

from sessionstore import FencedError, open_store
from sessionstore.adapters.genai import LiveSession, close_on_signals
from support.live_server import MODEL, live_client


def say(*words: object) -> None:
    print(*words, flush=True)


async def read_line() -> str:
    line: str = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if not line:
        raise SystemExit(0)
    return line.strip()


def user_turn(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part(text=text)])


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("store_url")
    parser.add_argument("session_id")
    parser.add_argument("server_url")
    parser.add_argument("ca_file")
    parser.add_argument("--owner")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--min-interval", type=float, default=0.0)
    parser.add_argument("--sigterm", action="store_true")
    args = parser.parse_args(argv)

    store = open_store(args.store_url)
    lease = None
    if args.owner:
        lease = await store.acquire(args.session_id, args.owner, force=args.force)
    say("ready")
    live: LiveSession | None = None
    while True:
        command, *rest = (await read_line()).split()
        if command == "connect":
            live = LiveSession(
                live_client(args.server_url, args.ca_file),
                store,
                args.session_id,
                model=MODEL,
                lease=lease,
                min_interval=args.min_interval,
            )
            outcome = await live.start()
            if args.sigterm:
                close_on_signals(live)
            say("outcome", outcome.value, live.resume_handle or "-")
            continue
        assert live is not None, "connect first"
        if await obey(live, args, command, rest):
            return


async def obey(live: LiveSession, args: argparse.Namespace, command: str, rest: list[str]) -> bool:
    """Run one command on a connected session; True when the agent should exit."""
    if command == "turn":
        turn = int(rest[0])
        await live.send_client_content(turns=user_turn(f"turn {turn}"))
        reply = ""
        async for message in live.receive():
            reply += message.text or ""
        summary = f"{live.snapshot.transcript_summary}user: turn {turn}; model: {reply}\n"
        live.update(turn_count=turn, phase=f"phase-{turn}", transcript_summary=summary)
        if not args.sigterm:
            await live.flush()
        say("turn", turn, reply)
    elif command == "settle":
        handle = rest[0]
        if live.resume_handle != handle:
            async for message in live.receive(until_turn_complete=False):
                update = message.session_resumption_update
                if update is not None and update.new_handle == handle:
                    break
        await live.flush()
        say("durable", live.resume_handle)
    elif command == "late":
        live.update(turn_count=int(rest[0]))
        try:
            await live.flush()
        except FencedError:
            # The adapter closed the Live socket before raising.
            say("fenced", f"closed={not live.connected}")
            return True
        say("saved")
    elif command == "await-signal":
        async for _ in live.receive(until_turn_complete=False):
            pass
        await live.aclose()  # the close the signal started: returns once it is done
        say("closed")
        return True
    elif command == "close":
        await live.aclose()
        say("closed")
        return True
    else:
        raise SystemExit(f"unknown command {command!r}")
    return False


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
