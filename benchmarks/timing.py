"""Timing helpers shared by the latency measurements: interleaving, codec and hop costs."""

from __future__ import annotations

import asyncio
import gc
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from benchmarks.common import median
from sessionstore import codec

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sessionstore.model import SessionSnapshot

__all__ = ["codec_time", "hop_cost", "interleaved"]

WARMUP = 5


async def interleaved(
    lib: Callable[[], Awaitable[object]], raw: Callable[[], object], iterations: int
) -> tuple[list[float], list[float]]:
    """Seconds per call of ``lib`` (awaited) and ``raw`` (called), alternating the order.

    Each iteration runs both, the first of the pair switching every iteration, so slow
    drift and periodic noise on the machine fall on both sides alike. ``WARMUP``
    iterations run first and are not recorded.
    """
    lib_times: list[float] = []
    raw_times: list[float] = []

    async def time_lib() -> float:
        start = time.perf_counter()
        await lib()
        return time.perf_counter() - start

    def time_raw() -> float:
        start = time.perf_counter()
        raw()
        return time.perf_counter() - start

    gc.collect()
    for i in range(WARMUP + iterations):
        if i % 2:
            lib_time = await time_lib()
            raw_time = time_raw()
        else:
            raw_time = time_raw()
            lib_time = await time_lib()
        if i >= WARMUP:
            lib_times.append(lib_time)
            raw_times.append(raw_time)
    return lib_times, raw_times


def codec_time(operation: str, snapshot: SessionSnapshot, body: bytes, repeats: int) -> float:
    """p50 seconds of ``codec.decode`` (``operation == "load"``) or ``codec.encode`` alone."""
    times: list[float] = []
    for _ in range(max(5, repeats)):
        start = time.perf_counter()
        if operation == "load":
            codec.decode("s", body)
        else:
            codec.encode(snapshot, codec.StoreMeta(write_id=codec.new_write_id()))
        times.append(time.perf_counter() - start)
    return median(times)


async def _hop(repeats: int) -> float:
    loop = asyncio.get_running_loop()
    times: list[float] = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(repeats):
            start = time.perf_counter()
            await loop.run_in_executor(pool, int)
            times.append(time.perf_counter() - start)
    return median(times[repeats // 10 :])


def hop_cost(repeats: int = 2000) -> float:
    """p50 seconds of one ``run_in_executor`` round trip of a no-op: the async hop
    every store operation makes so that blocking I/O never runs on the event loop."""
    return asyncio.run(_hop(repeats))
