"""pytest fixtures for S3 tests, against the loopback emulator in :mod:`support.s3_server`.

Nothing here can reach AWS: every client is built with an explicit ``127.0.0.1``
endpoint and dummy credentials, and :func:`aws_sandbox` strips the environment of
anything that could send boto3 elsewhere (profiles, instance metadata, endpoints).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import pytest
from botocore.retries.standard import ExponentialBackoff

from sessionstore.adapters.s3 import S3Persistence
from support.gcs_server import count_connects, refusing_endpoint
from support.s3_server import DUMMY_CREDENTIALS, REGION, S3Emulator

if TYPE_CHECKING:
    from collections.abc import Coroutine, Iterator

    from mypy_boto3_s3 import S3Client

    from sessionstore.contract import SessionPersistence

__all__ = [
    "S3_BUCKET",
    "aws_sandbox",
    "calls",
    "closed_port",
    "collect",
    "count_connects",
    "key_of",
    "obstore_store",
    "run",
    "s3_bucket",
    "s3_client",
    "s3_prefix",
    "s3_server",
    "s3_store",
    "stored",
    "write_id",
]

S3_BUCKET = "sessionstore-tests"
T = TypeVar("T")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Emulator]:
    """One emulator for the whole run (moto's import and start-up cost is paid once)."""
    with S3Emulator() as server:
        yield server


@pytest.fixture
def aws_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and no route to AWS for clients boto3 builds from the environment.

    Also removes botocore's retry back-off, so tests that make botocore retry do not
    sleep; what is retried, and how often, is unchanged.
    """
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", DUMMY_CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_CREDENTIALS["aws_secret_access_key"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/sessionstore-tests/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/sessionstore-tests/creds")
    for name in (
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0.0)


@pytest.fixture
def s3_bucket(s3_server: S3Emulator) -> str:
    """The test bucket, created if missing (``mock_aws`` elsewhere may have reset moto)."""
    s3_server.create_bucket(S3_BUCKET)
    return S3_BUCKET


@pytest.fixture
def s3_prefix() -> str:
    """A key prefix no other test uses, so every store starts empty."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3_client(s3_server: S3Emulator, aws_sandbox: None) -> Iterator[S3Client]:
    """A deliberately configured client: loopback endpoint, standard retries, short timeouts."""
    client = s3_server.client(max_pool_connections=32)
    yield client
    client.close()


@pytest.fixture
def s3_store(
    s3_server: S3Emulator, s3_bucket: str, s3_client: S3Client, s3_prefix: str
) -> Iterator[S3Persistence]:
    """An empty S3 store on a fresh prefix; the request log starts empty, no faults planned."""
    store = S3Persistence(s3_bucket, s3_prefix, client=s3_client, max_workers=32)
    s3_server.clear_faults()
    s3_server.reset_log()
    yield store
    s3_server.clear_faults()
    asyncio.run(store.aclose())


@pytest.fixture
def obstore_store(
    s3_server: S3Emulator,
    s3_bucket: str,
    s3_prefix: str,
    aws_sandbox: None,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[S3Persistence]:
    """An empty store on the obstore transport: static credentials (from ``aws_sandbox``),
    metadata lookups off, the loopback endpoint, retries without back-off (like the
    boto3 fixtures); the request log starts empty."""
    from sessionstore.adapters.s3 import _obstore

    monkeypatch.setattr(_obstore, "retry_delay", lambda throttled, number: 0.0)
    store = S3Persistence(
        s3_bucket,
        s3_prefix,
        transport="obstore",
        endpoint_url=s3_server.endpoint_url,
        max_attempts=3,  # as many as the boto3 fixtures' client makes
    )
    s3_server.clear_faults()
    s3_server.reset_log()
    yield store
    s3_server.clear_faults()
    asyncio.run(store.aclose())


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port whose connections are refused at once (see ``refusing_endpoint``)."""
    with refusing_endpoint() as url:
        port = urlsplit(url).port
        assert port is not None
        yield port


# ------------------------------------------------------------------ helpers


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def key_of(store: S3Persistence, session_id: str) -> str:
    return f"{store.prefix}/{session_id}.json" if store.prefix else f"{session_id}.json"


def calls(server: S3Emulator) -> list[tuple[str, str, int | None]]:
    """(method, key, status) of every request since the log was reset."""
    return [(r.method, r.key, r.status) for r in server.requests()]


def stored(server: S3Emulator, store: S3Persistence, session_id: str) -> tuple[bytes, str] | None:
    """Body and ETag as the bucket holds them, read around the store (not logged as its own)."""
    admin = server.admin
    try:
        response = admin.get_object(Bucket=store.bucket, Key=key_of(store, session_id))
    except admin.exceptions.NoSuchKey:
        return None
    return response["Body"].read(), response["ETag"]


def write_id(body: bytes) -> str:
    meta: dict[str, Any] = json.loads(body)["_sessionstore"]
    return str(meta["write_id"])


async def collect(store: SessionPersistence, prefix: str = "") -> list[str]:
    return [session_id async for session_id in store.list_sessions(prefix)]
