"""Faults injected at the proxy: the outcome each operation reports, and what is stored after."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests
import urllib3
from google.auth.credentials import AnonymousCredentials

from sessionstore.adapters.gcs._retry import resend_if_safe
from sessionstore.contract import ANY_VERSION
from sessionstore.errors import BackendUnavailable, OutcomeUnknown
from sessionstore.testing import make_snapshot
from support.gcs_fixtures import object_name, run, shape, stored_generation, stored_snapshot
from support.gcs_server import refusing_endpoint

if TYPE_CHECKING:
    from collections.abc import Callable

    from sessionstore.adapters.gcs import GcsPersistence
    from sessionstore.contract import ExpectedVersion
    from sessionstore.model import SessionSnapshot
    from support.gcs_server import FaultAction, GcsEmulator

UPLOAD = {"method": "POST", "path_contains": "/upload/"}
DOWNLOAD = {"method": "GET", "path_contains": "/download/"}
DELETE = {"method": "DELETE"}

RIVAL = make_snapshot(50, writer="rival")


def _expected(store: GcsPersistence, mode: str) -> ExpectedVersion:
    """Prepare the session for a save mode; return the expected_version to pass."""
    if mode == "create-only":
        return None
    return run(store.save("s", make_snapshot(1)))


def _rival_lands(server: GcsEmulator, store: GcsPersistence) -> Callable[[], None]:
    """Another writer's unconditional upload, straight to the emulator."""
    name = object_name(store, "s")

    def land() -> None:
        server.put_object(store.bucket, name, RIVAL.model_dump_json().encode())

    return land


# ------------------------------------------------------------- transient, then fine


@pytest.mark.parametrize("mode", ["create-only", "expected-generation"])
def test_503_before_forwarding_is_retried(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator, mode: str
) -> None:
    expected = _expected(gcs_store, mode)
    gcs_server.reset_log()
    gcs_server.fault("fail_before", status=503, **UPLOAD)
    version = run(gcs_store.save("s", make_snapshot(2), expected_version=expected))
    assert shape(gcs_server.requests) == [("POST", "upload", 503), ("POST", "upload", 200)]
    assert [r.forwarded for r in gcs_server.requests] == [False, True]
    assert version == stored_generation(gcs_server, gcs_store, "s")
    assert stored_snapshot(gcs_server, gcs_store, "s") == make_snapshot(2)


def test_503_before_forwarding_is_retried_for_load_delete_and_list(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    version = run(gcs_store.save("s", make_snapshot(1)))
    gcs_server.fault("fail_before", status=503, **DOWNLOAD)
    assert run(gcs_store.load("s")) == make_snapshot(1)
    gcs_server.fault("fail_before", status=503, method="GET", path_contains="/o")

    async def collect() -> list[str]:
        return [s async for s in gcs_store.list_sessions()]

    assert run(collect()) == ["s"]
    gcs_server.fault("fail_before", status=503, **DELETE)
    run(gcs_store.delete("s", expected_version=version))
    assert stored_generation(gcs_server, gcs_store, "s") is None
    assert [r.status for r in gcs_server.requests[1:]] == [503, 200, 503, 200, 503, 200]


@pytest.mark.parametrize("mode", ["create-only", "expected-generation"])
def test_lost_response_is_resolved_by_the_write_id(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator, mode: str
) -> None:
    """The upload lands, the client hears 503, its retry gets 412 (its own write): success."""
    expected = _expected(gcs_store, mode)
    gcs_server.reset_log()
    gcs_server.fault("fail_after", status=503, **UPLOAD)
    version = run(gcs_store.save("s", make_snapshot(2), expected_version=expected))
    assert shape(gcs_server.requests) == [
        ("POST", "upload", 503),
        ("POST", "upload", 412),
        ("GET", "download", 200),
    ]
    assert version == stored_generation(gcs_server, gcs_store, "s")
    assert stored_snapshot(gcs_server, gcs_store, "s") == make_snapshot(2)


@pytest.mark.parametrize("mode", ["create-only", "expected-generation", "unconditional"])
def test_connection_dropped_after_forwarding_still_succeeds(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator, mode: str
) -> None:
    expected = ANY_VERSION if mode == "unconditional" else _expected(gcs_store, mode)
    gcs_server.reset_log()
    gcs_server.fault("drop_after", **UPLOAD)
    if expected is ANY_VERSION or expected is None:
        version = run(gcs_store.save("s", make_snapshot(2), expected_version=expected))
        # Not resent: blind, or create-only with no answer (the server may still hold
        # it, and apply it after a later delete). Decided by reading the write id back.
        assert shape(gcs_server.requests) == [("POST", "upload", None), ("GET", "download", 200)]
    else:
        version = run(gcs_store.save("s", make_snapshot(2), expected_version=expected))
        assert shape(gcs_server.requests) == [
            ("POST", "upload", None),
            ("POST", "upload", 412),
            ("GET", "download", 200),
        ]
    assert version == stored_generation(gcs_server, gcs_store, "s")
    assert stored_snapshot(gcs_server, gcs_store, "s") == make_snapshot(2)


def test_unconditional_save_with_lost_response_is_not_resent(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    run(gcs_store.save("s", make_snapshot(1)))
    gcs_server.reset_log()
    gcs_server.fault("fail_after", status=503, **UPLOAD)
    version = run(gcs_store.save("s", make_snapshot(2)))
    assert shape(gcs_server.requests) == [("POST", "upload", 503), ("GET", "download", 200)]
    assert version == stored_generation(gcs_server, gcs_store, "s")
    assert stored_snapshot(gcs_server, gcs_store, "s") == make_snapshot(2)


def test_unconditional_save_503_that_did_not_land_is_outcome_unknown(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    """A 503 may come after the write was applied, so a precondition-less upload is not resent."""
    before = run(gcs_store.save("s", make_snapshot(1)))
    gcs_server.reset_log()
    gcs_server.fault("fail_before", status=503, **UPLOAD)
    with pytest.raises(OutcomeUnknown) as caught:
        run(gcs_store.save("s", make_snapshot(2)))
    assert caught.value.session_id == "s"
    assert shape(gcs_server.requests) == [("POST", "upload", 503), ("GET", "download", 200)]
    assert stored_generation(gcs_server, gcs_store, "s") == before
    assert stored_snapshot(gcs_server, gcs_store, "s") == make_snapshot(1)


@pytest.mark.parametrize("mode", ["create-only", "expected-generation", "unconditional"])
def test_429_is_retried_then_succeeds(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator, mode: str
) -> None:
    expected = ANY_VERSION if mode == "unconditional" else _expected(gcs_store, mode)
    gcs_server.reset_log()
    gcs_server.fault("fail_before", status=429, times=2, **UPLOAD)
    version = run(gcs_store.save("s", make_snapshot(2), expected_version=expected))
    assert shape(gcs_server.requests) == [("POST", "upload", 429)] * 2 + [("POST", "upload", 200)]
    assert version == stored_generation(gcs_server, gcs_store, "s")
    assert stored_snapshot(gcs_server, gcs_store, "s") == make_snapshot(2)


def test_refused_connections_are_unavailable_not_unknown(
    make_gcs_store: Callable[..., GcsPersistence],
) -> None:
    """A connection that was never made proves the upload was not sent: no unknown outcome."""
    with refusing_endpoint() as url:
        store = make_gcs_store(
            api_endpoint=url,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            retry_deadline=0.05,
        )
        for expected in (ANY_VERSION, None, "1234"):
            with pytest.raises(BackendUnavailable):
                run(store.save("s", make_snapshot(1), expected_version=expected))
        with pytest.raises(BackendUnavailable):
            run(store.load("s"))


def test_a_refused_connection_is_resent_even_without_a_precondition() -> None:
    with refusing_endpoint() as url, pytest.raises(requests.ConnectionError) as caught:
        requests.post(url, data=b"x", timeout=2)
    refused = caught.value
    assert resend_if_safe(idempotent=False)(refused)
    dropped = requests.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError())
    )
    assert not resend_if_safe(idempotent=False)(dropped)
    assert resend_if_safe(idempotent=True)(dropped)


# ------------------------------------------------- lost responses that stay unknown


@pytest.mark.parametrize("mode", ["create-only", "expected-generation"])
def test_lost_response_then_another_writer_is_outcome_unknown(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator, mode: str
) -> None:
    expected = _expected(gcs_store, mode)
    gcs_server.reset_log()
    gcs_server.fault(
        "fail_after", status=503, after_forward=_rival_lands(gcs_server, gcs_store), **UPLOAD
    )
    with pytest.raises(OutcomeUnknown) as caught:
        run(gcs_store.save("s", make_snapshot(2), expected_version=expected))
    assert caught.value.session_id == "s"
    assert shape(gcs_server.requests) == [
        ("POST", "upload", 503),
        ("POST", "upload", 412),
        ("GET", "download", 200),
    ]
    assert stored_snapshot(gcs_server, gcs_store, "s") == RIVAL


def test_update_never_reapplies_fn_after_outcome_unknown(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    run(gcs_store.save("s", make_snapshot(1)))
    calls: list[SessionSnapshot | None] = []

    def bump(current: SessionSnapshot | None) -> SessionSnapshot:
        calls.append(current)
        return make_snapshot(2)

    gcs_server.fault(
        "fail_after", status=503, after_forward=_rival_lands(gcs_server, gcs_store), **UPLOAD
    )
    with pytest.raises(OutcomeUnknown):
        run(gcs_store.update("s", bump))
    assert calls == [make_snapshot(1)]
    assert stored_snapshot(gcs_server, gcs_store, "s") == RIVAL


# ---------------------------------------------------------------------- deletes


@pytest.mark.parametrize("action", ["fail_after", "drop_after"])
@pytest.mark.parametrize("conditional", [True, False])
def test_lost_response_to_a_landed_delete_is_settled_by_reading(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator, action: FaultAction, conditional: bool
) -> None:
    version = run(gcs_store.save("s", make_snapshot(1)))
    gcs_server.reset_log()
    gcs_server.fault(action, status=503, **DELETE)
    lost = 503 if action == "fail_after" else None
    if conditional:
        # The retry finds nothing (404): perhaps the echo of our own delete, perhaps
        # another client's delete before ours (then ours failed). Gone, but not ours to
        # claim: OutcomeUnknown, never a guess.
        with pytest.raises(OutcomeUnknown, match="may not have deleted it"):
            run(gcs_store.delete("s", expected_version=version))
        expected = [("DELETE", "delete", lost), ("DELETE", "delete", 404)]
    else:
        run(gcs_store.delete("s"))
        expected = [("DELETE", "delete", lost)]  # not re-sent blind
    assert shape(gcs_server.requests) == [*expected, ("GET", "download", 404)]
    assert stored_generation(gcs_server, gcs_store, "s") is None


def test_412_to_the_retry_of_a_landed_conditional_delete_is_not_a_conflict(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    """Whether the retry meets 404 or 412, it may be the echo of our own delete: not a
    conflict, and not a success either (another client may have deleted it first)."""
    version = run(gcs_store.save("s", make_snapshot(1)))
    gcs_server.reset_log()
    gcs_server.fault("fail_after", status=503, **DELETE)
    gcs_server.fault("fail_before", status=412, **DELETE)
    with pytest.raises(OutcomeUnknown, match="may not have deleted it"):
        run(gcs_store.delete("s", expected_version=version))
    assert shape(gcs_server.requests) == [
        ("DELETE", "delete", 503),
        ("DELETE", "delete", 412),
        ("GET", "download", 404),
    ]
    assert stored_generation(gcs_server, gcs_store, "s") is None


def test_lost_delete_response_then_recreated_is_outcome_unknown(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    version = run(gcs_store.save("s", make_snapshot(1)))
    gcs_server.fault(
        "fail_after", status=503, after_forward=_rival_lands(gcs_server, gcs_store), **DELETE
    )
    with pytest.raises(OutcomeUnknown):
        run(gcs_store.delete("s", expected_version=version))
    assert stored_snapshot(gcs_server, gcs_store, "s") == RIVAL


# -------------------------------------------------------------------- checksums


def test_body_corrupted_in_transit_is_detected_and_read_again(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    run(gcs_store.save("s", make_snapshot(1)))
    gcs_server.reset_log()
    gcs_server.fault("corrupt_after", **DOWNLOAD)
    assert run(gcs_store.load("s")) == make_snapshot(1)
    assert shape(gcs_server.requests) == [("GET", "download", 200)] * 2
