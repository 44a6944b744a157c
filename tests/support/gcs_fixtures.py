"""pytest fixtures for GCS tests, against the loopback emulator in :mod:`support.gcs_server`.

Nothing here can reach Google: every client is built with ``AnonymousCredentials``
and an explicit ``127.0.0.1`` endpoint, and :func:`gcs_sandbox` points every
route google-auth could take to find credentials (metadata server, gcloud config,
key files) at nothing, so an accidental default-credential lookup fails locally
instead of contacting anyone.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from sessionstore import codec
from sessionstore.adapters.gcs import GcsPersistence
from support.gcs_server import GcsEmulator

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterator

    from sessionstore.model import SessionSnapshot
    from support.gcs_server import LoggedRequest

T = TypeVar("T")

__all__ = [
    "FAST_RETRY",
    "GCS_BUCKET",
    "gcs_bucket",
    "gcs_client",
    "gcs_prefix",
    "gcs_sandbox",
    "gcs_server",
    "gcs_store",
    "make_gcs_client",
    "make_gcs_store",
    "object_name",
    "run",
    "shape",
    "stored_generation",
    "stored_snapshot",
]

GCS_BUCKET = "sessionstore-tests"

#: Retry settings for tests: same decisions as the defaults, millisecond back-off.
FAST_RETRY: dict[str, Any] = {"retry_initial": 0.001, "retry_maximum": 0.005, "retry_deadline": 5.0}
#: Explicit short per-request timeouts (connect, read): loopback answers in milliseconds.
TEST_TIMEOUT = (2.0, 10.0)


@pytest.fixture(scope="session")
def gcs_sandbox() -> Iterator[None]:
    """No route to Google for anything google-auth might look up by default."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # discard port: refused at once
        patch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
        patch.setenv("NO_GCE_CHECK", "True")
        patch.setenv("CLOUDSDK_CONFIG", "/nonexistent/sessionstore-tests/gcloud")
        patch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/sessionstore-tests/key.json")
        patch.setenv("DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA", "false")  # as shipped
        for name in ("STORAGE_EMULATOR_HOST", "API_ENDPOINT_OVERRIDE", "GOOGLE_CLOUD_PROJECT"):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="session")
def gcs_server(gcs_sandbox: None) -> Iterator[GcsEmulator]:
    """One emulator and proxy for the whole run."""
    with GcsEmulator() as server:
        server.create_bucket(GCS_BUCKET)
        yield server


@pytest.fixture
def gcs_bucket(gcs_server: GcsEmulator) -> str:
    return GCS_BUCKET


@pytest.fixture
def gcs_prefix() -> str:
    """An object prefix no other test uses, so every store starts empty."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_gcs_client(gcs_server: GcsEmulator) -> Iterator[Callable[..., Any]]:
    """Build clients on the proxy (anonymous, explicit endpoint); closed after the test."""
    clients: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("credentials", AnonymousCredentials())  # type: ignore[no-untyped-call]
        client = storage.Client(
            project="sessionstore-tests",
            client_options={"api_endpoint": gcs_server.url},
            **options,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def gcs_client(make_gcs_client: Callable[..., Any]) -> Any:
    """A fresh client per test (so per-client state such as SDK caches starts empty)."""
    return make_gcs_client()


@pytest.fixture
def make_gcs_store(
    gcs_server: GcsEmulator, gcs_bucket: str, gcs_client: Any, gcs_prefix: str
) -> Iterator[Callable[..., GcsPersistence]]:
    """Build stores on the test's prefix and client with extra options; closed afterwards.

    The request log is emptied and the fault plan cleared before and after the test.
    """
    stores: list[GcsPersistence] = []

    def make(bucket: str = gcs_bucket, **options: Any) -> GcsPersistence:
        settings: dict[str, Any] = {"timeout": TEST_TIMEOUT, **FAST_RETRY}
        if not {"api_endpoint", "credentials", "client"} & set(options):
            settings["client"] = gcs_client
        settings.update(options)
        store = GcsPersistence(bucket, gcs_prefix, **settings)
        stores.append(store)
        return store

    gcs_server.clear_faults()
    gcs_server.reset_log()
    yield make
    gcs_server.clear_faults()
    for store in stores:
        asyncio.run(store.aclose())


@pytest.fixture
def gcs_store(make_gcs_store: Callable[..., GcsPersistence]) -> GcsPersistence:
    """An empty GCS store on a fresh prefix, through the proxy, with short timeouts."""
    return make_gcs_store()


# ------------------------------------------------------------------ helpers


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def object_name(store: GcsPersistence, session_id: str) -> str:
    return f"{store.prefix}/{session_id}.json"


def stored_snapshot(server: GcsEmulator, store: GcsPersistence, session_id: str) -> SessionSnapshot:
    """What the emulator holds for the session, read directly (not through the store)."""
    body = server.read_object(store.bucket, object_name(store, session_id))
    assert body is not None, f"{session_id} should be stored"
    snapshot = codec.decode(session_id, body).snapshot
    assert snapshot is not None, f"{session_id} holds a claim, not a snapshot"
    return snapshot


def stored_generation(server: GcsEmulator, store: GcsPersistence, session_id: str) -> str | None:
    generation = server.generation(store.bucket, object_name(store, session_id))
    return None if generation is None else str(generation)


def shape(requests: list[LoggedRequest]) -> list[tuple[str, str, int | None]]:
    """(method, kind, status) per request: kind is upload, download, delete or list."""
    return [(r.method, _kind(r), r.status) for r in requests]


def _kind(request: LoggedRequest) -> str:
    if request.is_upload:
        return "upload"
    if request.is_download:
        return "download"
    if request.method == "DELETE":
        return "delete"
    if request.path.endswith("/o"):
        return "list"
    return request.path
