"""The four Cloud Storage JSON API requests the GCS adapter makes, one HTTP request each.

The adapter sends these itself on the client's authorized session instead of
calling ``Blob``/``Bucket`` methods, because the high-level methods cannot give
the contract's guarantees:

* a load must learn the size from the response headers before reading the body
  (``Blob.download_*`` buffers first and only looks at headers afterwards);
* a save must be one multipart request up to ``max_bytes`` (``Blob.upload_*``
  switches to a two-request resumable upload above 8 MiB);
* google-cloud-storage 3.17 queues a background ``GET /storage/v1/b/<bucket>``
  (bucket metadata for tracing) from every ``Blob``/``Bucket`` method, which
  costs a request and needs ``storage.buckets.get``; the session is untouched.

Every non-2xx answer is raised as the ``google.api_core`` exception for its
status (``from_http_response``), exactly as the SDK would raise it, so retry
predicates and error translation see the same types as with the SDK.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import google_crc32c
from google.api_core import exceptions as api_exceptions

if TYPE_CHECKING:
    import requests

__all__ = [
    "BadResponse",
    "ChecksumMismatch",
    "Downloaded",
    "ObjectTooLarge",
    "Transport",
    "crc32c_of",
    "delete",
    "download",
    "list_page",
    "mentions_missing_bucket",
    "upload",
]

Timeout = float | tuple[float, float]

_READ_CHUNK = 256 * 1024
_MISSING_BUCKET = re.compile(r"specified bucket\b.*\bdoes not exist")
_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Transport:
    """An authorized ``requests`` session and the API root it talks to."""

    session: requests.Session
    base_url: str  # e.g. "https://storage.googleapis.com", no trailing slash


@dataclass(frozen=True)
class Downloaded:
    body: bytes
    generation: str


class ObjectTooLarge(Exception):
    """The object is larger than the caller's limit; its body was not (fully) read."""

    def __init__(self, size: int) -> None:
        super().__init__(f"object is at least {size} bytes")
        self.size = size


class ChecksumMismatch(Exception):
    """The body received does not match the CRC32C the server sent (corrupted in transit)."""


class BadResponse(Exception):
    """A 2xx answer without what the API promises (a generation); never expected from GCS."""


def crc32c_of(data: bytes) -> str:
    """The CRC32C of ``data`` as GCS writes it: base64 of the big-endian 32-bit value."""
    value: int = google_crc32c.value(data)
    return base64.b64encode(value.to_bytes(4, "big")).decode("ascii")


def download(
    transport: Transport, bucket: str, name: str, *, max_bytes: int, timeout: Timeout
) -> Downloaded | None:
    """GET the object's media: body and generation from one response, or None if absent.

    Raises ObjectTooLarge from the headers when the declared length is over
    ``max_bytes`` (the body is never read), or after ``max_bytes + 1`` bytes if
    the length was not declared, so memory stays bounded either way.
    """
    url = f"{_object_url(transport, bucket, name, media=True)}?alt=media"
    response = transport.session.request("GET", url, stream=True, timeout=timeout)
    with response:
        if response.status_code == 404:
            missing = _api_error(response)
            if mentions_missing_bucket(missing):
                raise missing
            return None
        _raise_for_status(response)
        headers = response.headers
        generation = headers.get("x-goog-generation")
        if not generation or not generation.isdigit():
            raise BadResponse(f"download of {name!r} answered without x-goog-generation")
        declared = _declared_length(headers)
        if declared is not None and declared > max_bytes:
            raise ObjectTooLarge(declared)
        body = _read_bounded(response, max_bytes)
        expected = _crc32c_header(headers)
        if expected is not None and crc32c_of(body) != expected:
            raise ChecksumMismatch(f"CRC32C {crc32c_of(body)} != {expected} from server")
    return Downloaded(body, generation)


def upload(
    transport: Transport,
    bucket: str,
    name: str,
    body: bytes,
    *,
    if_generation_match: int | None,
    kms_key_name: str | None,
    timeout: Timeout,
) -> str:
    """Store ``body`` with one multipart upload; return the new generation.

    The object resource carries the body's CRC32C, so GCS rejects a body
    corrupted on the way (400) instead of storing it.
    """
    params: dict[str, str] = {"uploadType": "multipart"}
    if if_generation_match is not None:
        params["ifGenerationMatch"] = str(if_generation_match)
    if kms_key_name:
        params["kmsKeyName"] = kms_key_name
    resource = {"name": name, "contentType": _CONTENT_TYPE, "crc32c": crc32c_of(body)}
    payload, content_type = _multipart(json.dumps(resource).encode(), body)
    url = f"{transport.base_url}/upload/storage/v1/b/{quote(bucket, safe='')}/o"
    response = transport.session.request(
        "POST",
        url,
        params=params,
        data=payload,
        headers={"Content-Type": content_type},
        timeout=timeout,
    )
    with response:
        _raise_for_status(response)
        try:
            return str(int(response.json()["generation"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise BadResponse(f"upload of {name!r} answered without a generation") from exc


def delete(
    transport: Transport,
    bucket: str,
    name: str,
    *,
    if_generation_match: int | None,
    timeout: Timeout,
) -> None:
    """DELETE the object (live version), optionally only if its generation matches."""
    params = {} if if_generation_match is None else {"ifGenerationMatch": str(if_generation_match)}
    url = _object_url(transport, bucket, name, media=False)
    response = transport.session.request("DELETE", url, params=params, timeout=timeout)
    with response:
        _raise_for_status(response)


def list_page(
    transport: Transport,
    bucket: str,
    prefix: str,
    *,
    page_token: str | None,
    page_size: int,
    timeout: Timeout,
    tree: bool = False,
) -> tuple[list[tuple[str, str | None]], str | None]:
    """One page of (object name, RFC 3339 update time) under ``prefix``, and the next token.

    Without ``tree``, only names not below a further ``/`` (sessions), and no times.
    """
    params = {
        "prefix": prefix,
        "maxResults": str(page_size),
        "fields": "items(name,updated),nextPageToken" if tree else "items(name),nextPageToken",
    }
    if not tree:
        params["delimiter"] = "/"  # session objects never contain a further "/"
    if page_token:
        params["pageToken"] = page_token
    url = f"{transport.base_url}/storage/v1/b/{quote(bucket, safe='')}/o"
    response = transport.session.request("GET", url, params=params, timeout=timeout)
    with response:
        _raise_for_status(response)
        page: dict[str, Any] = response.json()
    items = [
        (str(item["name"]), str(item["updated"]) if item.get("updated") else None)
        for item in page.get("items", ())
    ]
    token = page.get("nextPageToken")
    return items, (str(token) if token else None)


# --------------------------------------------------------------------- helpers


def _object_url(transport: Transport, bucket: str, name: str, *, media: bool) -> str:
    root = f"{transport.base_url}/download" if media else transport.base_url
    return f"{root}/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}"


def _raise_for_status(response: requests.Response) -> None:
    if response.status_code >= 300:
        raise _api_error(response)


def _api_error(response: requests.Response) -> Exception:
    """The google-api-core exception for an error response (NotFound, PreconditionFailed, ...)."""
    error: Exception = api_exceptions.from_http_response(response)  # type: ignore[no-untyped-call]
    return error


def mentions_missing_bucket(exc: Exception) -> bool:
    """Whether a 404 says the bucket (not the object) is missing.

    GCS words a missing bucket "The specified bucket does not exist."; an
    object-level 404 says "No such object: ...". (The request URL in the message
    is percent-encoded, so it cannot contain the phrase.) Emulators may only say
    "Not Found": then a load reports "no session" and an unconditional delete
    succeeds, as if the bucket were empty.
    """
    return _MISSING_BUCKET.search(str(getattr(exc, "message", exc)).lower()) is not None


def _declared_length(headers: Any) -> int | None:
    # x-goog-stored-content-length is the stored size even if the body is transcoded.
    for header in ("x-goog-stored-content-length", "content-length"):
        value = headers.get(header)
        if value is not None and str(value).isdigit():
            return int(value)
    return None


def _read_bounded(response: requests.Response, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    received = 0
    for chunk in response.iter_content(chunk_size=_READ_CHUNK):
        received += len(chunk)
        if received > max_bytes:
            raise ObjectTooLarge(received)
        chunks.append(chunk)
    return b"".join(chunks)


def _crc32c_header(headers: Any) -> str | None:
    """The stored CRC32C, when it describes the bytes we received (not a transcoded body)."""
    stored_encoding = headers.get("x-goog-stored-content-encoding", "identity")
    if stored_encoding != "identity" or headers.get("content-encoding", "identity") != "identity":
        return None
    for part in str(headers.get("x-goog-hash", "")).split(","):
        kind, _, digest = part.strip().partition("=")
        if kind == "crc32c" and digest:
            return digest
    return None


def _multipart(resource: bytes, body: bytes) -> tuple[bytes, str]:
    boundary = "sessionstore-" + secrets.token_hex(16)
    while boundary.encode() in body:  # practically never; a boundary must not occur in a part
        boundary = "sessionstore-" + secrets.token_hex(16)
    delimiter = f"--{boundary}\r\n".encode()
    payload = b"".join(
        [
            delimiter,
            b"Content-Type: application/json; charset=UTF-8\r\n\r\n",
            resource,
            b"\r\n",
            delimiter,
            f"Content-Type: {_CONTENT_TYPE}\r\n\r\n".encode(),
            body,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return payload, f'multipart/related; boundary="{boundary}"'
