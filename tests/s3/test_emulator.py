"""The emulator itself: what the other S3 tests rely on it for."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sessionstore import ConflictError
from sessionstore.testing import make_snapshot
from support.s3_fixtures import key_of, run

if TYPE_CHECKING:
    from sessionstore.adapters.s3 import S3Persistence
    from support.s3_server import S3Emulator


def test_requests_reach_moto_one_at_a_time(s3_store: S3Persistence, s3_server: S3Emulator) -> None:
    """moto checks a precondition and then writes without a lock; the emulator's lock
    is what makes each conditional write atomic, as on S3."""
    version = run(s3_store.save("race", make_snapshot(0)))
    s3_server.reset_log()

    async def race() -> list[str | BaseException]:
        saves = [
            s3_store.save("race", make_snapshot(1, writer=f"w{n}"), expected_version=version)
            for n in range(16)
        ]
        return await asyncio.gather(*saves, return_exceptions=True)

    outcomes = run(race())
    assert sum(isinstance(out, str) for out in outcomes) == 1
    assert sum(isinstance(out, ConflictError) for out in outcomes) == 15
    assert len(s3_server.requests()) == 16
    assert s3_server.peak_inflight == 1


def test_faults_fire_exactly_as_planned(s3_store: S3Persistence, s3_server: S3Emulator) -> None:
    key = key_of(s3_store, "s-1")
    s3_server.inject("slowdown_503", key=key, times=2)
    s3_server.inject("slowdown_503", key=key_of(s3_store, "other"))
    run(s3_store.save("s-1", make_snapshot(1)))
    assert [(r.key, r.forwarded, r.status) for r in s3_server.requests()] == [
        (key, False, 503),
        (key, False, 503),
        (key, True, 200),
    ]
    assert s3_server.pending_faults() == 1  # the fault for another key is still armed
