"""Randomized multi-process handoff simulation and its history checker.

Several region processes (``support.handoff_region``) fight over one session
with forced acquires. The driver pauses regions between operations and resumes
each one only after another region has acquired the session, so every pause
produces a zombie holding a superseded lease. Afterwards the recorded history is
checked:

* successful writes (acquire, save, release) form ONE chain of versions from the
  initial version to the stored one: each consumed exactly the version the
  previous one produced (no fork, no lost update);
* along the chain epochs only grow at acquires, and every save or release
  carries the epoch of the latest acquire before it (no write under a
  superseded epoch);
* every refused write left the store unchanged (it is not in the chain, and the
  chain is unbroken, so nothing unknown was ever stored).
"""

from __future__ import annotations

import json
import queue
import random
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sessionstore import open_store
from sessionstore.testing import make_snapshot
from support.processes import finish, spawn_module

if TYPE_CHECKING:
    import subprocess

__all__ = ["SimulationResult", "check_history", "run_simulation"]


@dataclass
class SimulationResult:
    records: list[dict[str, Any]]
    initial_version: str
    final_version: str
    pauses: int = 0
    chain: list[dict[str, Any]] = field(default_factory=list)


def run_simulation(
    url: str,
    *,
    regions: int = 3,
    iterations: int = 40,
    seed: int = 1,
    env: dict[str, str] | None = None,
    session: str = "handoff",
) -> SimulationResult:
    store = open_store(url).blocking
    initial = store.save(session, make_snapshot(0, writer="initial"))
    rng = random.Random(seed)
    names = [f"region-{n}" for n in range(regions)]
    processes = {
        name: spawn_module(
            "support.handoff_region",
            url,
            session,
            name,
            str(iterations),
            str(seed * 100 + n),
            env=env,
            stdin=True,
        )
        for n, name in enumerate(names)
    }
    records: list[dict[str, Any]] = []
    paused: list[str] = []
    running = set(names)
    pauses = 0
    lines: queue.Queue[tuple[str, str]] = queue.Queue()
    for name, process in processes.items():
        threading.Thread(target=_pump, args=(name, process, lines), daemon=True).start()
    while running:
        try:
            name, line = lines.get(timeout=60)
        except queue.Empty:
            raise AssertionError(f"simulation stalled: running={running} paused={paused}") from None
        if not line:
            running.discard(name)
            continue
        record = json.loads(line)
        records.append(record)
        if record["kind"] == "pause":
            pauses += 1
            paused.append(name)
        elif record["kind"] == "done":
            running.discard(name)
        if record["kind"] == "acquire" and record["outcome"] == "ok":
            # Someone else now owns the session: paused regions resume as zombies.
            for zombie in [p for p in paused if p != name]:
                _resume(processes[zombie])
                paused.remove(zombie)
        if paused and set(paused) >= running:
            # Nobody left to take over: let one of them go on.
            _resume(processes[paused.pop(rng.randrange(len(paused)))])
    for process in processes.values():
        finish(process)
    final = store.load_versioned(session)
    assert final is not None
    store.close()
    return SimulationResult(records, initial, final.version, pauses)


def _pump(name: str, process: subprocess.Popen[str], lines: queue.Queue[tuple[str, str]]) -> None:
    """Forward a region's output lines; an empty line means it closed its output."""
    assert process.stdout is not None
    for line in process.stdout:
        lines.put((name, line))
    lines.put((name, ""))


def _resume(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("resume\n")
    process.stdin.flush()


def check_history(result: SimulationResult) -> None:
    """Assert the invariants in the module docstring; fills ``result.chain``."""
    writes = [r for r in result.records if r["kind"] in ("acquire", "save", "release")]
    assert all(r["outcome"] in ("ok", "fenced") for r in writes), "unexpected outcome"
    succeeded = [r for r in writes if r["outcome"] == "ok"]
    by_expected: dict[str, dict[str, Any]] = {}
    for record in succeeded:
        fork = by_expected.get(record["expected"])
        assert fork is None, f"fork: {fork} and {record} both replaced {record['expected']}"
        by_expected[record["expected"]] = record

    chain: list[dict[str, Any]] = []
    version = result.initial_version
    while version in by_expected:
        record = by_expected.pop(version)
        chain.append(record)
        version = record["version"]
    assert not by_expected, (
        f"writes outside the chain (lost or forked): {list(by_expected.values())}"
    )
    assert version == result.final_version, "the stored version is not the end of the chain"

    epoch = 0
    for record in chain:
        if record["kind"] == "acquire":
            assert record["epoch"] > epoch, f"epoch did not grow at {record}"
            epoch = record["epoch"]
        else:
            assert record["epoch"] == epoch, f"write under superseded epoch: {record}"
    result.chain = chain
