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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from sessionstore import codec
from sessionstore.errors import ConflictError, InvalidStoreUrl, OutcomeUnknown, SnapshotTooLarge
from sessionstore.ids import is_valid_session_id, validate_prefix, validate_session_id
from sessionstore.model import SessionSnapshot, VersionedSnapshot

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable
    from types import TracebackType

    from typing_extensions import Self

    from sessionstore.blocking import BlockingSessionPersistence
    from sessionstore.ownership import SessionLease
    from sessionstore.registry import StoreUrl

__all__ = [
    "ANY_VERSION",
    "DEFAULT_MAX_BYTES",
    "ExpectedVersion",
    "RemoveExpected",
    "SessionPersistence",
    "StoredObject",
    "check_expected",
]

T = TypeVar("T")

DEFAULT_MAX_BYTES: Final = 32 * 1024 * 1024


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
class Entry:
    """A decoded stored session: snapshot, version and library metadata."""

    snapshot: SessionSnapshot
    version: str
    meta: codec.StoreMeta | None

    @property
    def write_id(self) -> str | None:
        return self.meta.write_id if self.meta else None


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
    operation checks the session id before any I/O. Use ``async with`` or
    :meth:`aclose` to release resources; :attr:`blocking` gives the same
    operations for callers without an event loop.
    """

    #: URL scheme(s) this store is registered under; informative.
    scheme: str = ""

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES, max_workers: int = 32) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self._max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        #: Wall clock (Unix seconds) for lease ``stale_after`` decisions only; tests may replace it.
        self.clock: Callable[[], float] = time.time

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
    ) -> str:
        """Store ``snapshot`` and return its new version.

        ``expected_version`` omitted: overwrite whatever is stored. ``None``:
        create only; :class:`ConflictError` if the session exists. A version
        string: succeed only if that exact version is stored.
        """
        session_id = validate_session_id(session_id)
        return await self._put(session_id, snapshot, expected_version, Ownership())

    async def load(self, session_id: str) -> SessionSnapshot | None:
        """The stored snapshot, or ``None`` if there is none."""
        entry = await self._load_entry(session_id)
        return entry.snapshot if entry else None

    async def load_versioned(self, session_id: str) -> VersionedSnapshot | None:
        """The stored snapshot and its version, or ``None`` if there is none."""
        entry = await self._load_entry(session_id)
        return VersionedSnapshot(entry.snapshot, entry.version) if entry else None

    async def delete(
        self, session_id: str, *, expected_version: ExpectedVersion = ANY_VERSION
    ) -> None:
        """Delete the session.

        Unconditionally (the default), deleting a missing session is not an
        error. With a version string, delete only that version; with ``None``,
        succeed only if nothing is stored. A mismatch raises
        :class:`ConflictError` and deletes nothing.
        """
        session_id = validate_session_id(session_id)
        if expected_version is None:
            # "Expect absent": nothing to delete, so the check is the whole operation.
            if await self._read(session_id) is not None:
                raise ConflictError(session_id, "expected no stored session, found one")
            return
        try:
            await self._remove(session_id, expected_version)
        except OutcomeUnknown:
            if await self._read(session_id) is not None:
                raise
            # What we meant to delete is gone, so the delete's effect holds.

    async def update(
        self,
        session_id: str,
        fn: Callable[[SessionSnapshot | None], SessionSnapshot],
        *,
        max_attempts: int = 10,
    ) -> VersionedSnapshot:
        """Read, apply ``fn`` to the current snapshot (or ``None``), write back conditionally.

        On a conflict the read and ``fn`` are repeated, up to ``max_attempts``
        times with jittered backoff; then :class:`ConflictError`. ``fn`` is
        never re-applied after :class:`OutcomeUnknown`: that error propagates.
        Lease fields (owner, epoch) in the stored body are kept.
        """
        session_id = validate_session_id(session_id)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        for attempt in range(max_attempts):
            current = await self._load_entry(session_id)
            new = fn(current.snapshot if current else None)
            expected: ExpectedVersion = current.version if current else None
            keep = _ownership_of(current)
            try:
                version = await self._put(session_id, new, expected, keep)
            except ConflictError:
                if attempt + 1 < max_attempts:
                    await contention_backoff(attempt)
                continue
            return VersionedSnapshot(new, version)
        raise ConflictError(session_id, f"update gave up after {max_attempts} conflicting attempts")

    async def list_sessions(self, prefix: str = "") -> AsyncGenerator[str, None]:
        """Stream the ids of stored sessions starting with ``prefix`` (order unspecified).

        Objects whose names break the id rule (foreign objects) are skipped.
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

    @property
    def blocking(self) -> BlockingSessionPersistence:
        """The same store with blocking methods, for code without an event loop."""
        from sessionstore.blocking import BlockingSessionPersistence

        return BlockingSessionPersistence(self)

    async def aclose(self) -> None:
        """Release connections and worker threads. The store is unusable afterwards."""
        await self._close()
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

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

    async def _load_entry(self, session_id: str) -> Entry | None:
        session_id = validate_session_id(session_id)
        stored = await self._read(session_id)
        if stored is None:
            return None
        if len(stored.body) > self.max_bytes:  # backends that can, refuse before downloading
            raise SnapshotTooLarge(session_id, len(stored.body), self.max_bytes)
        decoded = codec.decode(session_id, stored.body)
        return Entry(decoded.snapshot, stored.version, decoded.meta)

    async def _put(
        self,
        session_id: str,
        snapshot: SessionSnapshot,
        expected: ExpectedVersion,
        ownership: Ownership,
    ) -> str:
        write_id = codec.new_write_id()
        meta = codec.StoreMeta(
            write_id=write_id,
            owner=ownership.owner,
            epoch=ownership.epoch,
            held=ownership.held,
            written_at=ownership.written_at,
        )
        body = codec.encode(snapshot, meta)
        if len(body) > self.max_bytes:
            raise SnapshotTooLarge(session_id, len(body), self.max_bytes)
        try:
            return await self._write(session_id, body, expected)
        except OutcomeUnknown as unknown:
            return await self._resolve_write(session_id, write_id, unknown)

    async def _resolve_write(self, session_id: str, write_id: str, unknown: OutcomeUnknown) -> str:
        """Decide a write whose response was lost by reading the stored write id."""
        try:
            entry = await self._load_entry(session_id)
        except Exception as exc:
            raise OutcomeUnknown(session_id, f"{unknown}; reading it back failed: {exc}") from exc
        if entry is not None and entry.write_id == write_id:
            return entry.version
        raise unknown

    async def _run_sync(self, fn: Callable[..., T], /, *args: object) -> T:
        """Run blocking I/O on this store's worker threads."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._max_workers, thread_name_prefix=type(self).__name__
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args))

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


def _ownership_of(entry: Entry | None) -> Ownership:
    if entry is None or entry.meta is None:
        return Ownership()
    meta = entry.meta
    return Ownership(meta.owner, meta.epoch, meta.held, meta.written_at)
