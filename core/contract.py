"""The persistence contract every store implements, and the semantics shared by all.

A backend implements five small async primitives (``_read``, ``_write``,
``_remove``, ``_list``, ``_close``). Everything a user calls (id checks, size
limits, encoding, write ids, resolving lost responses, ``update``'s retry loop,
ownership) lives here once, so every backend behaves the same way.

Write outcomes, as backends report them:

* success: ``_write`` returns the new version;
* the stored version did not match, and no earlier attempt of this write can have
  landed: ``_write`` raises :class:`ConflictError`;
* anything else (a precondition failure after a retry, a lost response, a
  dropped connection): ``_write`` raises :class:`OutcomeUnknown`, and
  :meth:`SessionPersistence.save` resolves it by reading the stored write id:
  ours means success, anything else stays :class:`OutcomeUnknown`.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import functools
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, TypeVar

from sessionstore import codec
from sessionstore._workers import WorkerPool, watch_forks
from sessionstore.errors import (
    ConflictError,
    InvalidStoreUrl,
    OutcomeUnknown,
    SessionStoreError,
    SnapshotTooLarge,
)
from sessionstore.ids import (
    is_valid_session_id,
    validate_idempotency_key,
    validate_prefix,
    validate_session_id,
)
from sessionstore.model import SessionSnapshot, VersionedSnapshot

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable
    from types import TracebackType

    from pydantic import BaseModel
    from typing_extensions import Self

    from sessionstore.blocking import BlockingSessionPersistence
    from sessionstore.documents import Documents
    from sessionstore.ownership import SessionLease
    from sessionstore.registry import StoreUrl

__all__ = [
    "ANY_VERSION",
    "DEFAULT_MAX_BYTES",
    "ExpectedVersion",
    "ListedObject",
    "RemoveExpected",
    "SessionPersistence",
    "StoredObject",
    "check_expected",
]

T = TypeVar("T")
V = TypeVar("V")
M = TypeVar("M", bound="BaseModel")

DEFAULT_MAX_BYTES: Final = 32 * 1024 * 1024
# Read-then-write rounds of a keyed save before it reports the race as a conflict.
_MAX_KEYED_ATTEMPTS: Final = 10


class _AnyVersion(enum.Enum):
    ANY = "ANY"

    def __repr__(self) -> str:
        return "ANY_VERSION"


ANY_VERSION: Final = _AnyVersion.ANY
"""``expected_version`` default: write or delete whatever is stored (no condition)."""

ExpectedVersion = str | None | Literal[_AnyVersion.ANY]
"""A version string (must match), ``None`` (must be absent) or :data:`ANY_VERSION`."""

RemoveExpected = str | Literal[_AnyVersion.ANY]
"""What a backend's ``_remove`` is asked to match (``None`` never reaches backends)."""


@dataclass(frozen=True)
class StoredObject:
    """What a backend read returns: the raw body and the version it is stored under."""

    body: bytes
    version: str


@dataclass(frozen=True)
class ListedObject:
    """One object a tree listing found: its name (``/``-separated) and last-modified time."""

    name: str
    modified: float | None


@dataclass(frozen=True)
class Entry(Generic[V]):
    """A decoded stored body: its value (None for a claim), version and library metadata."""

    value: V | None
    version: str
    meta: codec.StoreMeta | None

    @property
    def snapshot(self) -> V | None:
        return self.value

    @property
    def write_id(self) -> str | None:
        return self.meta.write_id if self.meta else None

    @property
    def keys(self) -> tuple[str, ...]:
        return self.meta.keys if self.meta else ()

    def has_key(self, key: str) -> bool:
        """Whether this body records ``key`` as applied (a claim records no value)."""
        return self.value is not None and key in self.keys

    def as_result(self) -> tuple[V, str]:
        assert self.value is not None  # has_key() checked it
        return self.value, self.version


@dataclass(frozen=True)
class Ownership:
    """Lease fields to write into a body's metadata (see :mod:`sessionstore.ownership`)."""

    owner: str | None = None
    epoch: int = 0
    held: bool = False
    written_at: float | None = None


class SessionPersistence(abc.ABC):
    """Async persistence for session snapshots, with compare-and-swap on every backend.

    Versions are opaque strings that never repeat for a session id. Every
    operation checks its arguments (id, snapshot, key) before any I/O. Use
    ``async with`` or :meth:`aclose` to release resources; :attr:`blocking` gives the
    same operations for callers without an event loop.

    Cancellation (``asyncio.timeout``, task cancel): a call cancelled before its
    request was sent never sends it; one cancelled after cannot be recalled, and its
    outcome is unknown to the caller exactly like :class:`OutcomeUnknown`. Retrying
    with the same ``idempotency_key`` is always safe.
    """

    #: URL scheme(s) this store is registered under; informative.
    scheme: str = ""

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES, max_workers: int = 32) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self._workers = WorkerPool(max_workers, type(self).__name__)
        #: Wall clock (Unix seconds) for lease ``stale_after`` decisions only; tests may replace it.
        self.clock: Callable[[], float] = time.time
        watch_forks(self)

    @classmethod
    def from_url(cls, url: StoreUrl, **options: Any) -> Self:
        """Build the store a parsed URL names (used by :func:`sessionstore.open_store`)."""
        raise InvalidStoreUrl(f"{cls.__name__} cannot be opened from a URL ({url.raw!r})")

    # ------------------------------------------------------------------ public API

    async def save(
        self,
        session_id: str,
        snapshot: SessionSnapshot,
        *,
        expected_version: ExpectedVersion = ANY_VERSION,
        idempotency_key: str | None = None,
    ) -> str:
        """Store ``snapshot`` and return its new version.

        ``expected_version`` omitted: overwrite whatever is stored. ``None``:
        create only; :class:`ConflictError` if the session exists. A version
        string: succeed only if that exact version is stored.

        ``idempotency_key``: if the stored session records this key as applied,
        write nothing and return the stored version; otherwise write and record
        the key in the same conditional write. A keyed save reads first (two
        requests); without a key a save is one request.
        """
        session_id = validate_session_id(session_id)
        return await self._save(
            codec.SNAPSHOTS, session_id, snapshot, expected_version, idempotency_key
        )

    async def load(self, session_id: str) -> SessionSnapshot | None:
        """The stored snapshot, or ``None`` if there is none."""
        entry = await self._load_entry(session_id)
        return entry.snapshot if entry else None

    async def load_versioned(self, session_id: str) -> VersionedSnapshot | None:
        """The stored snapshot and its version, or ``None`` if there is none."""
        entry = await self._load_entry(session_id)
        if entry is None or entry.value is None:
            return None
        return VersionedSnapshot(entry.value, entry.version)

    async def delete(
        self, session_id: str, *, expected_version: ExpectedVersion = ANY_VERSION
    ) -> None:
        """Delete the session.

        Unconditionally (the default), deleting a missing session is not an
        error. With a version string, delete only that version; with ``None``,
        succeed only if nothing is stored. A mismatch raises
        :class:`ConflictError` and deletes nothing. A lost response is resolved
        by reading: gone means deleted; the very version we meant to delete still
        there means nothing was deleted (retried once); anything else is
        :class:`OutcomeUnknown`.
        """
        await self._delete(validate_session_id(session_id), expected_version)

    async def update(
        self,
        session_id: str,
        fn: Callable[[SessionSnapshot | None], SessionSnapshot],
        *,
        max_attempts: int = 10,
        idempotency_key: str | None = None,
    ) -> VersionedSnapshot:
        """Read, apply ``fn`` to the current snapshot (or ``None``), write back conditionally.

        On a conflict the read and ``fn`` are repeated, up to ``max_attempts``
        times with jittered backoff; then :class:`ConflictError`. ``fn`` is
        never re-applied after :class:`OutcomeUnknown`: that error propagates.
        Lease fields (owner, epoch) in the stored body are kept.

        ``idempotency_key``: if the stored session records this key as applied,
        ``fn`` is not called, nothing is written, and the stored snapshot and
        version are returned; otherwise the key is recorded with the write.
        """
        session_id = validate_session_id(session_id)
        value, version = await self._update(
            codec.SNAPSHOTS, session_id, fn, max_attempts, idempotency_key
        )
        return VersionedSnapshot(value, version)

    async def list_sessions(self, prefix: str = "") -> AsyncGenerator[str, None]:
        """Stream the ids of stored sessions starting with ``prefix`` (order unspecified).

        Objects whose names break the id rule (foreign objects) are skipped. A
        session acquired but not yet saved (its claim) is listed; its load is None.
        """
        prefix = validate_prefix(prefix)
        async for session_id in self._list(prefix):
            if session_id.startswith(prefix) and is_valid_session_id(session_id):
                yield session_id

    async def acquire(
        self,
        session_id: str,
        owner: str,
        *,
        force: bool = False,
        stale_after: float | None = None,
        max_attempts: int = 10,
    ) -> SessionLease:
        """Take ownership of a session with a fencing epoch; see :mod:`sessionstore.ownership`."""
        from sessionstore.ownership import acquire

        return await acquire(
            self,
            session_id,
            owner,
            force=force,
            stale_after=stale_after,
            max_attempts=max_attempts,
        )

    def documents(self, model: type[M]) -> Documents[M]:
        """JSON documents of ``model`` under hierarchical keys in this store, with the same
        guarantees as snapshots; see :mod:`sessionstore.documents`."""
        from sessionstore.documents import Documents

        return Documents(self, model)

    @property
    def blocking(self) -> BlockingSessionPersistence:
        """The same store with blocking methods, for code without an event loop."""
        from sessionstore.blocking import BlockingSessionPersistence

        return BlockingSessionPersistence(self)

    async def aclose(self) -> None:
        """Release connections and worker threads. The store is unusable afterwards."""
        await self._close()
        self._workers.shutdown()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --------------------------------------------------- shared internals (not API)

    async def _load_entry(self, session_id: str) -> Entry[SessionSnapshot] | None:
        """The stored snapshot body decoded, claims included (``entry.value`` None)."""
        return await self._load(codec.SNAPSHOTS, validate_session_id(session_id))

    # The operations below are written once for every kind of stored value: snapshots
    # (one id) and documents (hierarchical names, :mod:`sessionstore.documents`). The
    # caller has checked ``name``; ``model`` validates, frames and reads the values.

    async def _load(self, model: codec.ModelCodec[M], name: str) -> Entry[M] | None:
        stored = await self._read(name)
        if stored is None:
            return None
        if len(stored.body) > self.max_bytes:  # backends that can, refuse before downloading
            raise SnapshotTooLarge(name, len(stored.body), self.max_bytes)
        decoded = model.decode(name, stored.body)
        return Entry(decoded.value, stored.version, decoded.meta)

    async def _save(
        self,
        model: codec.ModelCodec[M],
        name: str,
        value: M,
        expected_version: ExpectedVersion,
        idempotency_key: str | None,
    ) -> str:
        _check_expected_argument(expected_version)
        payload = model.serialize(name, value)
        if idempotency_key is not None:
            key = validate_idempotency_key(idempotency_key)
            return await self._keyed_save(model, name, payload, expected_version, key)
        try:
            return await self._put(name, payload, expected_version, Ownership())
        except ConflictError:
            if expected_version is not None or not model.claims:
                raise
            # Create-only met a stored object. A claim (an acquire before any value)
            # reads as absent, so the create replaces it, conditionally; anything else
            # is the conflict it was.
            current = await self._load(model, name)
            if current is None or current.value is not None:
                raise
        return await self._keyed_save(model, name, payload, None, None)

    async def _delete(self, name: str, expected_version: ExpectedVersion) -> None:
        _check_expected_argument(expected_version)
        if expected_version is None:
            # "Expect absent": nothing to delete, so the check is the whole operation.
            stored = await self._read(name)
            if stored is not None and not codec.is_claim(stored.body):
                raise ConflictError(name, "expected nothing stored, found something")
            return
        for attempt in range(2):
            try:
                await self._remove(name, expected_version)
            except OutcomeUnknown as unknown:
                stored = await self._read(name)
                if stored is None:
                    if expected_version is ANY_VERSION:
                        return  # gone: an unconditional delete's effect holds either way
                    # Gone, but whether this call removed that version or another client
                    # did (then this call failed) cannot be told: say so, never guess.
                    raise OutcomeUnknown(
                        name, f"{unknown}; it is gone, but this call may not have deleted it"
                    ) from unknown
                if attempt == 0 and stored.version == expected_version:
                    continue  # versions never repeat: it did not apply, so try once more
                raise
            return

    async def _update(
        self,
        model: codec.ModelCodec[M],
        name: str,
        fn: Callable[[M | None], M],
        max_attempts: int,
        idempotency_key: str | None,
    ) -> tuple[M, str]:
        key = None if idempotency_key is None else validate_idempotency_key(idempotency_key)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        for attempt in range(max_attempts):
            current = await self._load(model, name)
            if key is not None and current is not None and current.has_key(key):
                return current.as_result()
            new = fn(current.value if current else None)
            payload = model.serialize(name, new)
            expected: ExpectedVersion = current.version if current else None
            try:
                version = await self._put(
                    name,
                    payload,
                    expected,
                    _ownership_of(current),
                    keys=_remembered(current, key),
                )
            except ConflictError:
                if attempt + 1 < max_attempts:
                    await contention_backoff(attempt)
                continue
            except OutcomeUnknown:
                if key is not None:
                    applied = await self._applied(model, name, key)
                    if applied is not None:
                        return applied
                raise
            return new, version
        raise ConflictError(name, f"update gave up after {max_attempts} conflicting attempts")

    async def _keyed_save(
        self,
        model: codec.ModelCodec[M],
        name: str,
        payload: bytes,
        expected_version: ExpectedVersion,
        key: str | None,
    ) -> str:
        """A save that reads first: to honour an idempotency key, or to replace a claim."""
        for attempt in range(_MAX_KEYED_ATTEMPTS):
            current = await self._load(model, name)
            if key is not None and current is not None and current.has_key(key):
                return current.version
            visible = None if current is None or current.value is None else current.version
            if expected_version is not ANY_VERSION and expected_version != visible:
                check_expected(name, visible, expected_version)
            stored_version = current.version if current else None
            try:
                return await self._put(
                    name, payload, stored_version, Ownership(), keys=_remembered(current, key)
                )
            except ConflictError:
                # Someone wrote between our read and our write (perhaps the same key).
                if attempt + 1 < _MAX_KEYED_ATTEMPTS:
                    await contention_backoff(attempt)
                continue
            except OutcomeUnknown:
                if key is not None:
                    applied = await self._applied(model, name, key)
                    if applied is not None:
                        return applied[1]
                raise
        raise ConflictError(name, f"save gave up after {_MAX_KEYED_ATTEMPTS} races")

    async def _applied(
        self, model: codec.ModelCodec[M], name: str, key: str
    ) -> tuple[M, str] | None:
        """After an unresolved outcome: the stored result if ``key`` is recorded, else None."""
        try:
            current = await self._load(model, name)
        except SessionStoreError:
            return None
        if current is not None and current.has_key(key):
            return current.as_result()
        return None

    async def _put(
        self,
        session_id: str,
        payload: bytes | None,
        expected: ExpectedVersion,
        ownership: Ownership,
        *,
        keys: tuple[str, ...] = (),
        write_id: str | None = None,
    ) -> str:
        """Frame and write a validated payload (None: a claim); resolve a lost response."""
        write_id = write_id or codec.new_write_id()
        meta = codec.StoreMeta(
            write_id=write_id,
            owner=ownership.owner,
            epoch=ownership.epoch,
            held=ownership.held,
            written_at=ownership.written_at,
            claim=payload is None,
            keys=keys,
        )
        body = codec.frame_claim(meta) if payload is None else codec.frame(payload, meta)
        if len(body) > self.max_bytes:
            raise SnapshotTooLarge(session_id, len(body), self.max_bytes)
        try:
            return await self._write(session_id, body, expected)
        except OutcomeUnknown as unknown:
            return await self._resolve_write(session_id, body, write_id, unknown)

    async def _resolve_write(
        self, session_id: str, body: bytes, write_id: str, unknown: OutcomeUnknown
    ) -> str:
        """Decide a write whose response was lost by reading back what is stored.

        Our exact bytes stored: it landed, and that is its version. Our write id in
        other bytes: it landed and another program has rewritten it since, so we
        cannot name its version: still unknown to the caller. Anything else: unknown.
        """
        try:
            stored = await self._read(session_id)
        except Exception as exc:
            raise OutcomeUnknown(session_id, f"{unknown}; reading it back failed: {exc}") from exc
        if stored is not None and stored.body == body:
            return stored.version
        if stored is not None and codec.write_id_in(stored.body) == write_id:
            raise OutcomeUnknown(
                session_id, f"{unknown}; it landed, then another program rewrote the body"
            ) from unknown
        raise unknown

    async def _run_sync(
        self, fn: Callable[..., T], /, *args: object, begins_itself: bool = False
    ) -> T:
        """Run blocking I/O on this store's worker threads (cancellable until it begins)."""
        return await self._workers.run(functools.partial(fn, *args), begins_itself=begins_itself)

    def _after_fork(self) -> None:
        """In a forked child: drop what belongs to the parent's threads and connections.

        Backends that keep clients, sockets or locks extend this (and call super()).
        """
        self._workers.forget_after_fork()

    # ------------------------------------------------------ backend primitives

    @abc.abstractmethod
    async def _read(self, session_id: str) -> StoredObject | None:
        """The stored body and version, or None. Raise SnapshotTooLarge over max_bytes."""

    @abc.abstractmethod
    async def _write(self, session_id: str, body: bytes, expected: ExpectedVersion) -> str:
        """Store ``body`` if ``expected`` holds; return the new version.

        Raise ConflictError only when the write certainly did not land, and
        OutcomeUnknown when it may have (the caller resolves it).
        """

    @abc.abstractmethod
    async def _remove(self, session_id: str, expected: RemoveExpected) -> None:
        """Delete the stored body (if ``expected`` matches). Missing + ANY is not an error."""

    @abc.abstractmethod
    def _list(self, prefix: str) -> AsyncIterator[str]:
        """Yield candidate session ids starting with ``prefix``, streaming."""

    def _list_tree(self, prefix: str) -> AsyncIterator[ListedObject]:
        """Yield every stored name starting with ``prefix`` at any depth (``/``-separated,
        without the ``.json`` suffix), streaming, with last-modified times where the
        listing carries them. Needed only for :mod:`sessionstore.documents`."""
        raise NotImplementedError(f"{type(self).__name__} cannot list documents")

    async def _close(self) -> None:  # noqa: B027  # optional hook, not abstract
        """Release backend resources."""


async def contention_backoff(attempt: int) -> None:
    """Full-jitter exponential backoff after losing a compare-and-swap race."""
    await asyncio.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))


def check_expected(session_id: str, current: str | None, expected: ExpectedVersion) -> None:
    """For stores that compare versions themselves: raise ConflictError unless
    the stored version ``current`` (None: nothing stored) satisfies ``expected``."""
    if expected is ANY_VERSION or expected == current:
        return
    found = "no stored session" if current is None else f"stored version {current!r}"
    wanted = "no stored session" if expected is None else f"version {expected!r}"
    raise ConflictError(session_id, f"expected {wanted}, found {found}")


def _check_expected_argument(expected: object) -> None:
    if not (expected is None or expected is ANY_VERSION or isinstance(expected, str)):
        raise TypeError(
            f"expected_version must be a version string, None or ANY_VERSION, "
            f"not {type(expected).__name__}"
        )


def _remembered(entry: Entry[Any] | None, key: str | None) -> tuple[str, ...]:
    """The idempotency keys a new body carries: the stored ones, plus ``key``, newest last."""
    keys = entry.keys if entry is not None else ()
    if key is not None:
        keys = (*keys, key)
    return keys[-codec.MAX_REMEMBERED_KEYS :]


def _ownership_of(entry: Entry[Any] | None) -> Ownership:
    if entry is None or entry.meta is None:
        return Ownership()
    meta = entry.meta
    return Ownership(meta.owner, meta.epoch, meta.held, meta.written_at)
