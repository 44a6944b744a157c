"""Google Cloud Storage store: one object per session, compare-and-swap on object generations.

``gs://bucket/prefix`` stores session ``<id>`` as the object ``prefix/<id>.json``;
its version is the object's generation (a decimal string). Each operation is one
HTTP request when nothing fails:

* load: one media GET; the generation comes from that response's
  ``x-goog-generation`` header, the size from its headers before the body is
  read (over ``max_bytes``: :class:`~sessionstore.errors.SnapshotTooLarge`
  without reading it), and the body is checked against the server's CRC32C;
* save: one multipart upload (never resumable, whatever the size up to
  ``max_bytes``) with ``ifGenerationMatch`` = the expected generation, or ``0``
  for create-only, or none for an unconditional save; the body's CRC32C rides
  along so GCS refuses a body damaged in transit;
* delete: one DELETE, with ``ifGenerationMatch`` when a version is expected;
* list: one GET per page of ``page_size`` names (pages fetched lazily).

When a request must be repeated and when not is decided in
:mod:`sessionstore.adapters.gcs._retry`; SDK exceptions become sessionstore
errors in :mod:`sessionstore.adapters.gcs._errors` only.

Rate limit: GCS accepts about one write per second to one object name and
answers 429 beyond it. A 429 writes nothing, so it is retried with backoff (first
delay up to ``retry_initial`` = 1 s, doubling to ``retry_maximum``) for at most
``max_attempts`` attempts (4) within ``retry_deadline``; a save still throttled
then raises :class:`~sessionstore.errors.BackendUnavailable` and nothing was
written. An agent that saves every turn should keep one save in flight per
session and, if turns come faster than that, save only the newest snapshot once
the previous save returns (skipping the ones in between).

Needs ``storage.objects.get``, ``.create``, ``.delete`` and ``.list`` on the
bucket, nothing else: the adapter never calls ``Blob``/``Bucket`` methods, so
google-cloud-storage's background bucket-metadata lookup (which needs
``storage.buckets.get``) does not run for its requests.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sessionstore.adapters.gcs import _history
from sessionstore.adapters.gcs import _http as _gcs_http
from sessionstore.adapters.gcs._errors import (
    TRANSLATABLE,
    Where,
    delete_failure,
    translate,
    write_failure,
)
from sessionstore.adapters.gcs._retry import Attempts, RetryPolicy, call
from sessionstore.adapters.gcs._transport import ClientHolder, build_client
from sessionstore.contract import (
    ANY_VERSION,
    DEFAULT_MAX_BYTES,
    ListedObject,
    SessionPersistence,
    StoredObject,
)
from sessionstore.errors import ConflictError, InvalidStoreUrl, SnapshotTooLarge
from sessionstore.ids import is_valid_session_id, validate_session_id

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from sessionstore.adapters.gcs._http import Timeout
    from sessionstore.contract import ExpectedVersion, RemoveExpected
    from sessionstore.registry import StoreUrl

__all__ = ["GcsPersistence"]

T = TypeVar("T")

_SUFFIX: Final = ".json"
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_GENERATION = re.compile(r"[1-9][0-9]{0,19}")
_URL_OPTIONS: Final[dict[str, Callable[[str], object]]] = {
    "project": str,
    "api_endpoint": str,
    "kms_key_name": str,
    "max_bytes": int,
    "max_workers": int,
    "page_size": int,
    "timeout": float,
    "retry_deadline": float,
    "max_attempts": int,
}


class GcsPersistence(SessionPersistence):
    """Sessions as objects ``<prefix>/<id>.json`` in a GCS bucket; see the module docstring.

    Pass ``client`` (a ``google.cloud.storage.Client``) to share one, or let the
    store build its own on first use from ``project``, ``credentials`` and
    ``api_endpoint`` (``STORAGE_EMULATOR_HOST`` is honoured). Constructing the
    store sends nothing and builds nothing.

    ``timeout`` applies to each HTTP request (seconds, or ``(connect, read)``);
    transient failures are retried with jittered exponential backoff from
    ``retry_initial`` up to ``retry_maximum`` seconds, at most ``max_attempts``
    attempts in all (1 disables retries) and none started after ``retry_deadline``
    seconds (``0`` disables retries too). Each retry logs a warning on the
    ``sessionstore.adapters.gcs`` logger.
    """

    scheme = "gs"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        client: Any = None,
        project: str | None = None,
        credentials: Any = None,
        api_endpoint: str | None = None,
        kms_key_name: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_workers: int = 32,
        timeout: Timeout = (10.0, 60.0),
        retry_deadline: float = 30.0,
        retry_initial: float = 1.0,
        retry_maximum: float = 8.0,
        max_attempts: int = 4,
        page_size: int = 1000,
    ) -> None:
        super().__init__(max_bytes=max_bytes, max_workers=max_workers)
        if not isinstance(bucket, str) or not _BUCKET_NAME.fullmatch(bucket):
            raise ValueError(f"not a valid GCS bucket name: {bucket!r}")
        if client is not None and (project or credentials or api_endpoint):
            raise ValueError("pass either client or project/credentials/api_endpoint, not both")
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000 (the GCS maximum)")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.kms_key_name = kms_key_name
        self._dir = f"{self.prefix}/" if self.prefix else ""
        self._timeout = timeout
        self._page_size = page_size
        self._retry = RetryPolicy(retry_initial, retry_maximum, retry_deadline, max_attempts)
        factory = functools.partial(
            build_client,
            project=project,
            credentials=credentials,
            api_endpoint=api_endpoint,
            pool_size=max_workers,
        )
        self._clients = ClientHolder(client, factory)

    @classmethod
    def from_url(cls, url: StoreUrl, **options: Any) -> GcsPersistence:
        """``gs://bucket/prefix?project=...&kms_key_name=...``; keywords win over the query."""
        if not url.bucket:
            raise InvalidStoreUrl(f"gs:// needs a bucket: {url.raw!r}")
        from_query: dict[str, object] = {}
        for key, value in url.query.items():
            convert = _URL_OPTIONS.get(key)
            if convert is None:
                known = ", ".join(sorted(_URL_OPTIONS))
                raise InvalidStoreUrl(f"unknown gs:// option {key!r} in {url.raw!r} ({known})")
            try:
                from_query[key] = convert(value)
            except ValueError as exc:
                raise InvalidStoreUrl(f"bad value for {key!r} in {url.raw!r}") from exc
        try:
            return cls(url.bucket, url.prefix, **{**from_query, **options})
        except ValueError as exc:
            raise InvalidStoreUrl(f"{url.raw!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"GcsPersistence('gs://{self.bucket}/{self.prefix}')"

    # ----------------------------------------------------------- primitives

    async def _read(self, session_id: str) -> StoredObject | None:
        return await self._run_sync(self._read_sync, session_id)

    async def _write(self, session_id: str, body: bytes, expected: ExpectedVersion) -> str:
        if expected is ANY_VERSION:
            condition = None
        elif expected is None:
            condition = 0  # GCS: "no live object"
        else:
            condition = _generation(session_id, expected)
        return await self._run_sync(self._write_sync, session_id, body, condition)

    async def _remove(self, session_id: str, expected: RemoveExpected) -> None:
        condition = None if expected is ANY_VERSION else _generation(session_id, expected)
        await self._run_sync(self._remove_sync, session_id, condition)

    async def _list(self, prefix: str) -> AsyncIterator[str]:
        listing = self._dir + prefix
        token: str | None = None
        while True:
            items, token = await self._run_sync(self._list_page_sync, listing, token, False)
            for name, _ in items:
                session_id = self._session_id_of(name)
                if session_id is not None:
                    yield session_id
            if token is None:
                return

    async def _list_tree(self, prefix: str) -> AsyncIterator[ListedObject]:
        listing = self._dir + prefix
        token: str | None = None
        while True:
            items, token = await self._run_sync(self._list_page_sync, listing, token, True)
            for name, updated in items:
                if name.startswith(self._dir) and name.endswith(_SUFFIX):
                    relative = name[len(self._dir) : -len(_SUFFIX)]
                    if relative:
                        yield ListedObject(relative, _timestamp(updated))
            if token is None:
                return

    def _after_fork(self) -> None:
        super()._after_fork()
        self._clients.forget_after_fork()

    async def _close(self) -> None:
        self._clients.close()

    # ------------------------------------------------------------ sync work

    def _read_sync(self, session_id: str) -> StoredObject | None:
        name = self._object_name(session_id)
        where = Where("load", self.bucket, name, session_id)
        attempts = Attempts()
        try:
            download = functools.partial(
                _gcs_http.download,
                self._clients.transport(),
                self.bucket,
                name,
                max_bytes=self.max_bytes,
                timeout=self._timeout,
            )
            got = self._call(download, where, attempts, idempotent=True)
        except _gcs_http.ObjectTooLarge as exc:
            raise SnapshotTooLarge(session_id, exc.size, self.max_bytes) from exc
        except TRANSLATABLE as exc:
            raise translate(exc, where, attempts) from exc
        return None if got is None else StoredObject(got.body, got.generation)

    def _write_sync(self, session_id: str, body: bytes, condition: int | None) -> str:
        name = self._object_name(session_id)
        where = Where("save", self.bucket, name, session_id)
        attempts = Attempts()
        conditional = condition is not None
        try:
            upload = functools.partial(
                _gcs_http.upload,
                self._clients.transport(),
                self.bucket,
                name,
                body,
                if_generation_match=condition,
                kms_key_name=self.kms_key_name,
                timeout=self._timeout,
            )
            # A create-only upload (ifGenerationMatch=0) the server may still hold after a
            # timeout or a dropped connection could land after a later delete: re-send
            # it only after an answer.
            return self._call(
                upload, where, attempts, idempotent=conditional, unless_held=condition == 0
            )
        except TRANSLATABLE as exc:
            raise write_failure(exc, where, attempts, conditional=conditional) from exc

    def _remove_sync(self, session_id: str, condition: int | None) -> None:
        name = self._object_name(session_id)
        where = Where("delete", self.bucket, name, session_id)
        attempts = Attempts()
        conditional = condition is not None
        try:
            delete = functools.partial(
                _gcs_http.delete,
                self._clients.transport(),
                self.bucket,
                name,
                if_generation_match=condition,
                timeout=self._timeout,
            )
            self._call(delete, where, attempts, idempotent=conditional)
        except TRANSLATABLE as exc:
            failure = delete_failure(exc, where, attempts, conditional=conditional)
            if failure is not None:
                raise failure from exc

    def _list_page_sync(
        self, listing: str, token: str | None, tree: bool
    ) -> tuple[list[tuple[str, str | None]], str | None]:
        where = Where("list", self.bucket, listing + "*")
        attempts = Attempts()
        try:
            page = functools.partial(
                _gcs_http.list_page,
                self._clients.transport(),
                self.bucket,
                listing,
                page_token=token,
                page_size=self._page_size,
                timeout=self._timeout,
                tree=tree,
            )
            return self._call(page, where, attempts, idempotent=True)
        except TRANSLATABLE as exc:
            raise translate(exc, where, attempts) from exc

    def _call(
        self,
        fn: Callable[[], T],
        where: Where,
        attempts: Attempts,
        *,
        idempotent: bool,
        unless_held: bool = False,
    ) -> T:
        return call(
            fn,
            policy=self._retry,
            idempotent=idempotent,
            attempts=attempts,
            where=where,
            unless_held=unless_held,
        )

    # ------------------------------------------------- history (see _history)

    async def history(self, session_id: str) -> list[_history.PastVersion]:
        """Every stored version of the session, newest first (bucket with object versioning)."""
        session_id = validate_session_id(session_id)
        return await self._run_sync(_history.list_versions, self, session_id)

    async def read_version(self, session_id: str, version_id: str) -> bytes:
        """The raw body of one past version (``version_id`` as :meth:`history` lists it)."""
        session_id = validate_session_id(session_id)
        return await self._run_sync(_history.read_version, self, session_id, version_id)

    # -------------------------------------------------------------- helpers

    def _object_name(self, session_id: str) -> str:
        return f"{self._dir}{session_id}{_SUFFIX}"

    def _session_id_of(self, name: str) -> str | None:
        """The session id an object name stands for, or None for foreign objects."""
        if not (name.startswith(self._dir) and name.endswith(_SUFFIX)):
            return None
        session_id = name[len(self._dir) : -len(_SUFFIX)]
        return session_id if is_valid_session_id(session_id) else None


def _generation(session_id: str, version: str) -> int:
    """The generation a version string names; a version no GCS store returns cannot match."""
    if isinstance(version, str) and _GENERATION.fullmatch(version):
        return int(version)
    raise ConflictError(session_id, f"version {version!r} is not a GCS generation, so cannot match")


def _timestamp(updated: str | None) -> float | None:
    """An object's RFC 3339 ``updated`` time as Unix seconds (None if absent or odd)."""
    if not updated:
        return None
    try:
        return datetime.fromisoformat(updated.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
