"""Exactly which HTTP requests each operation sends, counted at the proxy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from sessionstore.testing import make_snapshot
from support.gcs_fixtures import object_name, run, shape, stored_generation

if TYPE_CHECKING:
    from collections.abc import Callable

    from sessionstore.adapters.gcs import GcsPersistence
    from sessionstore.model import SessionSnapshot
    from support.gcs_server import GcsEmulator, LoggedRequest


_DELETED = (200, 204)  # GCS answers 204; fake-gcs-server 200


def _sent(server: GcsEmulator, operation: Callable[[], object]) -> list[LoggedRequest]:
    server.reset_log()
    operation()
    return server.requests


def test_each_save_mode_is_one_upload_with_the_right_precondition(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    store = gcs_store
    [create] = _sent(
        gcs_server, lambda: run(store.save("s", make_snapshot(1), expected_version=None))
    )
    version = stored_generation(gcs_server, store, "s")
    assert version is not None
    [conditional] = _sent(
        gcs_server, lambda: run(store.save("s", make_snapshot(2), expected_version=version))
    )
    [unconditional] = _sent(gcs_server, lambda: run(store.save("s", make_snapshot(3))))

    for request in (create, conditional, unconditional):
        assert request.is_upload
        assert request.query["uploadType"] == "multipart"
        assert request.status == 200
    assert create.query["ifGenerationMatch"] == "0"
    assert conditional.query["ifGenerationMatch"] == version
    assert "ifGenerationMatch" not in unconditional.query


def test_load_is_one_media_download(gcs_store: GcsPersistence, gcs_server: GcsEmulator) -> None:
    version = run(gcs_store.save("s", make_snapshot(1)))
    [present] = _sent(gcs_server, lambda: run(gcs_store.load_versioned("s")))
    [absent] = _sent(gcs_server, lambda: run(gcs_store.load("nobody")))
    assert present.is_download
    assert present.query == {"alt": "media"}
    assert present.path == f"/download/storage/v1/b/{gcs_store.bucket}/o/" + object_name(
        gcs_store, "s"
    )
    assert (absent.is_download, absent.status) == (True, 404)
    assert run(gcs_store.load_versioned("s")).version == version  # type: ignore[union-attr]


def test_conditional_delete_sends_if_generation_match(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    version = run(gcs_store.save("s", make_snapshot(1)))
    [request] = _sent(gcs_server, lambda: run(gcs_store.delete("s", expected_version=version)))
    assert (request.method, request.forwarded) == ("DELETE", True)
    assert request.status in _DELETED
    assert request.query == {"ifGenerationMatch": version}
    assert stored_generation(gcs_server, gcs_store, "s") is None


def test_unconditional_delete_is_one_request_without_precondition(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    run(gcs_store.save("s", make_snapshot(1)))
    [request] = _sent(gcs_server, lambda: run(gcs_store.delete("s")))
    [missing] = _sent(gcs_server, lambda: run(gcs_store.delete("s")))
    assert (request.method, request.query) == ("DELETE", {})
    assert request.status in _DELETED
    assert (missing.method, missing.status) == ("DELETE", 404)


def test_update_is_one_download_and_one_conditional_upload(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    version = run(gcs_store.save("s", make_snapshot(1)))

    def bump(current: SessionSnapshot | None) -> SessionSnapshot:
        assert current is not None
        return current.model_copy(update={"turn_count": current.turn_count + 1})

    requests = _sent(gcs_server, lambda: run(gcs_store.update("s", bump)))
    assert shape(requests) == [("GET", "download", 200), ("POST", "upload", 200)]
    assert requests[1].query["ifGenerationMatch"] == version


def test_listing_a_few_sessions_is_one_request_with_max_results(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    for n in range(3):
        run(gcs_store.save(f"s-{n}", make_snapshot(n)))

    async def collect() -> list[str]:
        return [s async for s in gcs_store.list_sessions("s-")]

    requests = _sent(gcs_server, lambda: run(collect()))
    assert shape(requests) == [("GET", "list", 200)]
    assert requests[0].query["maxResults"] == "1000"
    assert requests[0].query["prefix"] == f"{gcs_store.prefix}/s-"


def test_a_body_over_the_sdks_multipart_threshold_is_still_one_request(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    big = make_snapshot(1, padding=9 * 1024 * 1024)  # google-cloud-storage goes resumable > 8 MiB
    requests = _sent(gcs_server, lambda: run(gcs_store.save("big", big, expected_version=None)))
    assert shape(requests) == [("POST", "upload", 200)]
    assert requests[0].query["uploadType"] == "multipart"
    assert run(gcs_store.load("big")) == big


def test_customer_managed_key_rides_on_every_upload(
    make_gcs_store: Callable[..., GcsPersistence], gcs_server: GcsEmulator
) -> None:
    key = "projects/p/locations/europe-west1/keyRings/r/cryptoKeys/sessions"
    store = make_gcs_store(kms_key_name=key)
    version = run(store.save("s", make_snapshot(1), expected_version=None))
    run(store.save("s", make_snapshot(2), expected_version=version))
    run(store.save("s", make_snapshot(3)))
    uploads = [r for r in gcs_server.requests if r.is_upload]
    assert len(uploads) == 3
    assert all(r.query.get("kmsKeyName") == key for r in uploads)


def test_no_bucket_metadata_request_ever(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator, gcs_client: Any
) -> None:
    """google-cloud-storage 3.17 queues GET /storage/v1/b/<bucket> from Blob/Bucket methods."""
    version = run(gcs_store.save("s", make_snapshot(1)))
    run(gcs_store.load("s"))
    run(gcs_store.update("s", lambda current: make_snapshot(2)))
    run(gcs_store.delete("s", expected_version=stored_generation(gcs_server, gcs_store, "s")))
    run(gcs_store.delete("s"))
    assert version
    bucket_path = f"/storage/v1/b/{gcs_store.bucket}"
    assert all(r.path != bucket_path for r in gcs_server.requests)
    cache = getattr(gcs_client, "_bucket_metadata_cache", None)
    if cache is None:
        pytest.skip("this google-cloud-storage has no bucket-metadata cache")
    # Nothing was queued (the fetch would be queued synchronously by any Blob/Bucket call).
    assert cache.get(gcs_store.bucket) is None
    assert gcs_store.bucket not in cache._inflight_fetches
