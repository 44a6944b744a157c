"""``sessionstore demo``: a live agent session survives its process, and nobody overwrites it.

Acts: (1) an agent process saves each turn; (2) it is killed with SIGKILL;
(3) a new process resumes from the snapshot; (4) a stale writer is refused with
a conflict; (5) a multi-region handoff fences the old region's late write; (6) the
same turn delivered twice at once (a Lambda retry, a queue redelivery) is applied once.
On a persistent store act 1 runs in a real child process that really dies;
``memory://`` cannot outlive a process, so there the acts share one process.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from sessionstore.cli import EXIT_OK
from sessionstore.errors import ConflictError, FencedError
from sessionstore.memory import MemoryPersistence
from sessionstore.model import SessionSnapshot
from sessionstore.registry import open_store

if TYPE_CHECKING:
    import argparse

    from sessionstore.blocking import BlockingSessionPersistence

SESSION = "demo-call"
PHASES = ["greeting", "collect-details", "collect-details", "confirm", "wrap-up"]


def turn_snapshot(turn: int, owner: str = "instance-1") -> SessionSnapshot:
    """What a voice agent keeps between turns, at ``turn``."""
    return SessionSnapshot(
        state={
            "caller": "Alice",
            "order": {"items": turn, "express": turn > 2},
            "served_by": owner,
        },
        phase=PHASES[min(turn, len(PHASES)) - 1],
        turn_count=turn,
        transcript_summary=f"{turn} turns: caller is ordering; last turn by {owner}",
        resume_handle=f"live-resume-{turn:04d}",
    )


def run(args: argparse.Namespace) -> int:
    store = open_store(args.url)
    in_process = isinstance(store, MemoryPersistence)
    with store.blocking as blocking:
        say(f"sessionstore demo: store {args.url} ({type(store).__name__})\n")
        blocking.delete(SESSION)

        say("1. A live agent session saves its state after every turn")
        if in_process:
            versions = [blocking.save(SESSION, turn_snapshot(turn)) for turn in (1, 2, 3)]
            for turn, version in enumerate(versions, 1):
                say(f"   turn {turn}  phase={PHASES[turn - 1]:<16} version {short(version)}")
            say("2. The instance dies (simulated: memory:// lives only in this process)")
        else:
            versions = agent_process_until_killed(args.url)
        last_acknowledged = versions[-1]

        say("3. A new process picks the session up where it stopped")
        resumed = blocking.load_versioned(SESSION)
        assert resumed is not None, "the acknowledged snapshot must be there"
        snapshot = resumed.snapshot
        say(
            f"   loaded turn {snapshot.turn_count}, phase={snapshot.phase}, "
            f"resume handle {snapshot.resume_handle!r}"
        )
        version = blocking.save(
            SESSION, turn_snapshot(4, "instance-2"), expected_version=resumed.version
        )
        say(f"   turn 4 saved on top of version {short(resumed.version)} -> {short(version)}")

        say("4. A stale writer cannot overwrite it")
        try:
            blocking.save(SESSION, turn_snapshot(3), expected_version=last_acknowledged)
        except ConflictError as exc:
            say(f"   a late retry from the dead instance is refused: ConflictError ({exc})")
        current = blocking.load(SESSION)
        assert current is not None
        assert current.turn_count == 4
        say(f"   stored session is still at turn {current.turn_count}")

        handoff(blocking)
        double_invocation(blocking, args.url, in_process)
        if not in_process:
            say(f"\nDone. Look at it: {command_line()} show {shlex.quote(args.url)} {SESSION}")
    return EXIT_OK


def handoff(blocking: BlockingSessionPersistence) -> None:
    say("5. Multi-region handoff with fencing")
    europe = blocking.acquire(SESSION, "europe-west1/instance-2")
    say(f"   europe-west1 holds the session: epoch {europe.epoch}")
    europe.save(turn_snapshot(5, "europe-west1"))
    say("   europe-west1 saves turn 5")
    say("   the caller reconnects through us-central1, which takes over")
    america = blocking.acquire(SESSION, "us-central1/instance-9", force=True)
    say(f"   us-central1 acquires: epoch {america.epoch} (europe-west1 had {europe.epoch})")
    america.save(turn_snapshot(6, "us-central1"))
    say("   us-central1 saves turn 6")
    try:
        europe.save(turn_snapshot(6, "europe-west1"))
    except FencedError as exc:
        say(f"   europe-west1, paused and now a zombie, saves late: FencedError ({exc})")
    final = blocking.load(SESSION)
    assert final is not None
    say(f"   stored: turn {final.turn_count} by {final.state['served_by']}, epoch {america.epoch}")
    america.release()


REQUEST_ID = "lambda-request-7f3a"


def next_turn(current: SessionSnapshot | None) -> SessionSnapshot:
    """One more turn, as the agent's handler computes it."""
    turn = 1 if current is None else current.turn_count + 1
    return turn_snapshot(turn, "lambda")


def double_invocation(blocking: BlockingSessionPersistence, url: str, in_process: bool) -> None:
    say("6. The same turn is delivered twice at once (a Lambda retry, a queue redelivery)")
    before = blocking.load(SESSION)
    assert before is not None
    if in_process:
        answers = [
            blocking.update(SESSION, next_turn, idempotency_key=REQUEST_ID).version
            for _ in range(2)
        ]
    else:
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "sessionstore.cli.demo", "--invoke", url, REQUEST_ID],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        answers = [child.communicate()[0].strip() for child in children]
        for child in children:
            if child.returncode != 0:
                raise SystemExit(f"an invocation process failed ({child.returncode})")
        say(f"   two processes ran request {REQUEST_ID} at the same moment")
    after = blocking.load(SESSION)
    assert after is not None
    assert after.turn_count == before.turn_count + 1, "a keyed turn must apply exactly once"
    say(
        f"   turn {before.turn_count} -> {after.turn_count}: applied once; both invocations "
        f"answered version {short(answers[0])}"
        + ("" if len(set(answers)) == 1 else f" and {short(answers[1])}")
    )


def invocation_main(url: str, request_id: str) -> None:
    """A child process of act 6: handle one delivery of the request."""
    result = open_store(url).blocking.update(SESSION, next_turn, idempotency_key=request_id)
    print(result.version, flush=True)


def agent_process_until_killed(url: str) -> list[str]:
    """Run act 1 in a child process, then SIGKILL it: no shutdown hook gets to run."""
    child = subprocess.Popen(
        [sys.executable, "-m", "sessionstore.cli.demo", url],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert child.stdout is not None
    versions: list[str] = []
    for line in child.stdout:
        turn, version = line.split()
        versions.append(version)
        say(f"   turn {turn}  phase={PHASES[int(turn) - 1]:<16} version {short(version)}")
        if len(versions) == 3:
            break
    say(f"2. The instance dies: SIGKILL to process {child.pid}, mid-conversation")
    child.send_signal(signal.SIGKILL)
    child.communicate()
    if len(versions) != 3:
        raise SystemExit(f"the agent process exited early ({child.returncode})")
    return versions


def agent_main(url: str) -> None:
    """The child process of act 1: save three turns, then wait to be killed."""
    store = open_store(url).blocking
    for turn in (1, 2, 3):
        version = store.save(SESSION, turn_snapshot(turn))
        print(turn, version, flush=True)
    sys.stdin.read()  # the parent kills us while we wait here
    os._exit(1)


def short(version: str) -> str:
    """A version in full, as a user would paste it (quoted for the shell if needed)."""
    return shlex.quote(version)


def command_line() -> str:
    """How to run this CLI again from a shell, whether or not its venv is activated."""
    return f"{shlex.quote(sys.executable)} -m sessionstore"


def say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--invoke":
        invocation_main(sys.argv[2], sys.argv[3])
    else:
        agent_main(sys.argv[1])
