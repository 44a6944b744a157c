"""One round trip per save, load and delete on a warm connection; two for update and acquire.

Every store talks to its server through :class:`support.delay_proxy.DelayProxy`, which
releases each chunk 10 ms after it arrived (20 ms of added round-trip time) and counts
request/response exchanges by direction changes on the wire, so the counts are exact
and no timing is asserted. A PutObject that sends ``Expect: 100-continue`` waits for
``100 Continue`` before its body: two exchanges, and these tests fail (the reference
test below shows the proxy sees exactly that from raw boto3).

S3 runs against :mod:`support.fast_s3` (keep-alive, like S3; moto behind werkzeug
closes every connection), GCS against fake-gcs-server directly (keep-alive).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from sessionstore.adapters.s3 import S3Persistence
from sessionstore.testing import make_snapshot
from support.delay_proxy import DelayProxy
from support.fast_s3 import FastS3

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator

    from sessionstore.contract import SessionPersistence
    from support.delay_proxy import Tally
    from support.gcs_server import GcsEmulator

DELAY = 0.010  # each way: 20 ms of added round-trip time
BUCKET = "round-trips"

#: operation -> round trips on a warm connection (no new connection may be opened).
EXPECTED = {
    "save": 1,
    "save, create-only": 1,
    "save, conditional": 1,
    "load": 1,
    "load, absent": 1,
    "delete": 1,
    "delete, conditional": 1,
    "update": 2,
    "acquire": 2,
}


@pytest.fixture(scope="module")
def fast_s3() -> Iterator[FastS3]:
    with FastS3([BUCKET]) as server:
        yield server


@pytest.fixture
def s3_proxy(fast_s3: FastS3) -> Iterator[DelayProxy]:
    with DelayProxy("127.0.0.1", fast_s3.port, delay=DELAY) as proxy:
        yield proxy


@pytest.fixture
def gcs_proxy(gcs_server: GcsEmulator) -> Iterator[DelayProxy]:
    direct = urlsplit(gcs_server.direct_url)
    assert direct.hostname is not None
    assert direct.port is not None
    with DelayProxy(direct.hostname, direct.port, delay=DELAY) as proxy:
        yield proxy


async def _measure(store: SessionPersistence, proxy: DelayProxy) -> dict[str, Tally]:
    snap = make_snapshot(4096)
    seen: dict[str, Tally] = {}

    async def count(name: str, action: Callable[[], Awaitable[Any]]) -> None:
        with proxy.counting() as tally:
            await action()
        seen[name] = tally

    # Open the connections (and build the client). On the obstore transport a
    # conditional delete goes out on a keep-alive connection of the adapter's own,
    # which costs one handshake the first time, so it is warmed up here too.
    version = await store.save("warm-up", snap)
    await store.load("warm-up")
    await store.delete("warm-up", expected_version=version)
    await count("save", lambda: store.save("a", snap))
    await count("save, create-only", lambda: store.save("b", snap, expected_version=None))
    version = await store.save("c", snap)
    await count("save, conditional", lambda: store.save("c", snap, expected_version=version))
    await count("load", lambda: store.load("a"))
    await count("load, absent", lambda: store.load("nobody"))
    await count("delete", lambda: store.delete("b"))
    version = await store.save("d", snap)
    await count("delete, conditional", lambda: store.delete("d", expected_version=version))
    await count("update", lambda: store.update("a", lambda s: snap))
    await count("acquire", lambda: store.acquire("a", "owner-1"))
    # Warm connections for the next store's own first requests are not ours to count.
    await store.aclose()
    return seen


def _assert_round_trips(seen: dict[str, Tally]) -> None:
    measured = {name: (t.exchanges, t.connections, t.expect_headers()) for name, t in seen.items()}
    wanted = {name: (count, 0, 0) for name, count in EXPECTED.items()}
    assert measured == wanted, "(exchanges, new connections, Expect headers) per operation"


@pytest.mark.parametrize("transport", ["boto3", "obstore"])
def test_s3_round_trips(
    s3_proxy: DelayProxy, aws_sandbox: None, transport: str, s3_prefix: str
) -> None:
    if transport == "obstore":
        pytest.importorskip("obstore")
    store = S3Persistence(BUCKET, s3_prefix, endpoint_url=s3_proxy.url, transport=transport)
    _assert_round_trips(asyncio.run(_measure(store, s3_proxy)))


def test_s3_store_on_a_callers_client_sends_no_expect_header(
    s3_proxy: DelayProxy, aws_sandbox: None, s3_prefix: str
) -> None:
    """The header is dropped for the store's calls on a client the caller built, too."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_proxy.url, region_name="us-east-1")
    store = S3Persistence(BUCKET, s3_prefix, client=client)
    try:
        _assert_round_trips(asyncio.run(_measure(store, s3_proxy)))
        # The caller's own PutObject on that client keeps botocore's behaviour.
        with s3_proxy.counting() as tally:
            client.put_object(Bucket=BUCKET, Key=f"{s3_prefix}/raw", Body=b"x" * 4096)
        assert (tally.exchanges, tally.expect_headers()) == (2, 1)
    finally:
        client.close()


def test_the_proxy_sees_expect_continue_as_a_second_round_trip(
    s3_proxy: DelayProxy, aws_sandbox: None
) -> None:
    """Reference: raw boto3 sends Expect: 100-continue, and the proxy counts two exchanges."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_proxy.url, region_name="us-east-1")
    try:
        client.put_object(Bucket=BUCKET, Key="raw-warm", Body=b"x")
        with s3_proxy.counting() as tally:
            client.put_object(Bucket=BUCKET, Key="raw", Body=b"x" * 4096)
        assert (tally.exchanges, tally.connections, tally.expect_headers()) == (2, 0, 1)
    finally:
        client.close()


def test_gcs_round_trips(gcs_proxy: DelayProxy, gcs_bucket: str, gcs_prefix: str) -> None:
    from google.auth.credentials import AnonymousCredentials

    from sessionstore.adapters.gcs import GcsPersistence

    store = GcsPersistence(
        gcs_bucket,
        gcs_prefix,
        api_endpoint=gcs_proxy.url,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        project="sessionstore-tests",
    )
    _assert_round_trips(asyncio.run(_measure(store, gcs_proxy)))
