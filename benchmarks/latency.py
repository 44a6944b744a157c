"""Latency of save and load through sessionstore against the raw SDK call, interleaved.

For each backend, size and operation, every iteration runs one sessionstore call and
one raw SDK call doing the same transfer (see :mod:`benchmarks.clouds` for exactly
what each side sends), alternating which goes first, so drift and noise on this
machine hit both sides alike. Reported: p50 and p99 of each, and their ratio.

* sessionstore: ``await store.save(id, snapshot)`` (encode with a fresh write id,
  checksum, one PUT/POST, on the store's worker thread) or ``await store.load(id)``
  (one GET, then decode and validate into a ``SessionSnapshot``), from an asyncio loop.
* raw: the blocking SDK call with an already-encoded body of the same size (same
  headers), called directly on the loop's thread: no encoding, no validation, no
  thread hop. For loads the raw GET reads the very object sessionstore wrote.

Also measured, to explain the difference: the codec alone (``codec.encode`` /
``codec.decode``) and one hop to a worker thread (``run_in_executor`` of a no-op).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from benchmarks.clouds import BACKENDS, open_cloud
from benchmarks.common import KIB, encoded, make_snapshot, median, percentile
from benchmarks.timing import codec_time, interleaved

if TYPE_CHECKING:
    from benchmarks.clouds import Cloud
    from benchmarks.common import Settings
    from benchmarks.serve import Endpoints

__all__ = ["BLOCKING_OPERATIONS", "OPERATIONS", "LatencyRow", "run"]

OPERATIONS = ("save", "save, conditional", "load")
#: The blocking twins (``store.blocking``), measured at 64 KB only.
BLOCKING_OPERATIONS = ("save, blocking API", "load, blocking API")
BLOCKING_SIZE = 64 * KIB


@dataclass(frozen=True)
class LatencyRow:
    backend: str
    operation: str
    size: int
    iterations: int  # in all blocks together
    lib_p50: float
    lib_p99: float
    raw_p50: float
    raw_p99: float
    codec_p50: float  # encode (saves) or decode (loads) alone, in a tight loop
    block_ratios: tuple[float, ...]  # p50 ratio of each block, in run order

    @property
    def ratio_p50(self) -> float:
        return self.lib_p50 / self.raw_p50

    @property
    def ratio_p99(self) -> float:
        return self.lib_p99 / self.raw_p99

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio_p50": self.ratio_p50, "ratio_p99": self.ratio_p99}


class _Series:
    """One (backend, size, operation): its objects, and the samples of every block so far."""

    def __init__(self, cloud: Cloud, operation: str, size: int) -> None:
        self.cloud = cloud
        self.operation = operation
        self.size = size
        self.snapshot = make_snapshot(size)
        self.body = encoded(self.snapshot)
        self.session_id = f"lat-{size}"
        self.raw_name = cloud.object_name(f"raw-{size}")
        self.versions: dict[str, str] = {}
        self.lib_times: list[float] = []
        self.raw_times: list[float] = []
        self.block_ratios: list[float] = []

    async def block(self, iterations: int) -> None:
        store, raw, operation = self.cloud.store, self.cloud.raw, self.operation
        session_id, snapshot, body = self.session_id, self.snapshot, self.body
        versions = self.versions
        versions["lib"] = await store.save(session_id, snapshot)
        versions["raw"] = raw.put(self.raw_name, body)

        async def lib_op() -> None:
            if operation == "save":
                await store.save(session_id, snapshot)
            elif operation == "save, blocking API":
                store.blocking.save(session_id, snapshot)
            elif operation == "load, blocking API":
                store.blocking.load(session_id)
            elif operation == "save, conditional":
                versions["lib"] = await store.save(
                    session_id, snapshot, expected_version=versions["lib"]
                )
            else:
                await store.load(session_id)

        def raw_op() -> None:
            if operation in ("save", "save, blocking API"):
                raw.put(self.raw_name, body)
            elif operation == "save, conditional":
                versions["raw"] = raw.put(self.raw_name, body, expected=versions["raw"])
            else:
                raw.get(self.cloud.object_name(session_id))

        lib_times, raw_times = await interleaved(lib_op, raw_op, iterations)
        self.lib_times += lib_times
        self.raw_times += raw_times
        self.block_ratios.append(median(lib_times) / median(raw_times))

    def row(self) -> LatencyRow:
        codec_runs = max(5, len(self.lib_times) // 8)
        return LatencyRow(
            backend=self.cloud.name,
            operation=self.operation,
            size=self.size,
            iterations=len(self.lib_times),
            lib_p50=median(self.lib_times),
            lib_p99=percentile(self.lib_times, 99),
            raw_p50=median(self.raw_times),
            raw_p99=percentile(self.raw_times, 99),
            codec_p50=codec_time(
                self.operation.partition(",")[0], self.snapshot, self.body, codec_runs
            ),
            block_ratios=tuple(self.block_ratios),
        )


async def _blocks(series: list[_Series], settings: Settings) -> None:
    for _ in range(settings.latency_blocks):
        for one in series:
            iterations = settings.latency_iterations
            await one.block(iterations if one.size == BLOCKING_SIZE else max(2, iterations // 2))


def run(endpoints: Endpoints, settings: Settings) -> list[LatencyRow]:
    """Every (backend, size, operation) series, in ``settings.latency_blocks`` blocks.

    Blocks rotate through all series, so slow drift over the run spreads over every
    row; each block's own p50 ratio is kept to show the spread. 64 KB (the target
    size) gets ``latency_iterations`` iterations per block, other sizes half.
    """
    rows: list[LatencyRow] = []
    for name in BACKENDS:
        cloud = open_cloud(name, endpoints, f"latency-{uuid.uuid4().hex[:8]}")
        try:
            series = [
                _Series(cloud, operation, size)
                for size in settings.latency_sizes
                for operation in (
                    *OPERATIONS,
                    *(BLOCKING_OPERATIONS if size == BLOCKING_SIZE else ()),
                )
            ]

            asyncio.run(_blocks(series, settings))
            rows += [one.row() for one in series]
        finally:
            cloud.close()
    return rows
