"""Amazon S3 store (``pip install 'sessionstore[s3]'``): one object per session.

Layout: ``s3://<bucket>/<prefix>/<session_id>.json`` (``<session_id>.json`` when the
prefix is empty). The version of a session is the object's ETag exactly as S3 returns
it (quotes included). Every body carries a fresh write id, so ETags never repeat.

Compare-and-swap uses S3's own conditional writes, decided atomically by the bucket:

* ``expected_version=None``      PutObject ``If-None-Match: *`` (create only)
* ``expected_version="<etag>"``  PutObject / DeleteObject ``If-Match: <etag>``
* omitted                        unconditional PutObject / DeleteObject

One request per operation when nothing fails: a save is one PutObject, a load one
GetObject, a delete one DeleteObject, an update a GetObject and a PutObject. botocore
retries 5xx, throttling and connection errors (a bounded number of attempts, jittered
exponential back-off, a warning logged for each retry); a 412 (or 409) after a retry
of an attempt that may have landed may be the echo of our own write, so it is
reported as :class:`~sessionstore.errors.OutcomeUnknown` and resolved by reading the
stored write id (see :mod:`sessionstore.contract`), never guessed. ``SlowDown`` is
answered before S3 processes a request, so it never makes an outcome unknown, and a
412 or 409 is a conflict only for a request that carried a precondition.
Unconditional writes and deletes are never re-sent after an attempt that may have
landed (a re-send could undo another writer's acknowledged write; see
:mod:`sessionstore.adapters.s3._attempts`): they are resolved by reading the write id
back, like a lost conditional write.

URL form: ``s3://bucket/prefix?region=eu-west-1&endpoint_url=http://127.0.0.1:9000``.
Query parameters: ``region``, ``endpoint_url``, ``sse``, ``kms_key_id``,
``bucket_key``, ``checksum`` (``none`` to send none), ``max_bytes``, ``max_workers``,
``page_size``, ``max_attempts``, ``connect_timeout``, ``read_timeout``. Keyword
arguments to ``open_store`` override them. Without ``endpoint_url`` boto3 honours
``AWS_ENDPOINT_URL_S3``, so a subprocess can be pointed at an emulator by environment.

IAM permissions needed: ``s3:GetObject``, ``s3:PutObject``, ``s3:DeleteObject`` on
``<prefix>/*`` and ``s3:ListBucket`` on the bucket (without it S3 answers a load of a
missing session with 403, which becomes :class:`~sessionstore.errors.AccessDenied`),
plus ``kms:GenerateDataKey`` / ``kms:Decrypt`` with SSE-KMS.

Multi-Region Access Points are refused: conditional writes are decided by one bucket,
and neither MRAPs nor replication coordinate them across regions.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from sessionstore.adapters.s3._config import (
    KEY_SUFFIX,
    TRANSPORTS,
    ClientSettings,
    Encryption,
    check_bucket,
    check_checksum,
    parse_query,
)
from sessionstore.contract import (
    DEFAULT_MAX_BYTES,
    ListedObject,
    SessionPersistence,
    StoredObject,
)
from sessionstore.errors import InvalidStoreUrl
from sessionstore.ids import validate_session_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from mypy_boto3_s3 import S3Client

    from sessionstore.adapters.s3._boto3 import Boto3Transport
    from sessionstore.adapters.s3._history import PastVersion
    from sessionstore.adapters.s3._obstore import ObstoreTransport
    from sessionstore.contract import ExpectedVersion, RemoveExpected
    from sessionstore.registry import StoreUrl

__all__ = ["S3Persistence"]

_SUFFIX = KEY_SUFFIX
_MAX_PAGE_SIZE = 1000  # S3 never returns more keys per ListObjectsV2 page


class S3Persistence(SessionPersistence):
    """Sessions as S3 objects with compare-and-swap; see the module docstring.

    Constructing a store sends no request and builds no client: the client is built
    (once, thread-safely) on first use, or ``client`` is used as given. A given client
    is never closed by the store. ``region``, ``endpoint_url``, ``connect_timeout``
    (default 5 s), ``read_timeout`` (20 s) and ``max_attempts`` (4, in botocore's
    standard retry mode) configure the store's own client and cannot be combined with
    ``client``. On either client the store registers one event handler that records
    what each HTTP attempt saw (see :mod:`sessionstore.adapters.s3._attempts`); it
    changes no request. ``page_size`` sets ListObjectsV2's ``MaxKeys``.
    """

    scheme = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: S3Client | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_workers: int = 32,
        sse: str | None = None,
        kms_key_id: str | None = None,
        bucket_key: bool | None = None,
        checksum: str | None = "SHA256",
        page_size: int = _MAX_PAGE_SIZE,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        max_attempts: int | None = None,
        transport: str = "boto3",
    ) -> None:
        super().__init__(max_bytes=max_bytes, max_workers=max_workers)
        check_bucket(bucket)
        if transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {TRANSPORTS}, not {transport!r}")
        if transport == "obstore" and checksum not in ("SHA256", None):
            raise ValueError("transport='obstore' supports checksum='SHA256' or None")
        if transport == "obstore" and client is not None:
            raise ValueError("client= is a boto3 client; transport='obstore' builds its own")
        check_checksum(checksum)
        if not 1 <= page_size <= _MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {_MAX_PAGE_SIZE}")
        client_options: dict[str, Any] = {
            "region": region,
            "endpoint_url": endpoint_url,
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "max_attempts": max_attempts,
        }
        given = {name: value for name, value in client_options.items() if value is not None}
        if client is not None and given:
            raise ValueError(
                f"{sorted(given)} configure the store's own client; with client= given, "
                "configure that client instead"
            )
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._key_prefix = f"{self.prefix}/" if self.prefix else ""
        self._settings = ClientSettings(max_pool_connections=max_workers, **given)
        self._encryption = Encryption(sse, kms_key_id, bucket_key)
        self._checksum = checksum
        self._page_size = page_size
        self._given_client = client
        self._boto3: Boto3Transport | None = None
        self._boto3_lock = threading.Lock()
        self.transport = transport
        # The obstore transport (see _obstore): natively async, never on the worker pool.
        # Only the boto3 transport's module imports botocore; an obstore store builds it
        # only for what obstore cannot do (version history).
        self._fast: ObstoreTransport | None = None
        if transport == "obstore":
            self._fast = _obstore_transport(bucket, self._settings, self._encryption, checksum)
        else:
            self._boto3 = self._boto3_transport()

    @classmethod
    def from_url(cls, url: StoreUrl, **options: Any) -> S3Persistence:
        """``s3://bucket/prefix?option=value``; keyword ``options`` override the query."""
        merged = {**parse_query(url.raw, url.query), **options}
        try:
            return cls(url.bucket, url.prefix, **merged)
        except ValueError as exc:
            if isinstance(exc, InvalidStoreUrl):
                raise
            raise InvalidStoreUrl(f"{url.raw!r}: {exc}") from exc

    def __repr__(self) -> str:
        via = "" if self.transport == "boto3" else f"?transport={self.transport}"
        return f"S3Persistence('s3://{self.bucket}/{self.prefix}{via}')"

    # ----------------------------------------------------------- primitives

    async def _read(self, session_id: str) -> StoredObject | None:
        if self._fast is not None:
            return await self._fast.read(self._key(session_id), session_id, self.max_bytes)
        return await self._run_sync(self._read_sync, session_id)

    async def _write(self, session_id: str, body: bytes, expected: ExpectedVersion) -> str:
        if self._fast is not None:
            return await self._fast.write(self._key(session_id), session_id, body, expected)
        return await self._run_sync(self._write_sync, session_id, body, expected)

    async def _remove(self, session_id: str, expected: RemoveExpected) -> None:
        if self._fast is not None:
            await self._fast.remove(self._key(session_id), session_id, expected)
            return
        await self._run_sync(self._remove_sync, session_id, expected)

    async def _list(self, prefix: str) -> AsyncIterator[str]:
        async for listed in self._listing(prefix, tree=False):
            yield listed.name

    async def _list_tree(self, prefix: str) -> AsyncIterator[ListedObject]:
        async for listed in self._listing(prefix, tree=True):
            yield listed

    async def _listing(self, prefix: str, *, tree: bool) -> AsyncIterator[ListedObject]:
        """Names under ``prefix``: sessions (one level) or, with ``tree``, all documents."""
        if self._fast is not None:  # obstore lists keys only: no last-modified times
            start = len(self._key_prefix)
            pages = self._fast.list_keys(
                self._key_prefix.rstrip("/"), self._key_prefix + prefix, self._page_size
            )
            async for keys in pages:
                for key in keys:
                    name = key[start:]
                    if (
                        (tree or "/" not in name)
                        and name.endswith(_SUFFIX)
                        and len(name) > len(_SUFFIX)
                    ):
                        yield ListedObject(name[: -len(_SUFFIX)], None)
            return
        token: str | None = None
        while True:
            # One page per worker hop, so a caller that stops early fetches no more.
            found, token = await self._run_sync(self._list_page_sync, prefix, token, tree)
            for listed in found:
                yield listed
            if token is None:
                return

    def _after_fork(self) -> None:
        super()._after_fork()
        self._boto3_lock = threading.Lock()
        if self._fast is not None:
            self._fast.forget()
        if self._boto3 is not None:
            self._boto3.after_fork()

    async def _close(self) -> None:
        if self._fast is not None:
            await self._fast.close()
        if self._boto3 is not None:
            self._boto3.close()

    # ------------------------------------------------------------ sync work

    def _key(self, session_id: str) -> str:
        return f"{self._key_prefix}{session_id}{_SUFFIX}"

    def _boto3_transport(self) -> Boto3Transport:
        from sessionstore.adapters.s3._boto3 import Boto3Transport

        return Boto3Transport(
            self.bucket,
            client=self._given_client,
            settings=self._settings,
            encryption=self._encryption,
            checksum=self._checksum,
            max_bytes=self.max_bytes,
        )

    def _blocking(self) -> Boto3Transport:
        """The boto3 transport (built on first use by an obstore store: history only)."""
        transport = self._boto3
        if transport is None:
            with self._boto3_lock:  # history calls run on several worker threads
                if self._boto3 is None:
                    self._boto3 = self._boto3_transport()
                transport = self._boto3
        return transport

    def _s3(self) -> S3Client:
        """The boto3 client, built on first use (never on the event loop)."""
        return self._blocking().client()

    def _read_sync(self, session_id: str) -> StoredObject | None:
        return self._blocking().read(self._key(session_id), session_id)

    def _write_sync(self, session_id: str, body: bytes, expected: ExpectedVersion) -> str:
        return self._blocking().write(self._key(session_id), session_id, body, expected)

    def _remove_sync(self, session_id: str, expected: RemoveExpected) -> None:
        self._blocking().remove(self._key(session_id), session_id, expected)

    def _list_page_sync(
        self, prefix: str, token: str | None, tree: bool
    ) -> tuple[list[ListedObject], str | None]:
        return self._blocking().list_page(
            self._key_prefix, prefix, token, tree=tree, page_size=self._page_size
        )

    # ------------------------------------------------- history (see _history)

    async def history(self, session_id: str) -> list[PastVersion]:
        """Every stored version of the session, newest first (ListObjectVersions)."""
        from sessionstore.adapters.s3 import _history

        session_id = validate_session_id(session_id)
        return await self._run_sync(_history.list_versions, self, session_id)

    async def read_version(self, session_id: str, version_id: str) -> bytes:
        """The raw body of one past version (``version_id`` as :meth:`history` lists it)."""
        from sessionstore.adapters.s3 import _history

        session_id = validate_session_id(session_id)
        return await self._run_sync(_history.read_version, self, session_id, version_id)


def _obstore_transport(
    bucket: str, settings: ClientSettings, encryption: Encryption, checksum: str | None
) -> ObstoreTransport:
    from sessionstore.adapters.s3._obstore import ObstoreSettings, ObstoreTransport

    return ObstoreTransport(
        ObstoreSettings(
            bucket=bucket,
            region=settings.region,
            endpoint_url=settings.endpoint_url,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            max_attempts=settings.max_attempts,
            sse=encryption.sse,
            kms_key_id=encryption.kms_key_id,
            bucket_key=encryption.bucket_key,
            checksum=checksum,
        )
    )
