"""Stores and raw SDK clients for the S3 and GCS emulators, configured alike.

Each :class:`Cloud` pairs a sessionstore store with the raw SDK doing the same
transfer, so a benchmark can alternate between them:

* S3: the store builds its own client (``endpoint_url=``), as a user's would. The raw
  client is a plain boto3 client with the settings the adapter's client uses (standard
  retries, 4 attempts, 5 s/20 s timeouts, a pool as large as the worker pool, TCP
  keepalive, checksums "when_required" on requests and "when_supported" on responses).
  The raw PUT sends the same headers the adapter sends: ``Content-Type:
  application/json``, ``x-amz-checksum-sha256`` computed from the body (in the timed
  call, as the adapter does) and ``If-Match`` / ``If-None-Match`` for a conditional
  write. The raw GET is ``get_object`` + ``Body.read()``.
* S3 on obstore (``transport="obstore"``): the raw reference is ``obstore.put_async``
  with the same headers (``Content-Type``, ``x-amz-checksum-sha256``, the SHA-256
  metadata the transport verifies on download) and ``get_async`` + ``bytes_async``.
* GCS: the store builds its own ``google.cloud.storage.Client`` (anonymous credentials,
  ``api_endpoint=``). The raw client is the same kind of client with the same connection
  pool size; the raw upload is ``Blob.upload_from_string(body,
  content_type="application/json", checksum="crc32c", if_generation_match=...)`` (one
  multipart request carrying the CRC32C, as the adapter's), the raw download
  ``Blob.download_as_bytes(checksum="crc32c")`` (one media GET, CRC32C verified, as the
  adapter's).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from benchmarks.serve import BUCKET

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from benchmarks.serve import EmulatorHost, Endpoints, Logged
    from sessionstore.contract import SessionPersistence

__all__ = ["BACKENDS", "Cloud", "RawClient", "open_cloud"]

#: Request counts are taken on every backend; "s3-obstore" is S3 on the obstore transport.
BACKENDS = ("s3", "s3-obstore", "gcs")
GCS_PROJECT = "sessionstore-bench"


class RawClient(Protocol):
    """The raw SDK side: one PUT / one GET of a body, optionally conditional."""

    def put(self, name: str, body: bytes, *, expected: str | None = None) -> str:
        """Store ``body`` (conditional on version ``expected`` when given); new version."""

    def get(self, name: str) -> bytes:
        """The stored body."""

    def close(self) -> None: ...


def drop_expect(client: Any) -> None:
    """Send PutObject without ``Expect: 100-continue``, as the adapter does."""

    def handler(request: Any = None, **_: Any) -> None:
        if request is not None and "Expect" in request.headers:
            del request.headers["Expect"]

    client.meta.events.register("before-send.s3", handler)


class RawObstore:
    """obstore's bare calls with the headers the obstore transport sends."""

    def __init__(self, endpoint: str) -> None:
        from datetime import timedelta

        from obstore.store import S3Store

        self.store = S3Store(
            BUCKET,
            endpoint=endpoint,
            region="us-east-1",
            access_key_id="testing",
            secret_access_key="testing",
            virtual_hosted_style_request=False,
            checksum_algorithm="sha256",
            disable_bulk_delete=True,
            metadata_endpoint="http://127.0.0.1:1",
            client_options={"allow_http": True},
            retry_config={"max_retries": 0, "retry_timeout": timedelta(seconds=0)},
        )

    async def aput(self, name: str, body: bytes) -> str:
        import obstore

        attributes: Any = {
            "Content-Type": "application/json",
            "sessionstore-sha256": hashlib.sha256(body).hexdigest(),
        }
        result = await obstore.put_async(
            self.store, name, body, mode="overwrite", attributes=attributes, use_multipart=False
        )
        return str(result["e_tag"])

    async def aget(self, name: str) -> bytes:
        import obstore

        result = await obstore.get_async(self.store, name)
        return bytes(await result.bytes_async())

    def put(self, name: str, body: bytes, *, expected: str | None = None) -> str:
        assert expected is None
        return asyncio.run(self.aput(name, body))

    def get(self, name: str) -> bytes:
        return asyncio.run(self.aget(name))

    def close(self) -> None:
        pass


class RawS3:
    def __init__(self, endpoint: str, pool: int) -> None:
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard", "total_max_attempts": 4},
            connect_timeout=5.0,
            read_timeout=20.0,
            max_pool_connections=pool,
            tcp_keepalive=True,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_supported",
        )
        self.client: S3Client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint, config=config
        )
        drop_expect(self.client)

    def put(self, name: str, body: bytes, *, expected: str | None = None) -> str:
        checksum = base64.b64encode(hashlib.sha256(body).digest()).decode()
        condition: dict[str, Any] = {} if expected is None else {"IfMatch": expected}
        response = self.client.put_object(
            Bucket=BUCKET,
            Key=name,
            Body=body,
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
            **condition,
        )
        return response["ETag"]

    def get(self, name: str) -> bytes:
        stream = self.client.get_object(Bucket=BUCKET, Key=name)["Body"]
        try:
            return stream.read()
        finally:
            stream.close()

    def close(self) -> None:
        self.client.close()


class RawGcs:
    def __init__(self, endpoint: str, pool: int) -> None:
        import requests.adapters
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        self.client: Any = storage.Client(
            project=GCS_PROJECT,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": endpoint},
        )
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool)
        self.client._http.mount("http://", adapter)
        self.bucket: Any = self.client.bucket(BUCKET)

    def put(self, name: str, body: bytes, *, expected: str | None = None) -> str:
        blob = self.bucket.blob(name)
        blob.upload_from_string(
            body,
            content_type="application/json",
            checksum="crc32c",
            if_generation_match=None if expected is None else int(expected),
        )
        return str(blob.generation)

    def get(self, name: str) -> bytes:
        body: bytes = self.bucket.blob(name).download_as_bytes(checksum="crc32c")
        return body

    def close(self) -> None:
        self.client.close()


@dataclass
class Cloud:
    """One backend on its emulator: a store, the raw SDK, and the server's request log."""

    name: str
    store: SessionPersistence
    raw: RawClient
    prefix: str
    host: EmulatorHost | None = None  # for the request logs
    server: str = ""  # whose request log ("s3" or "gcs"); default: name

    def object_name(self, session_id: str) -> str:
        return f"{self.prefix}/{session_id}.json"

    def reset_log(self) -> None:
        assert self.host is not None, "request logs need the EmulatorHost"
        self.host.reset()

    def requests(self) -> list[Logged]:
        assert self.host is not None, "request logs need the EmulatorHost"
        return self.host.requests(self.server or self.name)

    def close(self) -> None:
        asyncio.run(self.store.aclose())
        self.raw.close()


def open_cloud(
    name: str,
    endpoints: Endpoints,
    prefix: str,
    *,
    workers: int = 32,
    host: EmulatorHost | None = None,
) -> Cloud:
    """A store and a raw client for backend ``name`` ("s3" or "gcs") under ``prefix``.

    ``host`` gives access to the servers' request logs (:meth:`Cloud.requests`).
    """
    store: SessionPersistence
    raw: RawClient
    if name == "s3":
        from sessionstore.adapters.s3 import S3Persistence

        store = S3Persistence(BUCKET, prefix, endpoint_url=endpoints.s3, max_workers=workers)
        raw = RawS3(endpoints.s3, workers)
    elif name == "s3-obstore":
        from sessionstore.adapters.s3 import S3Persistence

        store = S3Persistence(BUCKET, prefix, endpoint_url=endpoints.s3, transport="obstore")
        raw = RawObstore(endpoints.s3)
        return Cloud(name, store, raw, prefix, host, server="s3")
    elif name == "gcs":
        from google.auth.credentials import AnonymousCredentials

        from sessionstore.adapters.gcs import GcsPersistence

        store = GcsPersistence(
            BUCKET,
            prefix,
            project=GCS_PROJECT,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            api_endpoint=endpoints.gcs,
            max_workers=workers,
        )
        raw = RawGcs(endpoints.gcs, workers)
    else:
        raise ValueError(f"unknown backend {name!r}")
    return Cloud(name, store, raw, prefix, host)
