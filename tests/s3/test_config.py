"""Construction, URLs, the client the store builds for itself, encryption, processes."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

import pytest
from botocore.compat import HAS_CRT

from sessionstore import InvalidStoreUrl, MissingDependency, open_store
from sessionstore.adapters.s3 import S3Persistence
from sessionstore.adapters.s3 import _boto3 as s3_boto3
from sessionstore.adapters.s3 import _config as _s3_config
from sessionstore.testing import make_snapshot
from support.processes import finish, in_forked_child, spawn_worker
from support.s3_fixtures import calls, collect, key_of, run

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from support.s3_server import S3Emulator

MRAP_ARN = "arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap"


# -------------------------------------------------------------- construction


def test_constructing_sends_nothing_and_builds_no_client(
    s3_server: S3Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[object] = []
    monkeypatch.setattr(s3_boto3, "build_client", built.append)
    s3_server.reset_log()
    store = S3Persistence("any-bucket", "p", region="eu-west-1")
    S3Persistence.from_url(_url("s3://any-bucket/p?region=eu-west-1"))
    assert built == []
    assert s3_server.requests() == []
    run(store.aclose())  # closing a store that never built a client is fine
    assert built == []


def test_client_is_built_once_on_first_use_even_under_concurrency(
    s3_server: S3Emulator, s3_bucket: str, aws_sandbox: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_build = _s3_config.build_client
    builds = 0
    gate = threading.Barrier(8, timeout=10)

    def counting_build(settings: Any) -> S3Client:
        nonlocal builds
        builds += 1
        return real_build(settings)

    monkeypatch.setattr(s3_boto3, "build_client", counting_build)
    store = S3Persistence(s3_bucket, "lazy", endpoint_url=s3_server.endpoint_url, max_workers=8)

    def first_use(n: int) -> None:
        gate.wait()  # all eight reach the lazy client together
        store._s3()

    threads = [threading.Thread(target=first_use, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == 1
    assert run(store.load("s-1")) is None
    assert builds == 1
    run(store.aclose())


def test_own_client_is_configured_deliberately(aws_sandbox: None) -> None:
    store = S3Persistence(
        "any-bucket",
        region="eu-west-1",
        endpoint_url="http://127.0.0.1:9",
        max_workers=48,
        connect_timeout=1.5,
        read_timeout=7,
        max_attempts=5,
    )
    client = store._s3()  # builds the client; sends nothing
    config: Any = client.meta.config  # botocore-stubs do not list Config's attributes
    assert config.retries == {"mode": "standard", "total_max_attempts": 5}
    assert config.connect_timeout == 1.5
    assert config.read_timeout == 7
    assert config.max_pool_connections == 48
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    run(store.aclose())


def test_own_client_defaults(aws_sandbox: None) -> None:
    store = S3Persistence("any-bucket")
    config: Any = store._s3().meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert (config.connect_timeout, config.read_timeout) == (5.0, 20.0)
    assert config.max_pool_connections == 32
    run(store.aclose())


def test_endpoint_comes_from_aws_endpoint_url_s3(
    s3_server: S3Emulator,
    s3_bucket: str,
    s3_prefix: str,
    aws_sandbox: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    store = open_store(f"s3://{s3_bucket}/{s3_prefix}")
    assert isinstance(store, S3Persistence)
    s3_server.reset_log()
    run(store.save("s-1", make_snapshot(1)))
    assert calls(s3_server) == [("PUT", f"{s3_prefix}/s-1.json", 200)]
    run(store.aclose())


def test_aclose_closes_only_a_client_the_store_built(
    s3_client: S3Client, s3_bucket: str, s3_prefix: str
) -> None:
    given = S3Persistence(s3_bucket, s3_prefix, client=s3_client)
    run(given.save("s-1", make_snapshot(1)))
    run(given.aclose())
    # The caller's client still works after the store is closed.
    assert s3_client.head_bucket(Bucket=s3_bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_multi_region_access_points_are_refused() -> None:
    for bucket in (MRAP_ARN, "mfzwi23gnjvgw.mrap"):
        with pytest.raises(ValueError, match="Multi-Region Access Point"):
            S3Persistence(bucket)
    with pytest.raises(InvalidStoreUrl, match="Multi-Region Access Point"):
        open_store("s3://mfzwi23gnjvgw.mrap/sessions")
    # A single-region access point ARN names one bucket: allowed.
    S3Persistence("arn:aws:s3:eu-west-1:123456789012:accesspoint/sessions")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sse": "aws:kms:dsse-typo"}, "sse must be"),
        ({"kms_key_id": "k"}, "need sse='aws:kms'"),
        ({"sse": "AES256", "bucket_key": True}, "need sse='aws:kms'"),
        ({"checksum": "MD5"}, "checksum must be"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 1001}, "page_size"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"read_timeout": 0}, "read_timeout"),
        ({"max_bytes": 0}, "max_bytes"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        S3Persistence("any-bucket", **options)


def test_client_settings_cannot_be_combined_with_a_given_client(s3_client: S3Client) -> None:
    with pytest.raises(ValueError, match="region"):
        S3Persistence("any-bucket", client=s3_client, region="eu-west-1")


@pytest.mark.skipif(HAS_CRT, reason="awscrt is installed here")
def test_crc32c_without_awscrt_names_the_extra() -> None:
    with pytest.raises(MissingDependency, match=r"botocore\[crt\]"):
        S3Persistence("any-bucket", checksum="CRC32C")


# -------------------------------------------------------------------- URLs


def _url(raw: str) -> Any:
    from sessionstore.registry import _parse

    return _parse(raw)


def test_url_maps_bucket_prefix_and_query() -> None:
    store = open_store(
        "s3://my-bucket/agents/sessions/?region=eu-west-1&endpoint_url=http://127.0.0.1:9000"
        "&sse=aws:kms&kms_key_id=alias/k&bucket_key=true&checksum=CRC32&page_size=50"
        "&max_bytes=1024&max_workers=4&max_attempts=2&connect_timeout=1&read_timeout=2",
    )
    assert isinstance(store, S3Persistence)
    assert (store.bucket, store.prefix) == ("my-bucket", "agents/sessions")
    assert store.max_bytes == 1024
    assert store._page_size == 50
    assert store._checksum == "CRC32"
    assert store._encryption.params() == {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "alias/k",
        "BucketKeyEnabled": True,
    }
    settings = store._settings
    assert (settings.region, settings.endpoint_url) == ("eu-west-1", "http://127.0.0.1:9000")
    assert (settings.max_attempts, settings.connect_timeout, settings.read_timeout) == (2, 1, 2)
    assert settings.max_pool_connections == 4


def test_keyword_options_override_the_query() -> None:
    store = open_store("s3://b-1/p?region=eu-west-1&checksum=none", region="us-west-2")
    assert isinstance(store, S3Persistence)
    assert store._settings.region == "us-west-2"
    assert store._checksum is None


@pytest.mark.parametrize(
    "url",
    [
        "s3:///prefix-only",
        "s3://b-1/p?colour=blue",
        "s3://b-1/p?max_bytes=lots",
        "s3://b-1/p?bucket_key=maybe",
    ],
)
def test_bad_urls_are_invalid_store_urls(url: str) -> None:
    with pytest.raises(InvalidStoreUrl):
        open_store(url)


# -------------------------------------------------------------- encryption


def test_encryption_settings_ride_on_every_put(
    s3_client: S3Client, s3_bucket: str, s3_prefix: str, s3_server: S3Emulator
) -> None:
    kms = S3Persistence(
        s3_bucket,
        s3_prefix,
        client=s3_client,
        sse="aws:kms",
        kms_key_id="alias/k",
        bucket_key=True,
    )
    aes = S3Persistence(s3_bucket, s3_prefix, client=s3_client, sse="AES256", checksum="CRC32")
    s3_server.reset_log()
    run(kms.save("k-1", make_snapshot(1), expected_version=None))
    run(aes.save("a-1", make_snapshot(1)))
    kms_put, aes_put = (r.headers for r in s3_server.requests() if r.method == "PUT")
    assert kms_put["x-amz-server-side-encryption"] == "aws:kms"
    assert kms_put["x-amz-server-side-encryption-aws-kms-key-id"] == "alias/k"
    assert kms_put["x-amz-server-side-encryption-bucket-key-enabled"] == "true"
    assert "x-amz-checksum-sha256" in kms_put
    assert aes_put["x-amz-server-side-encryption"] == "AES256"
    assert "x-amz-checksum-crc32" in aes_put
    assert run(aes.load("a-1")) == make_snapshot(1)


# --------------------------------------------------------------- processes


def test_processes_share_a_store_through_the_environment(
    s3_server: S3Emulator,
    s3_bucket: str,
    s3_prefix: str,
    aws_sandbox: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three processes, pointed at the emulator by AWS_ENDPOINT_URL_S3 alone, lose no update."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    url = f"s3://{s3_bucket}/{s3_prefix}"
    workers = [spawn_worker("update-counter", url, "counter", "20") for _ in range(3)]
    for worker in workers:
        assert finish(worker).strip() == "done"
    store = S3Persistence(s3_bucket, s3_prefix, endpoint_url=s3_server.endpoint_url)
    final = run(store.load("counter"))
    assert final is not None
    assert final.turn_count == 60
    assert run(collect(store)) == ["counter"]
    assert key_of(store, "counter") == f"{s3_prefix}/counter.json"
    asyncio.run(store.aclose())


def _child_uses_s3(store: S3Persistence) -> None:
    asyncio.run(store.save("forked", make_snapshot(7, writer="child")))
    assert store.blocking.load("forked") == make_snapshot(7, writer="child")
    store.blocking.save("forked", make_snapshot(8, writer="child"))


def test_a_store_used_before_fork_keeps_working_in_the_child(s3_store: S3Persistence) -> None:
    """The parent's pool, loop and connections are not the child's: it rebuilds them."""
    asyncio.run(s3_store.save("s-1", make_snapshot(1)))
    s3_store.blocking.save("s-1", make_snapshot(2))
    assert in_forked_child(_child_uses_s3, s3_store) == 0, "hung or failed in the child"
    assert s3_store.blocking.load("forked") == make_snapshot(8, writer="child")
    assert s3_store.blocking.load("s-1") == make_snapshot(2)  # the parent still works
