"""Exactly-once turns under attack: keyed retries as a randomized, shrinking search.

Each example runs a random plan of turns against one session on a backend: every turn
is a keyed ``update`` that appends its key to ``state["applied"]``; its calls may meet
an injected fault (lost response, dropped connection, throttle, a stall past the client
timeout), be cancelled by a timeout at a random moment, run concurrently with another
delivery of the same turn (a double invocation), or go through the blocking twin. A
call whose outcome the caller did not learn (``OutcomeUnknown``, cancellation, a
timeout) is retried with the same key until one returns. The invariant the model
checks: every turn is applied exactly once — ``applied`` lists each key once, in the
order the turns were first applied, and ``turn_count`` equals its length — and the
result a call returns is what the store holds for that key.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.backends import FAULTS, Backend, fs_backend, gcs_backend, memory_backend, s3_backend
from model.test_model import SOAK
from sessionstore import BackendUnavailable, OutcomeUnknown, SessionSnapshot

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from model.backends import FaultName
    from sessionstore.contract import SessionPersistence
    from support.gcs_server import GcsEmulator
    from support.s3_server import S3Emulator

SESSION = "turns"


@dataclass(frozen=True)
class Turn:
    key: str
    fault: FaultName | None
    cancel_after: float | None  # seconds before the first delivery is cancelled
    doubled: bool  # delivered twice at the same moment
    blocking: bool  # through store.blocking (a synchronous handler)


def turns() -> st.SearchStrategy[list[Turn]]:
    turn = st.builds(
        Turn,
        key=st.sampled_from([f"turn-{n}" for n in range(6)]),
        fault=st.none() | st.sampled_from(FAULTS),
        cancel_after=st.none() | st.sampled_from([0.0, 0.0005, 0.002, 0.01]),
        doubled=st.booleans(),
        blocking=st.booleans(),
    )
    return st.lists(turn, min_size=1, max_size=6)


def apply_key(key: str) -> Callable[[SessionSnapshot | None], SessionSnapshot]:
    def fn(current: SessionSnapshot | None) -> SessionSnapshot:
        stored = current.state.get("applied", []) if current else []
        assert isinstance(stored, list)
        applied = [*stored, key]
        return SessionSnapshot(phase="turns", turn_count=len(applied), state={"applied": applied})

    return fn


#: Calls one delivery may make before the test gives up on it: every fault plan ends
#: (a throttle is a burst), so a delivery that never returns is a bug, reported, not a hang.
MAX_CALLS = 20


async def deliver(store: SessionPersistence, turn: Turn, first: bool) -> str:
    """One delivery of a turn, retried with its key until a call returns its result."""
    fn = apply_key(turn.key)
    cancel = turn.cancel_after if first else None
    failures: list[str] = []
    while True:
        assert len(failures) < MAX_CALLS, f"{turn} never returned after {failures}"
        try:
            if turn.blocking and cancel is None:
                result = await asyncio.to_thread(
                    store.blocking.update, SESSION, fn, idempotency_key=turn.key, max_attempts=50
                )
            else:
                call = store.update(SESSION, fn, idempotency_key=turn.key, max_attempts=50)
                if cancel is None:
                    result = await call
                else:
                    result = await asyncio.wait_for(call, cancel)
        except (OutcomeUnknown, asyncio.TimeoutError) as exc:  # 3.10's own class
            failures.append(type(exc).__name__)
            cancel = None  # the caller did not learn the outcome: retry with the key
            continue
        except BackendUnavailable as exc:
            failures.append(type(exc).__name__)
            continue  # throttled or down, nothing written: a caller retries later
        applied = result.snapshot.state["applied"]
        assert isinstance(applied, list)
        assert turn.key in applied, f"{turn.key} returned a result that does not hold it"
        return result.version


def check(backend: Backend, plan: list[Turn]) -> None:
    store, _ = backend.new_store()
    first_applied: list[str] = []

    async def scenario() -> None:
        for turn in plan:
            if turn.fault is not None and backend.arm is not None:
                method = "POST" if backend.name == "gcs" else "PUT"
                backend.arm(turn.fault, method, backend.key_of(store, SESSION))
            deliveries = [deliver(store, turn, True)]
            if turn.doubled:
                deliveries.append(deliver(store, turn, False))
            await asyncio.gather(*deliveries)
            if backend.clear is not None:
                backend.clear()
            if turn.key not in first_applied:
                first_applied.append(turn.key)

    try:
        asyncio.run(scenario())
        if backend.wait_stalled is not None:
            # A held request lands (or is refused) before we read.
            assert backend.wait_stalled(10.0), "a stalled request was never released"
        final = store.blocking.load(SESSION)
        assert final is not None
        applied = final.state["applied"]
        assert applied == first_applied, f"applied {applied}, expected each key once in order"
        assert final.turn_count == len(first_applied)
    finally:
        if backend.clear is not None:
            backend.clear()
        with contextlib.suppress(Exception):
            store.blocking.close()


def run_search(backend: Backend, examples: int) -> None:
    @settings(
        max_examples=examples * SOAK,
        deadline=None,
        database=None,
        print_blob=True,
        # CI replays one fixed search, as test_model does; a soak searches afresh.
        derandomize=SOAK == 1,
        suppress_health_check=list(HealthCheck),
    )
    @given(plan=turns())
    def search(plan: list[Turn]) -> None:
        check(backend, plan)

    search()


def test_keyed_turns_apply_once_on_memory() -> None:
    run_search(memory_backend(), 60)


def test_keyed_turns_apply_once_on_the_filesystem(tmp_path: Path) -> None:
    run_search(fs_backend(tmp_path), 25)


def test_keyed_turns_apply_once_on_s3(
    s3_server: S3Emulator, s3_bucket: str, aws_sandbox: None
) -> None:
    run_search(s3_backend("s3-moto", s3_server, s3_server.endpoint_url, s3_bucket), 8)


def test_keyed_turns_apply_once_on_s3_obstore(
    s3_server: S3Emulator, s3_bucket: str, aws_sandbox: None
) -> None:
    pytest.importorskip("obstore")
    backend = s3_backend(
        "s3-obstore", s3_server, s3_server.endpoint_url, s3_bucket, transport="obstore"
    )
    run_search(backend, 8)


@pytest.mark.usefixtures("gcs_sandbox")
def test_keyed_turns_apply_once_on_gcs(gcs_server: GcsEmulator, gcs_bucket: str) -> None:
    run_search(gcs_backend(gcs_server, gcs_bucket), 8)
