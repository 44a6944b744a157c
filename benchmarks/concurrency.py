"""Many sessions at once: the async API under ``asyncio.gather`` against raw SDK threads.

Per round, 64 sessions are saved (then loaded) concurrently:

* sessionstore: ``await asyncio.gather(*(store.save(id_i, snapshot) ...))`` on one
  store (its default 32 worker threads and a 32-connection pool);
* raw: the same 64 PUTs (GETs) of the encoded body through the raw SDK client
  (32-connection pool) on a ``ThreadPoolExecutor`` of 32 threads, ``pool.map``.

Rounds alternate which side goes first; the median wall time per round is reported,
and the ratio. Both emulators put every mutation through one lock (S3: every request),
so the server bounds the throughput of both sides alike; the ratio shows what the
client side adds under concurrency.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from benchmarks.clouds import BACKENDS, open_cloud
from benchmarks.common import encoded, make_snapshot, median

if TYPE_CHECKING:
    from benchmarks.clouds import Cloud
    from benchmarks.common import Settings
    from benchmarks.serve import Endpoints

__all__ = ["WORKERS", "ConcurrencyRow", "run"]

WORKERS = 32


@dataclass(frozen=True)
class ConcurrencyRow:
    backend: str
    operation: str  # "save" or "load"
    sessions: int
    size: int
    rounds: int
    lib_wall: float  # median seconds per round
    raw_wall: float

    @property
    def ratio(self) -> float:
        return self.lib_wall / self.raw_wall

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


async def _rounds(cloud: Cloud, settings: Settings) -> list[ConcurrencyRow]:
    store, raw = cloud.store, cloud.raw
    snapshot = make_snapshot(settings.concurrency_size)
    body = encoded(snapshot)
    ids = [f"conc-{i}" for i in range(settings.concurrency_sessions)]
    raw_names = [cloud.object_name(f"raw-{i}") for i in range(settings.concurrency_sessions)]
    lib_names = [cloud.object_name(session_id) for session_id in ids]
    walls: dict[str, list[float]] = {"lib save": [], "raw save": [], "lib load": [], "raw load": []}

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:

        async def lib_save() -> None:
            await asyncio.gather(*(store.save(session_id, snapshot) for session_id in ids))

        async def lib_load() -> None:
            await asyncio.gather(*(store.load(session_id) for session_id in ids))

        def raw_save() -> None:
            list(pool.map(lambda name: raw.put(name, body), raw_names))

        def raw_load() -> None:
            list(pool.map(raw.get, lib_names))

        async def one_round(record: bool, lib_first: bool) -> None:
            for operation, lib, plain in (
                ("save", lib_save, raw_save),
                ("load", lib_load, raw_load),
            ):
                for side in ("lib", "raw") if lib_first else ("raw", "lib"):
                    start = time.perf_counter()
                    if side == "lib":
                        await lib()
                    else:
                        plain()
                    if record:
                        walls[f"{side} {operation}"].append(time.perf_counter() - start)

        await one_round(record=False, lib_first=True)  # threads, connections: warm-up
        for i in range(settings.concurrency_rounds):
            await one_round(record=True, lib_first=i % 2 == 0)
    return [
        ConcurrencyRow(
            backend=cloud.name,
            operation=operation,
            sessions=settings.concurrency_sessions,
            size=len(body),
            rounds=settings.concurrency_rounds,
            lib_wall=median(walls[f"lib {operation}"]),
            raw_wall=median(walls[f"raw {operation}"]),
        )
        for operation in ("save", "load")
    ]


def run(endpoints: Endpoints, settings: Settings) -> list[ConcurrencyRow]:
    rows: list[ConcurrencyRow] = []
    for name in BACKENDS:
        cloud = open_cloud(name, endpoints, f"concurrency-{uuid.uuid4().hex[:8]}", workers=WORKERS)
        try:
            rows += asyncio.run(_rounds(cloud, settings))
        finally:
            cloud.close()
    return rows
