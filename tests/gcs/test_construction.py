"""Building a store: lazily, from a URL or the environment, and the blocking form."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

import pytest

from sessionstore.adapters import gcs as gcs_module
from sessionstore.adapters.gcs import GcsPersistence
from sessionstore.adapters.gcs._transport import build_client
from sessionstore.errors import InvalidStoreUrl
from sessionstore.registry import open_store
from sessionstore.testing import make_snapshot
from support.gcs_fixtures import FAST_RETRY, run, shape

if TYPE_CHECKING:
    from sessionstore.contract import SessionPersistence
    from support.gcs_server import GcsEmulator


@pytest.fixture
def emulator_env(gcs_server: GcsEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point clients the store builds itself at the proxy, as a subprocess would be."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.url)
    gcs_server.reset_log()
    gcs_server.clear_faults()
    return gcs_server.url


def test_open_store_builds_its_client_lazily_from_the_environment(
    emulator_env: str, gcs_server: GcsEmulator, gcs_bucket: str, gcs_prefix: str
) -> None:
    built: list[Any] = []
    gate = threading.Barrier(8)

    def counting_build(**options: Any) -> Any:
        built.append(options)
        return build_client(**options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(gcs_module, "build_client", counting_build)
        store = open_store(f"gs://{gcs_bucket}/{gcs_prefix}?page_size=2&retry_deadline=5")
    assert isinstance(store, GcsPersistence)
    assert (store.bucket, store.prefix) == (gcs_bucket, gcs_prefix)
    assert built == []  # constructing builds nothing and sends nothing
    assert gcs_server.requests == []

    async def first_use_everywhere() -> list[Any]:
        async def first_use(n: int) -> Any:
            return await store._run_sync(lambda: (gate.wait(5), store._clients.transport())[1])

        return await asyncio.gather(*(first_use(n) for n in range(8)))

    transports = run(first_use_everywhere())
    assert len(built) == 1, "eight threads racing to first use build one client"
    assert all(t is transports[0] for t in transports)
    version = run(store.save("s", make_snapshot(1), expected_version=None))
    assert run(store.load_versioned("s")).version == version  # type: ignore[union-attr]
    assert shape(gcs_server.requests) == [("POST", "upload", 200), ("GET", "download", 200)]
    run(store.aclose())


def test_url_options_and_errors(gcs_bucket: str) -> None:
    store = open_store(
        f"gs://{gcs_bucket}/a/b/?kms_key_name=k&page_size=7&timeout=3", retry_deadline=0
    )
    assert isinstance(store, GcsPersistence)
    assert (store.prefix, store.kms_key_name) == ("a/b", "k")
    assert repr(store) == f"GcsPersistence('gs://{gcs_bucket}/a/b')"
    for bad in (
        "gs:///prefix",
        f"gs://{gcs_bucket}/p?colour=blue",
        f"gs://{gcs_bucket}/p?page_size=lots",
        f"gs://{gcs_bucket}/p?page_size=5000",
        f"gs://{gcs_bucket}/p?max_attempts=0",
        f"gs://{gcs_bucket}/p?max_attempts=lots",
        "gs://UPPER_case/p",
        "gs://ab/p",
    ):
        with pytest.raises(InvalidStoreUrl):
            open_store(bad)


def test_client_and_client_settings_are_exclusive(gcs_client: Any) -> None:
    with pytest.raises(ValueError, match="not both"):
        GcsPersistence("some-bucket", client=gcs_client, project="p")


def test_blocking_form(gcs_store: GcsPersistence, gcs_server: GcsEmulator) -> None:
    blocking = gcs_store.blocking
    version = blocking.save("b-1", make_snapshot(1), expected_version=None)
    assert blocking.load("b-1") == make_snapshot(1)
    updated = blocking.update("b-1", lambda s: make_snapshot(2))
    assert updated.version != version
    assert list(blocking.list_sessions("b-")) == ["b-1"]
    blocking.delete("b-1", expected_version=updated.version)
    assert blocking.load_versioned("b-1") is None
    assert shape(gcs_server.requests) == [
        ("POST", "upload", 200),
        ("GET", "download", 200),
        ("GET", "download", 200),
        ("POST", "upload", 200),
        ("GET", "list", 200),
        ("DELETE", "delete", 200),
        ("GET", "download", 404),
    ]


def test_closing_a_store_leaves_an_injected_client_usable(
    gcs_client: Any, gcs_bucket: str, gcs_prefix: str
) -> None:
    first: SessionPersistence = GcsPersistence(
        gcs_bucket, gcs_prefix, client=gcs_client, **FAST_RETRY
    )
    run(first.save("s", make_snapshot(1)))
    run(first.aclose())
    second = GcsPersistence(gcs_bucket, gcs_prefix, client=gcs_client, **FAST_RETRY)
    assert run(second.load("s")) == make_snapshot(1)
    run(second.aclose())
