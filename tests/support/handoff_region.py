"""One "region" of the handoff simulation, run as its own process.

``python -m support.handoff_region URL SESSION REGION ITERATIONS SEED``

Each iteration: acquire the session with force, save one to three snapshots,
sometimes release. Between operations it sometimes pauses: it prints a
``pause`` record and blocks on stdin until the parent resumes it, by which time
another region has taken the session over, so it carries on as a zombie with its
old lease. Every operation is printed as one JSON record once it returned.
"""

from __future__ import annotations

import json
import random
import sys
from typing import TYPE_CHECKING

from sessionstore import ConflictError, FencedError, OutcomeUnknown, open_store
from sessionstore.testing import make_snapshot

if TYPE_CHECKING:
    from sessionstore.blocking import BlockingSessionPersistence
    from sessionstore.ownership import BlockingSessionLease


def emit(**record: object) -> None:
    print(json.dumps(record), flush=True)


def maybe_pause(rng: random.Random, region: str) -> None:
    if rng.random() < 0.15:
        emit(region=region, kind="pause")
        sys.stdin.readline()  # the parent resumes us after someone else acquired


def write(lease: BlockingSessionLease, region: str, kind: str, marker: str, turn: int) -> None:
    expected = lease.version
    try:
        if kind == "save":
            lease.save(make_snapshot(turn, writer=marker))
        else:
            lease.release()
    except FencedError:
        outcome = "fenced"
    except OutcomeUnknown:
        outcome = "unknown"
    else:
        outcome = "ok"
    emit(
        region=region,
        kind=kind,
        epoch=lease.epoch,
        expected=expected,
        version=lease.version if outcome == "ok" else None,
        outcome=outcome,
        marker=marker,
    )


def run(
    store: BlockingSessionPersistence,
    session: str,
    region: str,
    iterations: int,
    rng: random.Random,
) -> None:
    for iteration in range(iterations):
        try:
            lease = store.acquire(session, region, force=True)
        except ConflictError:  # outraced on every attempt; nothing was written
            emit(region=region, kind="acquire-gave-up")
            continue
        emit(
            region=region,
            kind="acquire",
            epoch=lease.epoch,
            expected=lease.previous_version,
            version=lease.version,
            outcome="ok",
            marker=None,
        )
        for save in range(rng.randint(1, 3)):
            maybe_pause(rng, region)
            marker = f"{region}:{iteration}:{save}"
            write(lease, region, "save", marker, iteration * 10 + save)
        if rng.random() < 0.3:
            maybe_pause(rng, region)
            write(lease, region, "release", f"{region}:{iteration}:release", 0)
    emit(region=region, kind="done")


def main() -> None:
    url, session, region, iterations, seed = sys.argv[1:]
    store = open_store(url).blocking
    run(store, session, region, int(iterations), random.Random(int(seed)))


if __name__ == "__main__":
    main()
