"""Exactly-once turns on the GCS emulator: lost responses, then a retry with the same key;
eight processes running the same 25 turns (issue 13)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from sessionstore.testing import increment
from support.processes import finish, spawn_worker

if TYPE_CHECKING:
    from collections.abc import Callable

    from sessionstore.adapters.gcs import GcsPersistence
    from support.gcs_server import FaultAction, GcsEmulator

UPLOAD = {"method": "POST", "path_contains": "/upload/"}


@pytest.mark.parametrize("fault", ["fail_after", "drop_after"])
def test_a_lost_response_then_a_keyed_retry_applies_the_turn_once(
    make_gcs_store: Callable[..., GcsPersistence], gcs_server: GcsEmulator, fault: FaultAction
) -> None:
    store = make_gcs_store()
    asyncio.run(store.update("s-1", increment, idempotency_key="turn-1"))
    # The next turn's upload lands and its answer is lost: resolved by its write id; the
    # caller's retry (it may not have learnt the outcome) finds the key, applies nothing.
    gcs_server.fault(fault, status=503, **UPLOAD)
    first = asyncio.run(store.update("s-1", increment, idempotency_key="turn-2"))
    retry = asyncio.run(store.update("s-1", increment, idempotency_key="turn-2"))
    assert retry.version == first.version
    final = asyncio.run(store.load("s-1"))
    assert final is not None
    assert final.turn_count == 2


def test_eight_processes_running_the_same_25_keyed_turns_apply_each_once(
    make_gcs_store: Callable[..., GcsPersistence],
    gcs_server: GcsEmulator,
    gcs_bucket: str,
    gcs_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.url)
    url = f"gs://{gcs_bucket}/{gcs_prefix}"
    keys = ",".join(f"turn-{number}" for number in range(25))
    workers = [spawn_worker("keyed-counter", url, "counter", keys, str(n)) for n in range(8)]
    for worker in workers:
        assert finish(worker).strip() == "done"
    final = asyncio.run(make_gcs_store().load("counter"))
    assert final is not None
    assert final.turn_count == 25
