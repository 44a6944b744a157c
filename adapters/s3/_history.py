"""Past versions of a session on a versioned S3 bucket (ListObjectVersions, GetObject?versionId).

Used by ``sessionstore history`` and ``sessionstore restore``. A restore never
puts an old object back as it was: it decodes the old body and saves the
snapshot with a normal conditional save, so the result carries a fresh write id
and a new ETag. Copying an old version back by hand (``CopyObject`` with
``VersionId``) would bring back its old ETag, which re-validates the expected
version of any stale writer that still holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sessionstore.adapters.s3._errors import SDK_ERRORS, Call, translate
from sessionstore.errors import BackendError, SnapshotTooLarge

if TYPE_CHECKING:
    from datetime import datetime

    from sessionstore.adapters.s3 import S3Persistence

__all__ = ["PastVersion", "list_versions", "read_version"]

_MISSING_VERSION = frozenset({"NoSuchVersion", "NoSuchKey", "404", "InvalidArgument"})


@dataclass(frozen=True)
class PastVersion:
    """One entry of an object's history, newest first."""

    version_id: str  # S3 VersionId ("null" for objects written while versioning was off)
    version: str | None  # the ETag, as sessionstore reports versions (None: delete marker)
    updated: datetime | None
    size: int | None
    is_current: bool
    deleted: bool  # a delete marker


def list_versions(store: S3Persistence, session_id: str) -> list[PastVersion]:
    """Every version and delete marker of the session's object, newest first."""
    key = store._key(session_id)
    call = Call(cast("Any", "ListObjectVersions"), store.bucket, key, session_id)
    client = store._s3()
    found: list[PastVersion] = []
    params: dict[str, Any] = {"Bucket": store.bucket, "Prefix": key}
    while True:
        try:
            page = client.list_object_versions(**params)
        except SDK_ERRORS as exc:
            raise translate(exc, call) from exc
        for item in page.get("Versions", []):
            if item.get("Key") == key:
                found.append(
                    PastVersion(
                        str(item.get("VersionId")),
                        item.get("ETag"),
                        item.get("LastModified"),
                        item.get("Size"),
                        bool(item.get("IsLatest")),
                        deleted=False,
                    )
                )
        for marker in page.get("DeleteMarkers", []):
            if marker.get("Key") == key:
                found.append(
                    PastVersion(
                        str(marker.get("VersionId")),
                        None,
                        marker.get("LastModified"),
                        None,
                        bool(marker.get("IsLatest")),
                        deleted=True,
                    )
                )
        if not page.get("IsTruncated"):
            break
        params["KeyMarker"] = page.get("NextKeyMarker")
        params["VersionIdMarker"] = page.get("NextVersionIdMarker")
    found.sort(key=lambda v: (v.is_current, v.updated is not None, v.updated), reverse=True)
    return found


def read_version(store: S3Persistence, session_id: str, version_id: str) -> bytes:
    """The body of one past version (GetObject with VersionId)."""
    key = store._key(session_id)
    call = Call("GetObject", store.bucket, key, session_id)
    try:
        response = store._s3().get_object(Bucket=store.bucket, Key=key, VersionId=version_id)
        stream = response["Body"]
        try:
            size = response.get("ContentLength")
            if size is not None and size > store.max_bytes:
                raise SnapshotTooLarge(session_id, size, store.max_bytes)
            body: bytes = stream.read(store.max_bytes + 1)
        finally:
            stream.close()
    except SDK_ERRORS as exc:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if code in _MISSING_VERSION or code == "MethodNotAllowed":
            raise BackendError(
                f"no readable version {version_id!r} of session {session_id!r} "
                f"in s3://{store.bucket}/{key} ({code}; a delete marker cannot be restored)"
            ) from exc
        raise translate(exc, call) from exc
    if len(body) > store.max_bytes:
        raise SnapshotTooLarge(session_id, len(body), store.max_bytes)
    return body
