"""Exactly-once turns on the S3 emulator: lost responses, then a retry with the same key;
eight processes running the same 25 turns (issue 13)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from sessionstore.adapters.s3 import S3Persistence
from sessionstore.testing import increment
from support.processes import finish, spawn_worker
from support.s3_fixtures import key_of, run

if TYPE_CHECKING:
    from support.s3_server import FaultAction, S3Emulator


@pytest.mark.parametrize("fault", ["apply_then_500", "apply_then_drop"])
def test_a_lost_response_then_a_keyed_retry_applies_the_turn_once(
    s3_store: S3Persistence, s3_server: S3Emulator, fault: FaultAction
) -> None:
    run(s3_store.update("s-1", increment, idempotency_key="turn-1"))
    # The next turn's PUT lands and its answer is lost: resolved by its write id; the
    # caller's retry (it may not have learnt the outcome) finds the key and applies nothing.
    s3_server.inject(fault, key=key_of(s3_store, "s-1"), times=1)
    first = run(s3_store.update("s-1", increment, idempotency_key="turn-2"))
    retry = run(s3_store.update("s-1", increment, idempotency_key="turn-2"))
    assert retry.version == first.version
    final = run(s3_store.load("s-1"))
    assert final is not None
    assert final.turn_count == 2


def test_eight_processes_running_the_same_25_keyed_turns_apply_each_once(
    s3_server: S3Emulator,
    s3_bucket: str,
    s3_prefix: str,
    aws_sandbox: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    url = f"s3://{s3_bucket}/{s3_prefix}"
    keys = ",".join(f"turn-{number}" for number in range(25))
    workers = [spawn_worker("keyed-counter", url, "counter", keys, str(n)) for n in range(8)]
    for worker in workers:
        assert finish(worker).strip() == "done"
    store = S3Persistence(s3_bucket, s3_prefix, endpoint_url=s3_server.endpoint_url)
    final = run(store.load("counter"))
    assert final is not None
    assert final.turn_count == 25
    run(store.aclose())
