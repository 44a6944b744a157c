"""pyperf benchmarks of client cost and throughput, one pyperf run per ``--suite``.

Run by ``python -m benchmarks`` (which starts the servers and passes their URLs in
the environment); pyperf spawns the worker processes, calibrates loops, and writes
its JSON, which :mod:`benchmarks.__main__` turns into tables.

Suites:

* ``cpu``: client CPU per operation (``time.process_time`` of the whole process, all
  threads, so obstore's Rust threads and the store's worker threads are counted), for
  save and load at 1 KB, 64 KB and 1 MB, for each arm: the raw SDK call with the
  same headers, and the store on that transport.
* ``throughput``: wall time of ``N`` concurrent 8 KB saves (``asyncio.gather``),
  N in 1, 8, 64, 256, for each store; reported as saves per second.

Servers: S3 arms talk to ``support.fast_s3`` in a child process (keep-alive,
~0.1 ms per request); GCS arms to fake-gcs-server directly.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import TYPE_CHECKING, Any

import pyperf

from benchmarks.common import KIB, MIB, encoded, make_snapshot
from benchmarks.sandbox import guard

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sessionstore.contract import SessionPersistence

SIZES = {"1KB": KIB, "64KB": 64 * KIB, "1MB": MIB}
CONCURRENCY = (1, 8, 64, 256)
BUCKET = "sessionstore-bench"
ARMS = (
    "raw-s3-boto3",
    "store-s3-boto3",
    "raw-s3-obstore",
    "store-s3-obstore",
    "raw-gcs",
    "store-gcs",
    "codec",  # the store's own encode+validate (save) and decode (load), no I/O
    "hop",  # one call through the store's worker pool (boto3 and GCS transports), no I/O
)


def _s3_url() -> str:
    return os.environ["SESSIONSTORE_BENCH_S3"]


def _gcs_url() -> str:
    return os.environ["SESSIONSTORE_BENCH_GCS"]


def open_store(arm: str, prefix: str) -> SessionPersistence:
    if arm == "store-s3-boto3":
        from sessionstore.adapters.s3 import S3Persistence

        return S3Persistence(BUCKET, prefix, endpoint_url=_s3_url(), max_workers=32)
    if arm == "store-s3-obstore":
        from sessionstore.adapters.s3 import S3Persistence

        return S3Persistence(BUCKET, prefix, endpoint_url=_s3_url(), transport="obstore")
    if arm == "store-gcs":
        from google.auth.credentials import AnonymousCredentials

        from sessionstore.adapters.gcs import GcsPersistence

        return GcsPersistence(
            BUCKET,
            prefix,
            project="sessionstore-bench",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            api_endpoint=_gcs_url(),
            max_workers=32,
        )
    raise ValueError(arm)


class _Arm:
    """One arm's save/load as coroutines on one event loop (sync SDKs called directly)."""

    def __init__(self, arm: str, size: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.snapshot = make_snapshot(size)
        self.body = encoded(self.snapshot)
        prefix = f"cpu-{uuid.uuid4().hex[:8]}"
        self.name = f"{prefix}/a.json"
        self.save: Callable[[], Awaitable[object]]
        self.load: Callable[[], Awaitable[object]]
        if arm == "codec":
            from sessionstore import codec

            meta = codec.StoreMeta(write_id=codec.new_write_id())
            framed = codec.frame(codec.serialize("a", self.snapshot), meta)
            self.save = _wrap(lambda: codec.serialize("a", self.snapshot))
            self.load = _wrap(lambda: codec.decode("a", framed))
            return
        if arm == "hop":
            from sessionstore._workers import WorkerPool

            pool = WorkerPool(32, "bench-hop")
            self.save = self.load = lambda: pool.run(_nothing)
            return
        if arm.startswith("store-"):
            store = open_store(arm, prefix)
            self.save = lambda: store.save("a", self.snapshot)
            self.load = lambda: store.load("a")
        elif arm == "raw-s3-boto3":
            from benchmarks.clouds import RawS3

            boto = RawS3(_s3_url(), 32)
            self.save = _wrap(lambda: boto.put(self.name, self.body))
            self.load = _wrap(lambda: boto.get(self.name))
        elif arm == "raw-s3-obstore":
            from benchmarks.clouds import RawObstore

            fast = RawObstore(_s3_url())
            self.save = lambda: fast.aput(self.name, self.body)
            self.load = lambda: fast.aget(self.name)
        elif arm == "raw-gcs":
            from benchmarks.clouds import RawGcs

            gcs = RawGcs(_gcs_url(), 32)
            self.save = _wrap(lambda: gcs.put(self.name, self.body))
            self.load = _wrap(lambda: gcs.get(self.name))
        else:
            raise ValueError(arm)
        self.loop.run_until_complete(self.save())  # warm: client built, connection open
        self.loop.run_until_complete(self.load())


def _nothing() -> None:
    return None


def _wrap(fn: Callable[[], object]) -> Callable[[], Awaitable[object]]:
    async def call() -> object:
        return fn()

    return call


_arms: dict[tuple[str, int], _Arm] = {}


def _arm(arm: str, size: int) -> _Arm:
    if (arm, size) not in _arms:
        _arms[arm, size] = _Arm(arm, size)
    return _arms[arm, size]


def cpu_per_op(loops: int, arm: str, op: str, size: int) -> float:
    state = _arm(arm, size)
    action = state.save if op == "save" else state.load
    run = state.loop.run_until_complete
    start = time.process_time()
    for _ in range(loops):
        run(action())
    return time.process_time() - start


_stores: dict[str, tuple[asyncio.AbstractEventLoop, SessionPersistence]] = {}


def concurrent_saves(loops: int, arm: str, n: int) -> float:
    """Wall time of one batch of ``n`` concurrent saves (pyperf divides by loops)."""
    if arm not in _stores:
        loop = asyncio.new_event_loop()
        store = open_store(arm, f"tp-{uuid.uuid4().hex[:8]}")
        loop.run_until_complete(store.save("warm", make_snapshot(8 * KIB)))
        _stores[arm] = (loop, store)
    loop, store = _stores[arm]
    snapshot = make_snapshot(8 * KIB)
    ids = [f"s-{i}" for i in range(n)]

    async def batch() -> None:
        await asyncio.gather(*(store.save(i, snapshot) for i in ids))

    start = time.perf_counter()
    for _ in range(loops):
        loop.run_until_complete(batch())
    return time.perf_counter() - start


def main() -> None:
    guard()

    def forward(cmd: list[str], args: Any) -> None:  # to pyperf's worker processes
        cmd.extend(["--suite", args.suite, "--arms", *args.arms])

    runner = pyperf.Runner(add_cmdline_args=forward)
    runner.argparser.add_argument("--suite", choices=("cpu", "throughput"), required=True)
    runner.argparser.add_argument("--arms", nargs="+", default=list(ARMS))
    args: Any = runner.parse_args()
    if args.suite == "cpu":
        # Each raw arm next to its store arm, so every ratio compares neighbours in time.
        for label, size in SIZES.items():
            for op in ("save", "load"):
                for arm in args.arms:
                    if arm == "hop" and (op, label) != ("save", "64KB"):
                        continue  # no payload: measured once, among the 64 KB arms
                    runner.bench_time_func(f"cpu {arm} {op} {label}", cpu_per_op, arm, op, size)
    else:
        for arm in args.arms:
            if not arm.startswith("store-"):
                continue
            for n in CONCURRENCY:
                runner.bench_time_func(
                    f"throughput {arm} {n}", concurrent_saves, arm, n, inner_loops=n
                )


if __name__ == "__main__":
    main()
