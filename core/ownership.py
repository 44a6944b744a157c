"""Session ownership with fencing, built only on the contract's compare-and-swap.

Protocol (every step is one conditional write, so it runs on every store):

1. ``acquire`` reads the session. If another owner holds it (and has written
   within ``stale_after``, or no ``stale_after`` is given) it raises
   :class:`SessionBusy` unless ``force=True``. Otherwise it rewrites the stored
   body with ``owner`` and ``epoch + 1``, conditional on the version it read. A
   session with no snapshot gets a *claim*: a body with the lease fields and no
   snapshot, written create-only. Every read reports a claim as absent (``load``
   returns None; the reference design's ``FsPersistence`` fails to parse it, as it
   would any body without its fields, until the lease's first save).
2. Every ``lease.save`` and ``lease.release`` is conditional on the version the
   lease last wrote or read. Any other write to the session (a newer owner's
   acquire, an ``update``, any ``save``, a ``delete``) changes or removes that
   version, and versions never repeat, so the old lease's next write fails:
   :class:`FencedError`, and nothing changes. A lease that was fenced once stays
   fenced: it never writes again, whatever happens to the session later.
3. A lost response on a lease write is resolved by the write-id rule (ours
   means success), never guessed; an unresolved one (or a cancelled write) is
   resolved by the lease's next call before it does anything else.
4. What a lease writes is only ever what it was given at ``save`` time (copied as
   JSON when ``save`` was called) or what it read: ``release`` rewrites exactly the
   last body the lease saved or read with only the lease fields changed, so a
   snapshot object mutated after ``save`` never reaches storage.

Epochs strictly increase over the acquires of a session while it exists. Deleting
it (or releasing a claim that was never saved, which deletes the claim) or an
unconditional ``save`` (which clears ownership) starts them again from 1: that
cannot let an old lease write, because fencing compares versions, not epochs, and
versions never repeat.

An owner may re-acquire a session it holds without ``force`` (a restarted
instance under the same name); that bumps the epoch and fences its old
incarnation like any other acquire.

Clocks never decide safety: ``stale_after`` only decides when a silent holder
may be replaced without ``force``. Fencing is by conditional writes alone, so
two owners can never both succeed, however skewed their clocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sessionstore import codec
from sessionstore._loop import run_blocking
from sessionstore.contract import Entry, Ownership, contention_backoff
from sessionstore.errors import ConflictError, FencedError, OutcomeUnknown, SessionBusy
from sessionstore.ids import validate_idempotency_key, validate_session_id

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

    from sessionstore.contract import SessionPersistence
    from sessionstore.model import SessionSnapshot

__all__ = ["BlockingSessionLease", "SessionLease", "acquire"]

MAX_OWNER_LENGTH = 256
# Conflicts retried while the lease's version is still the stored one (see _write).
_CONFLICT_RETRIES = 3


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
    owner = str.__str__(owner)
    if stale_after is not None and stale_after < 0:
        raise ValueError("stale_after must not be negative")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    for attempt in range(max_attempts):
        entry = await store._load_entry(session_id)
        meta = entry.meta if entry else None
        now = store.clock()
        if meta is not None and meta.held and meta.owner != owner and not force:
            silent_for = None if meta.written_at is None else now - meta.written_at
            if stale_after is None or silent_for is None or silent_for < stale_after:
                raise SessionBusy(session_id, meta.owner or "", meta.epoch)
        epoch = (meta.epoch if meta else 0) + 1
        payload = None if entry is None or entry.snapshot is None else _payload_of(entry)
        keys = entry.keys if entry else ()
        ownership = Ownership(owner, epoch, held=True, written_at=now)
        try:
            version = await store._put(
                session_id, payload, entry.version if entry else None, ownership, keys=keys
            )
        except ConflictError:
            # Someone wrote between our read and our write: look again.
            if attempt + 1 < max_attempts:
                await contention_backoff(attempt)
            continue
        return SessionLease(
            store,
            session_id,
            owner,
            epoch,
            _Body(version, payload, keys),
            previous_version=entry.version if entry and entry.snapshot is not None else None,
        )
    raise ConflictError(session_id, f"acquire gave up after {max_attempts} conflicting attempts")


def _payload_of(entry: Entry[SessionSnapshot]) -> bytes:
    assert entry.snapshot is not None  # callers checked
    return codec.trusted_payload(entry.snapshot)


@dataclass(frozen=True)
class _Body:
    """What the lease last wrote or read: the version, its snapshot JSON (None: a claim)."""

    version: str
    payload: bytes | None
    keys: tuple[str, ...]


@dataclass(frozen=True)
class _Pending:
    """A lease write whose outcome the lease has not learnt yet."""

    write_id: str
    payload: bytes | None
    keys: tuple[str, ...]
    held: bool


class SessionLease:
    """Ownership of one session at one fencing epoch.

    ``version`` is the version the lease last wrote or read (a claim's version
    until the first save); ``previous_version`` is the snapshot version the
    acquire replaced (None if there was no snapshot).
    """

    def __init__(
        self,
        store: SessionPersistence,
        session_id: str,
        owner: str,
        epoch: int,
        body: _Body,
        *,
        previous_version: str | None,
    ) -> None:
        self.store = store
        self.previous_version = previous_version
        self.session_id = session_id
        self.owner = owner
        self.epoch = epoch
        self._body = body
        self._pending: _Pending | None = None
        self._released = False
        self._fenced = False

    def __repr__(self) -> str:
        state = ", released" if self._released else ", fenced" if self._fenced else ""
        return (
            f"SessionLease({self.session_id!r}, owner={self.owner!r}, epoch={self.epoch}, "
            f"version={self.version!r}{state})"
        )

    @property
    def version(self) -> str:
        return self._body.version

    @property
    def released(self) -> bool:
        return self._released

    @property
    def fenced(self) -> bool:
        """True once a write of this lease was refused: it will never write again."""
        return self._fenced

    async def load(self) -> SessionSnapshot | None:
        """The stored snapshot, after checking that this lease still holds the session."""
        await self._ready()
        entry = await self.store._load_entry(self.session_id)
        if entry is None or entry.version != self.version:
            self._fenced = True
            holder = entry.meta.owner if entry and entry.meta else None
            raise FencedError(
                self.session_id,
                f"{self.owner!r} (epoch {self.epoch}) was superseded"
                + (f" by {holder!r}" if holder and holder != self.owner else ""),
            )
        return entry.snapshot

    async def save(self, snapshot: SessionSnapshot, *, idempotency_key: str | None = None) -> str:
        """Write ``snapshot`` under this lease; :class:`FencedError` if superseded.

        The snapshot is copied (as its JSON) now: changing the object after this
        call returns changes nothing stored. With ``idempotency_key``, a key this
        lease already wrote is not written again (the current version is returned).
        """
        payload = codec.serialize(self.session_id, snapshot)
        key = None if idempotency_key is None else validate_idempotency_key(idempotency_key)
        await self._ready()
        if key is not None and self._body.payload is not None and key in self._body.keys:
            return self.version
        keys = self._body.keys if key is None else (*self._body.keys, key)
        await self._write(payload, keys[-codec.MAX_REMEMBERED_KEYS :], held=True)
        return self.version

    async def release(self) -> None:
        """Mark the session free for the next owner, keeping exactly the last saved body.

        Only the lease fields change. A claim that was never saved is deleted (the
        session goes back to absent). Releasing twice is a no-op.
        """
        if self._released:
            return
        await self._ready()
        if self._body.payload is None:
            try:
                await self.store._remove(self.session_id, self.version)
            except ConflictError as exc:
                raise self._fence() from exc
            except OutcomeUnknown:
                if await self.store._read(self.session_id) is not None:
                    raise
        else:
            await self._write(self._body.payload, self._body.keys, held=False)
        self._released = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._released or self._fenced or isinstance(exc, FencedError):
            return
        try:
            await self.release()
        except FencedError:
            if exc is None:
                raise  # otherwise the body's own exception is the one to see

    # ------------------------------------------------------------------ internals

    async def _ready(self) -> None:
        """Refuse a released or fenced lease; resolve a write whose outcome is pending."""
        if self._released:
            raise FencedError(self.session_id, f"the lease of {self.owner!r} was released")
        if self._fenced:
            raise FencedError(
                self.session_id, f"{self.owner!r} (epoch {self.epoch}) was fenced earlier"
            )
        pending = self._pending
        if pending is None:
            return
        stored = await self.store._read(self.session_id)
        if stored is not None and codec.write_id_in(stored.body) == pending.write_id:
            # It landed: adopt it.
            self._body = _Body(stored.version, pending.payload, pending.keys)
            self._pending = None
            if not pending.held:
                self._released = True
                raise FencedError(self.session_id, f"the lease of {self.owner!r} was released")
            return
        if (stored.version if stored else None) == self.version:
            self._pending = None  # it did not land: the lease is as it was
            return
        raise self._fence()

    async def _write(self, payload: bytes | None, keys: tuple[str, ...], *, held: bool) -> None:
        write_id = codec.new_write_id()
        ownership = Ownership(self.owner, self.epoch, held=held, written_at=self.store.clock())
        # Until the outcome is known, the next call must resolve it first (a cancelled
        # or lost write may still land).
        self._pending = _Pending(write_id, payload, keys, held)
        try:
            version = await self._put_unless_superseded(payload, ownership, keys, write_id)
        except ConflictError as exc:
            self._pending = None
            raise self._fence() from exc
        except OutcomeUnknown:
            raise
        except Exception:
            # Every other error is raised before anything could land (typed backend
            # errors say "nothing written"; lost responses are OutcomeUnknown).
            self._pending = None
            raise
        self._pending = None
        self._body = _Body(version, payload, keys)

    async def _put_unless_superseded(
        self,
        payload: bytes | None,
        ownership: Ownership,
        keys: tuple[str, ...],
        write_id: str,
    ) -> str:
        """The conditional write; a conflict while our version is still the stored one
        (S3's 409 ConditionalRequestConflict: a concurrent request, not a newer owner) is
        retried, a few times, rather than taken for a takeover."""
        for attempt in range(_CONFLICT_RETRIES + 1):
            try:
                return await self.store._put(
                    self.session_id, payload, self.version, ownership, keys=keys, write_id=write_id
                )
            except ConflictError:
                if attempt == _CONFLICT_RETRIES:
                    raise
                stored = await self.store._read(self.session_id)
                if stored is None or stored.version != self.version:
                    raise  # someone else wrote or deleted it: superseded
                await contention_backoff(attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _fence(self) -> FencedError:
        self._fenced = True
        self._pending = None
        return FencedError(
            self.session_id,
            f"{self.owner!r} (epoch {self.epoch}) was superseded: the stored session changed "
            "since this lease last wrote or read it",
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
    def version(self) -> str:
        return self.lease.version

    @property
    def fenced(self) -> bool:
        return self.lease.fenced

    @property
    def released(self) -> bool:
        return self.lease.released

    @property
    def previous_version(self) -> str | None:
        return self.lease.previous_version

    def load(self) -> SessionSnapshot | None:
        return run_blocking(self.lease.load())

    def save(self, snapshot: SessionSnapshot, *, idempotency_key: str | None = None) -> str:
        return run_blocking(self.lease.save(snapshot, idempotency_key=idempotency_key))

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
