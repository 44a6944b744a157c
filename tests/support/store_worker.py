"""A separate process that works on a store, for multi-process and crash tests.

Run as ``python -m support.store_worker MODE URL SESSION ...`` (``tests`` on
``sys.path``). Every acknowledged operation is printed and flushed *after* it
returned, so the parent knows exactly what was acknowledged before a kill.
"""

from __future__ import annotations

import sys
import time

from sessionstore import ConflictError, SessionSnapshot, open_store
from sessionstore.testing import make_snapshot
from support.tagged import tagged


def save_loop(url: str, session_id: str, writer: str, count: int, padding: int) -> None:
    """Unconditional saves of turns 1..count; prints ``ack <turn>`` after each."""
    store = open_store(url).blocking
    for turn in range(1, count + 1):
        store.save(session_id, make_snapshot(turn, writer=writer, padding=padding))
        print(f"ack {turn}", flush=True)


def update_counter(url: str, session_id: str, count: int) -> None:
    """``count`` increments through ``update``; prints ``done``."""
    store = open_store(url).blocking

    def increment(current: SessionSnapshot | None) -> SessionSnapshot:
        if current is None:
            return SessionSnapshot(phase="counting", turn_count=1)
        return current.model_copy(update={"turn_count": current.turn_count + 1})

    for _ in range(count):
        store.update(session_id, increment, max_attempts=100_000)
    print("done", flush=True)


def cas_counter(url: str, session_id: str, count: int) -> None:
    """``count`` increments by a hand-written load / conditional-save loop."""
    store = open_store(url).blocking
    done = conflicts = 0
    while done < count:
        current = store.load_versioned(session_id)
        assert current is not None
        bumped = current.snapshot.model_copy(update={"turn_count": current.snapshot.turn_count + 1})
        try:
            store.save(session_id, bumped, expected_version=current.version)
        except ConflictError:
            conflicts += 1
            continue
        done += 1
    print(f"done {conflicts}", flush=True)


def keyed_counter(url: str, session_id: str, keys: str, seed: str) -> None:
    """Apply every turn in ``keys`` (comma-separated) once, in a shuffled order, through
    keyed updates, each retried after an unknown outcome; prints ``done``."""
    import random

    from sessionstore import OutcomeUnknown
    from sessionstore.testing import increment

    store = open_store(url).blocking
    order = keys.split(",")
    random.Random(seed).shuffle(order)
    for key in order:
        while True:
            try:
                store.update(session_id, increment, idempotency_key=key, max_attempts=100_000)
            except OutcomeUnknown:
                continue  # safe to retry: the key makes it exactly once
            break
    print("done", flush=True)


def model_saves(url: str, session_id: str, tag_prefix: str, count: int) -> None:
    """For the model checker: unconditional saves of tagged snapshots.

    Prints ``inv <n> <monotonic time>`` before and ``ack <n> <time> <version>`` after
    each save (CLOCK_MONOTONIC is one clock for every process of the machine), so the
    parent can put this process's operations into its history, up to a SIGKILL.
    """
    store = open_store(url).blocking
    for number in range(count):
        print(f"inv {number} {time.monotonic()!r}", flush=True)
        version = store.save(session_id, tagged(f"{tag_prefix}{number}", number + 1))
        print(f"ack {number} {time.monotonic()!r} {version}", flush=True)


def main(argv: list[str]) -> None:
    mode, url, session_id, *rest = argv
    if mode == "save-loop":
        writer, count, padding = rest
        save_loop(url, session_id, writer, int(count), int(padding))
    elif mode == "update-counter":
        update_counter(url, session_id, int(rest[0]))
    elif mode == "cas-counter":
        cas_counter(url, session_id, int(rest[0]))
    elif mode == "keyed-counter":
        keyed_counter(url, session_id, *rest)
    elif mode == "model-saves":
        model_saves(url, session_id, rest[0], int(rest[1]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
