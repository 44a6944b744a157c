"""Round trips per operation on a warm connection, counted on the wire.

Each store talks to its server through ``support.delay_proxy.DelayProxy``, which
releases every chunk ``delay`` seconds after it arrived (20 ms of added round-trip
time by default) and counts request/response exchanges by direction changes, so the
counts are exact whatever the delay. The wall time of each operation is measured
next to them (median of ``repeat``), and reported, never checked.

S3 (boto3 and obstore transports, and raw boto3 with botocore's defaults as a
reference) runs against ``support.fast_s3`` (keep-alive, like S3); GCS against
fake-gcs-server directly.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from typing import TYPE_CHECKING, Any

from benchmarks.common import KIB, make_snapshot
from benchmarks.sandbox import use_support

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sessionstore.contract import SessionPersistence

__all__ = ["DELAY", "EXPECTED", "run"]

DELAY = 0.010  # each way
BUCKET = "sessionstore-bench"
EXPECTED = {
    "save": 1,
    "save, create-only": 1,
    "save, conditional": 1,
    "load": 1,
    "delete": 1,
    "delete, conditional": 1,
    "update": 2,
    "acquire": 2,
}


async def _measure(
    store: SessionPersistence, proxy: Any, repeat: int
) -> list[tuple[str, int, int, int, float]]:
    snap = make_snapshot(4 * KIB)
    rows: list[tuple[str, int, int, int, float]] = []
    version = await store.save("warm", snap)
    await store.load("warm")
    await store.delete("warm", expected_version=version)

    async def count(name: str, prepare: Callable[[int], Awaitable[Any]], action: Any) -> None:
        times: list[float] = []
        tally = None
        for attempt in range(repeat):
            state = await prepare(attempt)
            with proxy.counting() as seen:
                start = time.perf_counter()
                await action(attempt, state)
                times.append(time.perf_counter() - start)
            tally = tally or seen
        assert tally is not None
        rows.append(
            (
                name,
                tally.exchanges,
                tally.connections,
                tally.expect_headers(),
                statistics.median(times),
            )
        )

    async def nothing(attempt: int) -> None:
        return None

    async def stored(attempt: int) -> str:
        return await store.save(f"s{attempt}", snap)

    await count("save", nothing, lambda a, _: store.save("a", snap))
    await count(
        "save, create-only", nothing, lambda a, _: store.save(f"c{a}", snap, expected_version=None)
    )
    await count(
        "save, conditional", stored, lambda a, v: store.save(f"s{a}", snap, expected_version=v)
    )
    await count("load", nothing, lambda a, _: store.load("a"))
    await count("delete", stored, lambda a, _: store.delete(f"s{a}"))
    await count(
        "delete, conditional", stored, lambda a, v: store.delete(f"s{a}", expected_version=v)
    )
    await count("update", nothing, lambda a, _: store.update("a", lambda s: snap))
    await count("acquire", nothing, lambda a, _: store.acquire("a", f"owner-{a}", force=True))
    await store.aclose()
    return rows


def _raw_boto3_put(proxy: Any, repeat: int) -> tuple[str, int, int, int, float]:
    import boto3

    client = boto3.client("s3", endpoint_url=proxy.url, region_name="us-east-1")
    body = b"x" * (4 * KIB)
    client.put_object(Bucket=BUCKET, Key="raw-warm", Body=body)
    times = []
    for _ in range(repeat):
        with proxy.counting() as seen:
            start = time.perf_counter()
            client.put_object(Bucket=BUCKET, Key="raw", Body=body)
            times.append(time.perf_counter() - start)
    client.close()
    return (
        "raw boto3 put_object (botocore defaults)",
        seen.exchanges,
        seen.connections,
        seen.expect_headers(),
        statistics.median(times),
    )


def run(*, delay: float = DELAY, repeat: int = 5) -> list[dict[str, Any]]:
    use_support()
    from google.auth.credentials import AnonymousCredentials

    from sessionstore.adapters.gcs import GcsPersistence
    from sessionstore.adapters.s3 import S3Persistence
    from support.delay_proxy import DelayProxy
    from support.fast_s3 import FastS3
    from support.gcs_server import GcsEmulator

    results: list[dict[str, Any]] = []

    def add(transport: str, rows: list[tuple[str, int, int, int, float]]) -> None:
        for name, exchanges, connections, expect, seconds in rows:
            wanted = EXPECTED.get(name)
            results.append(
                {
                    "transport": transport,
                    "operation": name,
                    "exchanges": exchanges,
                    "new_connections": connections,
                    "expect_headers": expect,
                    "expected": wanted,
                    "met": wanted is None or (exchanges, connections, expect) == (wanted, 0, 0),
                    "rtt_ms": 2 * delay * 1000,
                    "median_ms": round(seconds * 1000, 2),
                }
            )

    with FastS3([BUCKET]) as s3, DelayProxy("127.0.0.1", s3.port, delay=delay) as proxy:
        for transport in ("boto3", "obstore"):
            store = S3Persistence(
                BUCKET, f"rt-{uuid.uuid4().hex[:8]}", endpoint_url=proxy.url, transport=transport
            )
            add(f"s3 {transport}", asyncio.run(_measure(store, proxy, repeat)))
        add("s3 raw boto3", [_raw_boto3_put(proxy, repeat)])
    with GcsEmulator() as gcs:
        gcs.create_bucket(BUCKET)
        host, port = gcs.direct_url.rsplit(":", 1)
        with DelayProxy(host.split("//")[1], int(port), delay=delay) as proxy:
            gcs_store = GcsPersistence(
                BUCKET,
                f"rt-{uuid.uuid4().hex[:8]}",
                project="sessionstore-bench",
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                api_endpoint=proxy.url,
            )
            add("gcs", asyncio.run(_measure(gcs_store, proxy, repeat)))
    return results
