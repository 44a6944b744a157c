"""Session ownership with fencing, built only on the contract's compare-and-swap.

Protocol (every step is one conditional write, so it runs on every store):

1. ``acquire`` reads the session. If another owner holds it (and has written
   within ``stale_after``, or no ``stale_after`` is given) it raises
   :class:`SessionBusy` unless ``force=True``. Otherwise it rewrites the stored
   snapshot with ``owner`` and ``epoch + 1``, conditional on the version it read.
   A session that does not exist is not written: the lease's first save is
   create-only.
2. Every ``lease.save`` and ``lease.release`` is conditional on the version the
   lease last wrote or read. Any other write to the session (a newer owner's
   acquire, an ``update``, an unconditional ``save``) changes that version, so
   the old lease's next write fails: :class:`FencedError`, and nothing changes.
3. A lost response on a lease write is resolved by the write-id rule (ours
   means success), never guessed.

An owner may re-acquire a session it holds without ``force`` (a restarted
instance under the same name); that bumps the epoch and fences its old
incarnation like any other acquire.

Clocks never decide safety: ``stale_after`` only decides when a silent holder
may be replaced without ``force``. Fencing is by conditional writes alone, so
two owners can never both succeed, however skewed their clocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessionstore._loop import run_blocking
from sessionstore.contract import Entry, Ownership, contention_backoff
from sessionstore.errors import ConflictError, FencedError, SessionBusy
from sessionstore.ids import validate_session_id

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

    from sessionstore.contract import ExpectedVersion, SessionPersistence
    from sessionstore.model import SessionSnapshot

__all__ = ["BlockingSessionLease", "SessionLease", "acquire"]

MAX_OWNER_LENGTH = 256


async def acquire(
    store: SessionPersistence,
    session_id: str,
    owner: str,
    *,
    force: bool = False,
    stale_after: float | None = None,
    max_attempts: int = 10,
) -> SessionLease:
    """Take ownership of ``session_id`` for ``owner``; see the module docstring.

    A conflicting write between our read and our write makes us look again, up
    to ``max_attempts`` times with jittered backoff; then :class:`ConflictError`.
    """
    session_id = validate_session_id(session_id)
    if not isinstance(owner, str) or not 0 < len(owner) <= MAX_OWNER_LENGTH:
        raise ValueError(f"owner must be a string of 1 to {MAX_OWNER_LENGTH} characters")
    if stale_after is not None and stale_after < 0:
        raise ValueError("stale_after must not be negative")
    for attempt in range(max_attempts):
        entry = await store._load_entry(session_id)
        if entry is None:
            return SessionLease(store, session_id, owner, 1, None, None, previous_version=None)
        meta = entry.meta
        now = store.clock()
        if meta is not None and meta.held and meta.owner != owner and not force:
            silent_for = None if meta.written_at is None else now - meta.written_at
            if stale_after is None or silent_for is None or silent_for < stale_after:
                raise SessionBusy(session_id, meta.owner or "", meta.epoch)
        epoch = (meta.epoch if meta else 0) + 1
        try:
            version = await store._put(
                session_id,
                entry.snapshot,
                entry.version,
                Ownership(owner, epoch, held=True, written_at=now),
            )
        except ConflictError:
            # Someone wrote between our read and our write: look again.
            if attempt + 1 < max_attempts:
                await contention_backoff(attempt)
            continue
        return SessionLease(
            store, session_id, owner, epoch, version, entry.snapshot, previous_version=entry.version
        )
    raise ConflictError(session_id, f"acquire gave up after {max_attempts} conflicting attempts")


class SessionLease:
    """Ownership of one session at one fencing epoch.

    ``version`` is the version the lease last wrote or read (None: the session
    did not exist when acquired, so the first save is create-only);
    ``previous_version`` is the version the acquire replaced (None if none).
    """

    def __init__(
        self,
        store: SessionPersistence,
        session_id: str,
        owner: str,
        epoch: int,
        version: str | None,
        snapshot: SessionSnapshot | None,
        *,
        previous_version: str | None,
    ) -> None:
        self.store = store
        self.previous_version = previous_version
        self.session_id = session_id
        self.owner = owner
        self.epoch = epoch
        self.version = version
        self._snapshot = snapshot
        self._released = False

    def __repr__(self) -> str:
        return (
            f"SessionLease({self.session_id!r}, owner={self.owner!r}, epoch={self.epoch}, "
            f"version={self.version!r}{', released' if self._released else ''})"
        )

    @property
    def released(self) -> bool:
        return self._released

    async def load(self) -> SessionSnapshot | None:
        """The stored snapshot, after checking that this lease still holds the session."""
        self._check_open()
        entry = await self.store._load_entry(self.session_id)
        self._check_current(entry)
        return entry.snapshot if entry else None

    async def save(self, snapshot: SessionSnapshot) -> str:
        """Write ``snapshot`` under this lease; :class:`FencedError` if superseded."""
        self._check_open()
        self.version = await self._write(snapshot, held=True)
        self._snapshot = snapshot
        return self.version

    async def release(self) -> None:
        """Leave the snapshot in place and mark the session free for the next owner."""
        self._check_open()
        if self.version is not None and self._snapshot is not None:
            self.version = await self._write(self._snapshot, held=False)
        self._released = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._released or isinstance(exc, FencedError):
            return
        try:
            await self.release()
        except FencedError:
            if exc is None:
                raise  # otherwise the body's own exception is the one to see

    async def _write(self, snapshot: SessionSnapshot, *, held: bool) -> str:
        expected: ExpectedVersion = self.version
        ownership = Ownership(self.owner, self.epoch, held=held, written_at=self.store.clock())
        try:
            return await self.store._put(self.session_id, snapshot, expected, ownership)
        except ConflictError as exc:
            raise FencedError(
                self.session_id,
                f"{self.owner!r} (epoch {self.epoch}) was superseded: the stored session changed "
                "since this lease last wrote it",
            ) from exc

    def _check_open(self) -> None:
        if self._released:
            raise FencedError(self.session_id, f"the lease of {self.owner!r} was released")

    def _check_current(self, entry: Entry | None) -> None:
        current = entry.version if entry else None
        if current != self.version:
            holder = entry.meta.owner if entry and entry.meta else None
            raise FencedError(
                self.session_id,
                f"{self.owner!r} (epoch {self.epoch}) was superseded"
                + (f" by {holder!r}" if holder and holder != self.owner else ""),
            )


class BlockingSessionLease:
    """Blocking twin of :class:`SessionLease` (from ``store.blocking.acquire``)."""

    def __init__(self, lease: SessionLease) -> None:
        self.lease = lease

    @property
    def owner(self) -> str:
        return self.lease.owner

    @property
    def epoch(self) -> int:
        return self.lease.epoch

    @property
    def version(self) -> str | None:
        return self.lease.version

    @property
    def previous_version(self) -> str | None:
        return self.lease.previous_version

    def load(self) -> SessionSnapshot | None:
        return run_blocking(self.lease.load())

    def save(self, snapshot: SessionSnapshot) -> str:
        return run_blocking(self.lease.save(snapshot))

    def release(self) -> None:
        run_blocking(self.lease.release())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        run_blocking(self.lease.__aexit__(exc_type, exc, tb))
