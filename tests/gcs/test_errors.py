"""Bad input and refusals: which error, naming what, after how many requests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from google.auth import credentials as auth_credentials
from google.auth import exceptions as auth_exceptions

from sessionstore.errors import (
    AccessDenied,
    ConflictError,
    CorruptSnapshot,
    InvalidSessionId,
    SessionStoreError,
    SnapshotTooLarge,
    StoreNotFound,
)
from sessionstore.testing import make_snapshot
from support.gcs_fixtures import object_name, run, shape, stored_generation

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from sessionstore.adapters.gcs import GcsPersistence
    from support.gcs_server import GcsEmulator


def _operations(
    store: GcsPersistence, session_id: Any, version: str = "1234"
) -> dict[str, Callable[[], Coroutine[Any, Any, object]]]:
    """Every primitive-backed operation, by name; call one to get its coroutine."""

    async def listing() -> list[str]:
        return [s async for s in store.list_sessions()]

    return {
        "save": lambda: store.save(session_id, make_snapshot(1)),
        "create": lambda: store.save(session_id, make_snapshot(1), expected_version=None),
        "save-if": lambda: store.save(session_id, make_snapshot(1), expected_version=version),
        "load": lambda: store.load(session_id),
        "delete": lambda: store.delete(session_id),
        "delete-if": lambda: store.delete(session_id, expected_version=version),
        "list": listing,
    }


@pytest.mark.parametrize("bad_id", ["", "../x", "a/b", "a b", ".hidden", "é", None, 7])
def test_invalid_ids_send_no_request(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator, bad_id: Any
) -> None:
    operations = _operations(gcs_store, bad_id)
    del operations["list"]
    for operation in operations.values():
        with pytest.raises(InvalidSessionId):
            run(operation())
    assert gcs_server.requests == []


@pytest.mark.parametrize("version", ["abc", "0", "-5", "012", "1.5", "sha256:ff"])
def test_a_version_that_is_no_generation_conflicts_without_a_request(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator, version: str
) -> None:
    with pytest.raises(ConflictError):
        run(gcs_store.save("s", make_snapshot(1), expected_version=version))
    with pytest.raises(ConflictError):
        run(gcs_store.delete("s", expected_version=version))
    assert gcs_server.requests == []


def test_corrupt_object_is_corrupt_snapshot_naming_the_session(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    gcs_server.put_object(gcs_store.bucket, object_name(gcs_store, "s"), b"\x00 not json")
    with pytest.raises(CorruptSnapshot) as caught:
        run(gcs_store.load("s"))
    assert caught.value.session_id == "s"
    assert "'s'" in str(caught.value)


def test_missing_bucket_is_store_not_found_naming_the_bucket(
    make_gcs_store: Callable[..., GcsPersistence], gcs_server: GcsEmulator
) -> None:
    store = make_gcs_store(bucket="no-such-bucket-here")

    async def listing() -> list[str]:
        return [s async for s in store.list_sessions()]

    for operation in (lambda: store.save("s", make_snapshot(1)), listing):
        with pytest.raises(StoreNotFound, match="'no-such-bucket-here'"):
            run(operation())
    # An upload or listing 404 can only mean the bucket; each was sent once, not retried.
    assert shape(gcs_server.requests) == [("POST", "upload", 404), ("GET", "list", 404)]


def test_gcs_worded_missing_bucket_on_load_is_store_not_found(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    """GCS says which is missing; fake-gcs-server says only "Not Found" (then load is None)."""
    assert run(gcs_store.load("s")) is None
    message = "The specified bucket does not exist."
    gcs_server.fault("fail_before", status=404, message=message, path_contains="/download/")
    with pytest.raises(StoreNotFound, match=gcs_store.bucket):
        run(gcs_store.load("s"))


@pytest.mark.parametrize("status", [401, 403])
def test_refusals_are_access_denied_naming_bucket_and_object(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator, status: int
) -> None:
    """fake-gcs-server has no authentication: the proxy answers 401/403 like GCS."""
    version = run(gcs_store.save("s", make_snapshot(1)))
    gcs_server.reset_log()
    gcs_server.fault("fail_before", status=status, times=None)
    operations = _operations(gcs_store, "s", version)
    for operation in operations.values():
        with pytest.raises(AccessDenied) as caught:
            run(operation())
        assert gcs_store.bucket in str(caught.value)
        assert isinstance(caught.value.__cause__, Exception)
    gcs_server.clear_faults()
    # Refusals are final: one request per operation, none retried.
    assert len(gcs_server.requests) == len(operations)
    assert stored_generation(gcs_server, gcs_store, "s") == version


class _RevokedCredentials(auth_credentials.Credentials):
    """Credentials whose token refresh is refused (as for a revoked key)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def refresh(self, request: Any) -> None:
        message = "invalid_grant: account not found (test)"
        raise auth_exceptions.RefreshError(message)  # type: ignore[no-untyped-call]


def test_bad_credentials_are_access_denied_before_any_request(
    make_gcs_client: Callable[..., Any],
    make_gcs_store: Callable[..., GcsPersistence],
    gcs_server: GcsEmulator,
) -> None:
    store = make_gcs_store(client=make_gcs_client(credentials=_RevokedCredentials()))
    for operation in _operations(store, "s").values():
        with pytest.raises(AccessDenied, match="credentials failed"):
            run(operation())
    assert gcs_server.requests == []


def test_oversized_snapshot_sends_nothing(
    make_gcs_store: Callable[..., GcsPersistence], gcs_server: GcsEmulator
) -> None:
    store = make_gcs_store(max_bytes=2048)
    with pytest.raises(SnapshotTooLarge):
        run(store.save("s", make_snapshot(1, padding=4096)))
    assert gcs_server.requests == []


def test_oversized_stored_object_is_refused_from_the_headers_in_one_request(
    make_gcs_store: Callable[..., GcsPersistence], gcs_server: GcsEmulator
) -> None:
    writer = make_gcs_store()
    run(writer.save("s", make_snapshot(1, padding=600 * 1024)))  # several read chunks
    size = len(gcs_server.read_object(writer.bucket, object_name(writer, "s")) or b"")
    reader = make_gcs_store(max_bytes=4096)
    gcs_server.reset_log()
    with pytest.raises(SnapshotTooLarge) as caught:
        run(reader.load("s"))
    assert (caught.value.size, caught.value.limit) == (size, 4096)
    assert shape(gcs_server.requests) == [("GET", "download", 200)]


def test_no_raw_google_exception_escapes(
    make_gcs_store: Callable[..., GcsPersistence], gcs_server: GcsEmulator
) -> None:
    store = make_gcs_store(retry_deadline=0)
    for status in (400, 409, 500, 502):
        gcs_server.fault("fail_before", status=status, times=None)
        for operation in _operations(store, "s").values():
            with pytest.raises(SessionStoreError) as caught:
                run(operation())
            assert caught.value.__cause__ is not None
        gcs_server.clear_faults()
