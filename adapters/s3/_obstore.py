"""The optional fast S3 transport, on obstore (``pip install 'sessionstore[obstore]'``).

Selected per store: ``S3Persistence(bucket, prefix, transport="obstore")`` or
``s3://bucket/prefix?transport=obstore``. obstore (Rust ``object_store`` behind
Python bindings) is natively async: every request is awaited on the caller's event
loop, with no worker-thread hop and no boto3 in the process (it is never imported on
this path, so a cold start pays for neither).

What obstore does not do, and how this module closes it, so the store keeps the
semantics of the boto3 transport exactly:

* **Retries that guess.** obstore's own retries re-send blind PUTs and turn a landed
  write that met a 503 into ``AlreadyExists``/``Precondition`` errors. They are off
  (``max_retries=0``: one HTTP attempt per obstore call); this module retries itself
  with the same rules as the boto3 adapter's attempt journal: an attempt answered
  with a 3xx/4xx, ``SlowDown`` or 501 applied nothing; anything else (a transport
  error, a timeout, another 5xx) *may have landed*. A write that may have landed is
  never re-sent blind; a conditional one is re-sent, and a later 412/409/404 then
  means ``OutcomeUnknown`` (it may be the echo of our own write), which the store
  resolves by reading back the write id.
* **Errors that do not say whether anything was sent.** obstore reports refused,
  dropped and timed-out requests alike; an error that carries no HTTP status is
  therefore treated as "may have landed" for writes and deletes.
* **No conditional delete.** ``DeleteObject`` with ``If-Match`` is sent as a
  presigned DELETE (signed by obstore with the store's own credentials, no network)
  on a small keep-alive HTTP/1.1 connection pool of this module's own, on the event
  loop: one request, same outcomes as the boto3 transport.
* **No download checksum.** Every PUT sends ``x-amz-checksum-sha256`` (S3 verifies
  the upload) and records the body's SHA-256 as user metadata
  (``x-amz-meta-sessionstore-sha256``); every GET recomputes it and re-reads a body
  that does not match (bounded by the attempt limit), then fails with
  ``BackendUnavailable``. Bodies written without that metadata (by the boto3
  transport or another program) are returned unverified.
* **Metadata-address lookups.** Without static credentials obstore asks the cloud
  metadata address; with ``AWS_EC2_METADATA_DISABLED=true`` in the environment, its
  metadata endpoint is pointed at a closed loopback port instead, so it cannot leave
  the machine.

All obstore errors are translated here, in :func:`_classify` / :func:`_translate`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import re
import ssl
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from sessionstore.contract import ANY_VERSION, StoredObject
from sessionstore.errors import (
    AccessDenied,
    BackendError,
    BackendUnavailable,
    ConflictError,
    MissingDependency,
    OutcomeUnknown,
    SessionStoreError,
    SnapshotTooLarge,
    StoreNotFound,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from obstore.store import S3Store

    from sessionstore.contract import ExpectedVersion, RemoveExpected

__all__ = ["SHA256_METADATA", "ObstoreSettings", "ObstoreTransport"]

logger = logging.getLogger("sessionstore.adapters.s3")

#: User-metadata key holding the body's SHA-256 (hex); sent as x-amz-meta-sessionstore-sha256.
SHA256_METADATA: Final = "sessionstore-sha256"
_STATUS = re.compile(r"status code: (\d{3})")
_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")
# A closed port: with metadata lookups disabled, obstore's would-be IMDS call ends here.
_NO_METADATA_ENDPOINT: Final = "http://127.0.0.1:1"
_SIGNED_URL_LIFETIME: Final = timedelta(minutes=5)


@dataclass(frozen=True)
class ObstoreSettings:
    """What the obstore transport is built from (validated by :class:`S3Persistence`)."""

    bucket: str
    region: str | None = None
    endpoint_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    max_attempts: int = 4
    sse: str | None = None
    kms_key_id: str | None = None
    bucket_key: bool | None = None
    checksum: str | None = "SHA256"


def retry_delay(throttled: bool, number: int) -> float:
    """Seconds to wait after failed attempt ``number`` (1-based): botocore's schedule,
    full jitter doubling from 1 s when throttled and from 50 ms otherwise, at most 20 s.
    (Tests replace this to retry without waiting, as they do botocore's.)"""
    base = 1.0 if throttled else 0.05
    return random.uniform(0.0, min(20.0, base * 2 ** (number - 1)))


# ----------------------------------------------------------------- errors


@dataclass(frozen=True)
class _Attempt:
    """What one HTTP attempt met: an HTTP status (and S3 code) or none (transport)."""

    status: int | None
    code: str | None
    error: BaseException

    @property
    def throttled(self) -> bool:
        return self.code == "SlowDown" or self.status == 429

    @property
    def may_have_landed(self) -> bool:
        if self.status is None:
            return True  # refused, dropped or timed out: obstore does not say which
        return not (300 <= self.status < 500 or self.status == 501 or self.throttled)

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status >= 500 or self.throttled

    def describe(self) -> str:
        if self.status is None:
            return f"{type(self.error).__name__}: {_first_line(self.error)}"
        return f"HTTP {self.status}{f' {self.code}' if self.code else ''}"


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _classify(exc: BaseException) -> _Attempt:
    """The HTTP status and S3 error code an obstore error carries, if any."""
    from obstore import exceptions as oe

    text = str(exc)
    found = _STATUS.search(text)
    status = int(found.group(1)) if found else None
    code_found = _CODE.search(text)
    code = code_found.group(1) if code_found else None
    if status is None:
        if isinstance(exc, (oe.PermissionDeniedError, oe.UnauthenticatedError)):
            status = 403
        elif isinstance(exc, (oe.AlreadyExistsError, oe.PreconditionError)):
            status = 412
        elif isinstance(exc, oe.NotFoundError):
            status = 404
    return _Attempt(status, code, exc)


def _translate(attempt: _Attempt, where: str, bucket: str) -> SessionStoreError:
    """The sessionstore error for an attempt that certainly applied nothing, or a read."""
    status, code = attempt.status, attempt.code
    message = f"{where}: {attempt.describe()}"
    if code == "NoSuchBucket":
        return StoreNotFound(f"S3 bucket {bucket!r} does not exist ({where})")
    if status in {401, 403}:
        return AccessDenied(message)
    if status in (301, 307) or code in ("PermanentRedirect", "AuthorizationHeaderMalformed"):
        return BackendError(f"{message} (the bucket is in another region: pass region=)")
    if status == 501:
        return BackendError(
            f"{message} (this service does not implement a request the store needs, "
            "such as conditional writes with If-Match / If-None-Match)"
        )
    if status is None:
        return BackendUnavailable(f"{where}: cannot complete the request: {message}")
    if status >= 500 or attempt.throttled:
        return BackendUnavailable(message)
    return BackendError(message)


# -------------------------------------------------------------- transport


class ObstoreTransport:
    """GET/PUT/DELETE/LIST of one bucket through obstore, awaited on the event loop."""

    def __init__(self, settings: ObstoreSettings) -> None:
        self.settings = settings
        self._store: S3Store | None = None
        self._http = _ConnectionPool()

    def store(self) -> S3Store:
        """The obstore store, built on first use (building sends no request)."""
        if self._store is None:
            self._store = _build_store(self.settings)
        return self._store

    def forget(self) -> None:
        """Drop the store and connections (after fork, or on close)."""
        self._store = None
        self._http = _ConnectionPool()

    async def close(self) -> None:
        self._store = None
        await self._http.close()

    def _warn_retry(self, where: str, after: _Attempt, number: int) -> None:
        logger.warning(
            "%s: %s; retrying (attempt %d of %d)",
            where,
            after.describe(),
            number,
            self.settings.max_attempts,
        )

    async def _backoff(self, attempt: _Attempt, number: int) -> None:
        await asyncio.sleep(retry_delay(attempt.throttled, number))

    # ---------------------------------------------------------------- read

    async def read(self, key: str, session_id: str, max_bytes: int) -> StoredObject | None:
        import obstore

        where = f"GetObject s3://{self.settings.bucket}/{key}"
        limit = self.settings.max_attempts
        number = 1
        while True:
            try:
                result = await obstore.get_async(self.store(), key)
                size = int(result.meta["size"])
                if size > max_bytes:
                    raise SnapshotTooLarge(session_id, size, max_bytes)
                body = bytes(await result.bytes_async())
            except SessionStoreError:
                raise
            except Exception as exc:
                attempt = _classify(exc)
                if attempt.status == 404 and attempt.code != "NoSuchBucket":
                    return None
                if not attempt.retryable or number >= limit:
                    raise _translate(attempt, where, self.settings.bucket) from exc
                await self._backoff(attempt, number)
                number += 1
                self._warn_retry(where, attempt, number)
                continue
            expected = result.attributes.get(SHA256_METADATA)
            if expected is None or hashlib.sha256(body).hexdigest() == expected:
                return StoredObject(body, str(result.meta["e_tag"]))
            damaged = f"{where}: body failed its SHA-256 checksum in transit"
            if number >= limit:
                raise BackendUnavailable(f"{damaged} on all {limit} attempts")
            number += 1
            logger.warning("%s; retrying (attempt %d of %d)", damaged, number, limit)

    # --------------------------------------------------------------- write

    async def write(self, key: str, session_id: str, body: bytes, expected: ExpectedVersion) -> str:
        import obstore

        where = f"PutObject s3://{self.settings.bucket}/{key}"
        mode: Any
        if expected is None:
            mode = "create"
        elif expected is ANY_VERSION:
            mode = "overwrite"
        else:
            mode = {"e_tag": expected}
        blind = expected is ANY_VERSION
        attributes: dict[str, str] = {
            "Content-Type": "application/json",
            SHA256_METADATA: hashlib.sha256(body).hexdigest(),
        }
        seen: list[_Attempt] = []
        while True:
            try:
                result = await obstore.put_async(
                    self.store(), key, body, mode=mode, attributes=attributes, use_multipart=False
                )
            except Exception as exc:
                attempt = _classify(exc)
                seen.append(attempt)
                # A create-only write that got no answer may still be held by the server
                # (and land after a later delete): never re-sent, like a blind one.
                unresendable = blind or (expected is None and attempt.status is None)
                self._decide_write(attempt, seen, where, session_id, unresendable, "written", exc)
                await self._backoff(attempt, len(seen))
                self._warn_retry(where, attempt, len(seen) + 1)
                continue
            return str(result["e_tag"])

    def _decide_write(
        self,
        attempt: _Attempt,
        seen: list[_Attempt],
        where: str,
        session_id: str,
        blind: bool,
        verb: str,
        exc: BaseException,
    ) -> None:
        """Raise what a failed write or delete attempt means; return to retry it."""
        earlier_may_have_landed = any(a.may_have_landed for a in seen)
        if attempt.may_have_landed:
            if blind or len(seen) >= self.settings.max_attempts:
                raise OutcomeUnknown(session_id, f"{where}: {attempt.describe()}") from exc
            return  # a conditional request may be re-sent: its precondition guards it
        nothing = f"nothing was {verb}"
        conflict = attempt.status in (409, 412) or (
            attempt.status == 404 and attempt.code == "NoSuchKey"
        )
        if conflict and not blind:
            if earlier_may_have_landed:
                raise OutcomeUnknown(
                    session_id,
                    f"{where}: {attempt.describe()} after an attempt that may have landed",
                ) from exc
            raise ConflictError(session_id, f"{where} refused: {attempt.describe()}") from exc
        if earlier_may_have_landed:
            raise OutcomeUnknown(session_id, f"{where}: {attempt.describe()}") from exc
        if attempt.status in (409, 412):
            raise BackendError(
                f"{where}: {attempt.describe()} to a request that carried no precondition; "
                f"{nothing}"
            ) from exc
        if attempt.throttled and len(seen) < self.settings.max_attempts:
            return
        if attempt.throttled:
            raise BackendUnavailable(
                f"{where}: throttled (SlowDown, HTTP 503) on all {len(seen)} attempts; {nothing}"
            ) from exc
        raise _translate(attempt, where, self.settings.bucket) from exc

    # -------------------------------------------------------------- delete

    async def remove(self, key: str, session_id: str, expected: RemoveExpected) -> None:
        where = f"DeleteObject s3://{self.settings.bucket}/{key}"
        blind = expected is ANY_VERSION
        seen: list[_Attempt] = []
        while True:
            try:
                if expected is ANY_VERSION:
                    import obstore

                    await obstore.delete_async(self.store(), key)
                else:
                    await self._conditional_delete(key, expected)
            except Exception as exc:
                attempt = _classify(exc)
                seen.append(attempt)
                self._decide_write(attempt, seen, where, session_id, blind, "deleted", exc)
                await self._backoff(attempt, len(seen))
                self._warn_retry(where, attempt, len(seen) + 1)
                continue
            return

    async def _conditional_delete(self, key: str, etag: str) -> None:
        """DeleteObject with If-Match: a presigned DELETE sent on our own connection."""
        import obstore

        url = await obstore.sign_async(self.store(), "DELETE", key, _SIGNED_URL_LIFETIME)
        status, body = await self._http.request(
            "DELETE",
            url,
            {"If-Match": etag},
            connect_timeout=self.settings.connect_timeout,
            read_timeout=self.settings.read_timeout,
        )
        if 200 <= status < 300:
            return
        raise _HttpStatusError(status, body)

    # ---------------------------------------------------------------- list

    async def list_keys(
        self, directory: str, full_prefix: str, page_size: int
    ) -> AsyncIterator[list[str]]:
        """Pages of keys starting with ``full_prefix`` (one ListObjectsV2 per page).

        obstore lists whole path segments (``directory``), not string prefixes, so a
        listing of a partial name starts after ``full_prefix`` (S3's ``start-after``;
        keys come back in order) and stops at the first key past it.
        """
        import obstore

        where = f"ListObjectsV2 s3://{self.settings.bucket}/{full_prefix}"
        stream = obstore.list(
            self.store(),
            prefix=directory or None,
            offset=full_prefix if full_prefix != directory else None,
            chunk_size=page_size,
        )
        while True:
            try:
                page = await stream.__anext__()
            except StopAsyncIteration:
                return
            except Exception as exc:
                raise _translate(_classify(exc), where, self.settings.bucket) from exc
            keys = [str(meta["path"]) for meta in page]
            inside = [key for key in keys if key.startswith(full_prefix)]
            if inside:
                yield inside
            if len(inside) < len(keys) and keys[-1] > full_prefix:
                return  # past the prefix: no later page can match


class _HttpStatusError(Exception):
    """A non-2xx answer to a request this module sent itself (shaped like obstore's)."""

    def __init__(self, status: int, body: bytes) -> None:
        text = body[:2000].decode("utf-8", "replace")
        super().__init__(f"Server returned non-2xx status code: {status}: {text}")
        self.status = status


def _build_store(settings: ObstoreSettings) -> S3Store:
    try:
        from obstore.store import S3Store
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependency(
            "transport='obstore' needs obstore: pip install 'sessionstore[obstore]'"
        ) from exc
    config: dict[str, Any] = {}
    endpoint = (
        settings.endpoint_url
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
    )
    if endpoint:
        config["endpoint"] = endpoint
        config["virtual_hosted_style_request"] = False
    region = settings.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        config["region"] = region
    if os.environ.get("AWS_EC2_METADATA_DISABLED", "").strip().lower() == "true":
        config["metadata_endpoint"] = _NO_METADATA_ENDPOINT
        config["imdsv1_fallback"] = False
    # One DeleteObject per delete (obstore would send a DeleteObjects bulk POST).
    config["disable_bulk_delete"] = True
    if settings.checksum == "SHA256":
        config["checksum_algorithm"] = "sha256"
    if settings.sse is not None:
        config["server_side_encryption"] = settings.sse
    if settings.kms_key_id is not None:
        config["sse_kms_key_id"] = settings.kms_key_id
    if settings.bucket_key is not None:
        config["sse_bucket_key_enabled"] = settings.bucket_key
    client_options: dict[str, Any] = {
        "connect_timeout": timedelta(seconds=settings.connect_timeout),
        "timeout": timedelta(seconds=settings.read_timeout),
        "user_agent": "sessionstore",
    }
    if endpoint and endpoint.startswith("http://"):
        client_options["allow_http"] = True
    return S3Store(
        settings.bucket,
        client_options=client_options,  # type: ignore[arg-type]
        retry_config={"max_retries": 0, "retry_timeout": timedelta(seconds=0)},
        **config,
    )


# ------------------------------------------- conditional DELETE over HTTP/1.1


_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class _ConnectionPool:
    """Keep-alive HTTP/1.1 connections for the requests obstore cannot send.

    A reused connection the server has closed fails like any lost response: the
    delete is reported as ``OutcomeUnknown`` and the store resolves it by reading.
    """

    def __init__(self, size: int = 8) -> None:
        self._idle: dict[
            tuple[str, str, int], list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
        ] = {}
        self._size = size

    async def close(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for _, writer in connections:
                writer.close()

    async def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        *,
        connect_timeout: float,
        read_timeout: float,
    ) -> tuple[int, bytes]:
        parts = urlsplit(url)
        scheme = parts.scheme
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        origin = (scheme, host, port)
        idle = self._idle.setdefault(origin, [])
        if idle:
            reader, writer = idle.pop()
        else:
            context = ssl.create_default_context() if scheme == "https" else None
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=context), connect_timeout
            )
        host_header = parts.netloc.rsplit("@", 1)[-1]
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}", "Content-Length: 0"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            status, keep, body = await asyncio.wait_for(_read_response(reader), read_timeout)
        except BaseException:
            writer.close()
            raise
        if keep and len(idle) < self._size:
            idle.append((reader, writer))
        else:
            writer.close()
        return status, body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("connection closed before a response")
    version, status_text = status_line.decode("latin-1").split(" ", 2)[:2]
    status = int(status_text)
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    keep = headers.get("connection", "").lower() != "close" and version == "HTTP/1.1"
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                break
            body += await reader.readexactly(size)
            await reader.readline()
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:
        body = await reader.read()
        keep = False
    return status, keep, body
