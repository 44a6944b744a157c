"""Time and peak memory of one save and one load, from 1 KB to 16 MB, on every store.

Time: p50 of interleaved repetitions, sessionstore against the bare baseline of the
store (raw SDK call, or bare durable write / bare read; none for memory).

Peak memory, two ways, both as a multiple of the snapshot's encoded size:

* ``tracemalloc`` peak during the operation (in this process, all threads: the store's
  worker thread included; the emulators run in another process). It sees every
  allocation made through Python's allocators: every ``bytes``, ``str``, ``dict`` and
  ``list``, including the Python objects pydantic-core builds through the C API. It
  does not see memory C or Rust code takes from ``malloc`` directly: pydantic-core's
  serialisation buffer (a Rust ``Vec`` holding the whole JSON before it is copied into
  a ``bytes``), jiter's parser state, OpenSSL or kernel socket buffers.
  The run measures that gap on ``to_json`` alone, both ways.
* Resident-set high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs``)
  in a fresh interpreter per store at the largest size (:mod:`benchmarks.rss_probe`):
  sees everything, including the Rust buffers, with glibc told to return large
  blocks at once (``MALLOC_MMAP_THRESHOLD_``) so that freed memory is not reused
  unseen.

Both count what the operation *adds*: for a load that includes the returned
snapshot itself (reported separately as ``result``).
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import MIB, encoded, make_snapshot, median
from benchmarks.sandbox import REPO, loopback_environment
from benchmarks.stores import STORES, open_bench
from sessionstore import codec

if TYPE_CHECKING:
    from benchmarks.common import Settings
    from benchmarks.serve import Endpoints
    from benchmarks.stores import Bench
    from sessionstore.model import SessionSnapshot

__all__ = ["RssRow", "ScalingResult", "ScalingRow", "gc_effect", "rss_probe", "run"]


@dataclass(frozen=True)
class ScalingRow:
    store: str
    operation: str  # "save" or "load"
    size: int  # encoded bytes
    repeats: int
    lib_p50: float
    raw_p50: float | None  # None: no baseline (memory store)
    peak: float  # tracemalloc peak during the operation / size
    result: float  # still allocated after the operation (the loaded snapshot) / size

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RssRow:
    store: str
    operation: str
    size: int
    peak: float  # resident high-water mark added by the operation / size

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ScalingResult:
    rows: list[ScalingRow]
    rss: list[RssRow]
    blind_spot: dict[str, float]
    """``to_json`` alone at the largest size: ``rss_peak`` and ``tracemalloc_peak`` / size."""
    gc_effect: dict[str, float]
    """``codec.decode`` p50 seconds at the largest size with the cyclic GC on and off."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": [row.as_dict() for row in self.rows],
            "rss": [row.as_dict() for row in self.rss],
            "blind_spot": self.blind_spot,
            "gc_effect": self.gc_effect,
        }


def _repeats(size: int, quick: bool) -> int:
    if quick:
        return 2
    if size >= 16 * MIB:
        return 3
    if size >= 4 * MIB:
        return 5
    return 9


async def _time(bench: Bench, snapshot: SessionSnapshot, body: bytes, repeats: int) -> list[float]:
    """p50 seconds of [save, raw save, load, raw load] (raw: nan when there is none)."""
    session_id = f"scale-{len(body)}"
    store = bench.store
    samples: dict[str, list[float]] = {"save": [], "raw_save": [], "load": [], "raw_load": []}

    async def lib_save() -> None:
        await store.save(session_id, snapshot)

    async def lib_load() -> None:
        await store.load(session_id)

    steps: list[tuple[str, Any]] = [("save", lib_save), ("load", lib_load)]
    put, get = bench.raw_put, bench.raw_get
    if put is not None and get is not None:
        steps += [
            ("raw_save", lambda: put(session_id, body)),
            ("raw_load", lambda: get(session_id)),
        ]
    for i in range(repeats + 1):  # the first round warms up and is dropped
        for label, step in steps if i % 2 == 0 else steps[::-1]:
            start = time.perf_counter()
            outcome = step()
            if asyncio.iscoroutine(outcome):
                await outcome
            if i:
                samples[label].append(time.perf_counter() - start)
    return [median(samples[k]) if samples[k] else float("nan") for k in samples]


async def _traced(action: Any) -> tuple[int, int]:
    """(peak, still allocated) bytes that ``action()`` added, per tracemalloc.

    "Still allocated" is read after one pass of the event loop: until then asyncio's
    handle that resumed the task keeps the finished executor future, and with it the
    raw body a load read, alive (a transient of one loop step, not a leak).
    """
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = await action()
        await asyncio.sleep(0)
        after, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        tracemalloc.stop()
    return peak - before, after - before


async def _measure(
    bench: Bench, size: int, snapshot: SessionSnapshot, quick: bool
) -> list[ScalingRow]:
    body = encoded(snapshot)
    save_p50, raw_save, load_p50, raw_load = await _time(
        bench, snapshot, body, _repeats(size, quick)
    )
    session_id = f"scale-{size}"
    store = bench.store
    save_peak, _ = await _traced(lambda: store.save(session_id, snapshot))
    load_peak, load_kept = await _traced(lambda: store.load(session_id))
    has_raw = bench.raw_put is not None
    repeats = _repeats(size, quick)
    return [
        ScalingRow(
            bench.name,
            "save",
            size,
            repeats,
            save_p50,
            raw_save if has_raw else None,
            save_peak / size,
            0.0,
        ),
        ScalingRow(
            bench.name,
            "load",
            size,
            repeats,
            load_p50,
            raw_load if has_raw else None,
            load_peak / size,
            load_kept / size,
        ),
    ]


def rss_probe(
    store: str, operation: str, body_file: Path, endpoints: Endpoints
) -> dict[str, float]:
    """Run :mod:`benchmarks.rss_probe` in a fresh interpreter; its JSON answer."""
    env = loopback_environment()
    env["MALLOC_MMAP_THRESHOLD_"] = "131072"  # large blocks mmapped, unmapped on free
    env["MALLOC_TRIM_THRESHOLD_"] = "131072"
    where = json.dumps({"s3": endpoints.s3, "gcs": endpoints.gcs})
    command = [
        sys.executable,
        "-m",
        "benchmarks.rss_probe",
        store,
        operation,
        str(body_file),
        where,
    ]
    done = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rss probe {store} {operation} failed:\n{done.stderr[-3000:]}")
    answer: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def gc_effect(snapshot: SessionSnapshot, repeats: int) -> dict[str, float]:
    """p50 of ``codec.decode`` of ``snapshot``'s body with the cyclic GC enabled and disabled.

    A large snapshot decodes into ~10 container objects per KB; allocating that many
    triggers CPython's generational collector, whose full passes scan every live
    container in the process (here: ``snapshot`` itself and the decoded copies).
    """
    body = encoded(snapshot)
    times: dict[str, list[float]] = {"gc_on": [], "gc_off": []}
    try:
        for i in range(2 * repeats):
            label = "gc_on" if i % 2 else "gc_off"
            if label == "gc_off":
                gc.disable()
            start = time.perf_counter()
            codec.decode("s", body)
            times[label].append(time.perf_counter() - start)
            gc.enable()
    finally:
        gc.enable()
    return {label: median(values) for label, values in times.items()}


def run(endpoints: Endpoints, settings: Settings) -> ScalingResult:
    """Timed and traced rows per store and size; RSS rows, what tracemalloc misses on
    ``to_json`` and the GC's share of a decode, at the largest size."""
    rows: list[ScalingRow] = []
    snapshots = {size: make_snapshot(size) for size in settings.scaling_sizes}
    for name in STORES:
        bench = open_bench(name, endpoints)
        try:
            for size in settings.scaling_sizes:
                rows += asyncio.run(_measure(bench, size, snapshots[size], settings.quick))
        finally:
            bench.close()
    largest = max(settings.scaling_sizes)
    collector = gc_effect(snapshots[largest], 2 if settings.quick else 7)
    rss: list[RssRow] = []
    with tempfile.TemporaryDirectory(prefix="sessionstore-bench-rss-") as scratch:
        body_file = Path(scratch) / "body.json"
        body_file.write_bytes(encoded(snapshots.pop(largest)))
        snapshots.clear()
        blind = rss_probe("to_json", "save", body_file, endpoints)
        for name in STORES:
            for operation in ("save", "load"):
                answer = rss_probe(name, operation, body_file, endpoints)
                rss.append(RssRow(name, operation, largest, answer["rss_peak"]))
    return ScalingResult(rows, rss, blind, collector)
