"""Past generations of a session on a GCS bucket with object versioning.

``list`` with ``versions=true`` gives every generation of the object (live and
noncurrent); a media GET with ``generation=`` reads one. Used by ``sessionstore
history`` and ``sessionstore restore``, which saves an old snapshot back with a
normal conditional save (a fresh write id and a new generation), never by
copying the old object, so nothing a stale writer holds becomes valid again.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from google.api_core import exceptions as api_exceptions

from sessionstore.adapters.gcs import _http
from sessionstore.adapters.gcs._errors import TRANSLATABLE, Where, translate
from sessionstore.adapters.gcs._retry import Attempts, call
from sessionstore.errors import BackendError, SnapshotTooLarge

if TYPE_CHECKING:
    from sessionstore.adapters.gcs import GcsPersistence

__all__ = ["PastVersion", "list_versions", "read_version"]


@dataclass(frozen=True)
class PastVersion:
    """One generation of the session's object, newest first."""

    version_id: str  # the generation
    version: str | None  # the same: a GCS version is its generation
    updated: datetime | None
    size: int | None
    is_current: bool
    deleted: bool  # noncurrent because the live object was deleted (timeDeleted set)


def list_versions(store: GcsPersistence, session_id: str) -> list[PastVersion]:
    name = store._object_name(session_id)
    transport = store._clients.transport()
    url = f"{transport.base_url}/storage/v1/b/{quote(store.bucket, safe='')}/o"
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params = {"prefix": name, "versions": "true", "maxResults": "1000"}
        if token:
            params["pageToken"] = token
        attempts = Attempts()
        try:
            page = call(
                functools.partial(_get_json, transport, url, params, store._timeout),
                policy=store._retry,
                idempotent=True,
                attempts=attempts,
                where=f"list versions of gs://{store.bucket}/{name}",
            )
        except TRANSLATABLE as exc:
            where = Where("history", store.bucket, name, session_id)
            raise translate(exc, where, attempts) from exc
        items.extend(item for item in page.get("items", ()) if item.get("name") == name)
        token = page.get("nextPageToken")
        if not token:
            break
    versions = [
        PastVersion(
            str(item["generation"]),
            str(item["generation"]),
            _time(item.get("updated")),
            int(item["size"]) if "size" in item else None,
            is_current="timeDeleted" not in item,
            deleted="timeDeleted" in item,
        )
        for item in items
    ]
    # A generation is larger for every newer write of the same object name.
    versions.sort(key=lambda v: int(v.version_id), reverse=True)
    current = [v for v in versions if v.is_current]
    if len(current) > 1:  # only the newest generation without timeDeleted is live
        newest = current[0].version_id
        versions = [
            PastVersion(
                v.version_id, v.version, v.updated, v.size, v.version_id == newest, v.deleted
            )
            for v in versions
        ]
    return versions


def read_version(store: GcsPersistence, session_id: str, generation: str) -> bytes:
    name = store._object_name(session_id)
    if not generation.isdigit():
        raise BackendError(f"{generation!r} is not a GCS generation (see `sessionstore history`)")
    transport = store._clients.transport()
    url = (
        f"{transport.base_url}/download/storage/v1/b/{quote(store.bucket, safe='')}"
        f"/o/{quote(name, safe='')}"
    )
    attempts = Attempts()
    try:
        body: bytes | None = call(
            functools.partial(
                _get_body, transport, url, {"alt": "media", "generation": generation}, store
            ),
            policy=store._retry,
            idempotent=True,
            attempts=attempts,
            where=f"read generation {generation} of gs://{store.bucket}/{name}",
        )
    except _http.ObjectTooLarge as exc:
        raise SnapshotTooLarge(session_id, exc.size, store.max_bytes) from exc
    except TRANSLATABLE as exc:
        raise translate(exc, Where("restore", store.bucket, name, session_id), attempts) from exc
    if body is None:
        raise BackendError(
            f"no generation {generation} of session {session_id!r} in gs://{store.bucket}/{name}"
        )
    return body


def _get_json(
    transport: _http.Transport, url: str, params: dict[str, str], timeout: _http.Timeout
) -> dict[str, Any]:
    response = transport.session.request("GET", url, params=params, timeout=timeout)
    with response:
        if response.status_code >= 300:
            raise api_exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
        page: dict[str, Any] = response.json()
    return page


def _get_body(
    transport: _http.Transport, url: str, params: dict[str, str], store: GcsPersistence
) -> bytes | None:
    response = transport.session.request(
        "GET", url, params=params, stream=True, timeout=store._timeout
    )
    with response:
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise api_exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
        chunks: list[bytes] = []
        received = 0
        for chunk in response.iter_content(chunk_size=256 * 1024):
            received += len(chunk)
            if received > store.max_bytes:
                raise _http.ObjectTooLarge(received)
            chunks.append(chunk)
    return b"".join(chunks)


def _time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
