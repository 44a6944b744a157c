"""Blocking twins of every store operation, for scripts and synchronous handlers.

``store.blocking.save(...)`` runs the async operation on one background event
loop shared by the whole process (no new loop per call), so a synchronous Lambda
handler or a script pays one thread hand-off, not a loop setup, per operation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessionstore._loop import run_blocking
from sessionstore.contract import ANY_VERSION

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import TracebackType

    from typing_extensions import Self

    from sessionstore.contract import ExpectedVersion, SessionPersistence
    from sessionstore.model import SessionSnapshot, VersionedSnapshot
    from sessionstore.ownership import BlockingSessionLease

__all__ = ["BlockingSessionPersistence"]


class BlockingSessionPersistence:
    """A blocking view of a :class:`SessionPersistence`; same semantics, same errors."""

    def __init__(self, store: SessionPersistence) -> None:
        self.store = store

    def save(
        self,
        session_id: str,
        snapshot: SessionSnapshot,
        *,
        expected_version: ExpectedVersion = ANY_VERSION,
        idempotency_key: str | None = None,
    ) -> str:
        return run_blocking(
            self.store.save(
                session_id,
                snapshot,
                expected_version=expected_version,
                idempotency_key=idempotency_key,
            )
        )

    def load(self, session_id: str) -> SessionSnapshot | None:
        return run_blocking(self.store.load(session_id))

    def load_versioned(self, session_id: str) -> VersionedSnapshot | None:
        return run_blocking(self.store.load_versioned(session_id))

    def delete(self, session_id: str, *, expected_version: ExpectedVersion = ANY_VERSION) -> None:
        run_blocking(self.store.delete(session_id, expected_version=expected_version))

    def update(
        self,
        session_id: str,
        fn: Callable[[SessionSnapshot | None], SessionSnapshot],
        *,
        max_attempts: int = 10,
        idempotency_key: str | None = None,
    ) -> VersionedSnapshot:
        return run_blocking(
            self.store.update(
                session_id, fn, max_attempts=max_attempts, idempotency_key=idempotency_key
            )
        )

    def list_sessions(self, prefix: str = "") -> Iterator[str]:
        """Iterate session ids; pages are fetched lazily, as in the async form."""
        pages = self.store.list_sessions(prefix)
        try:
            while True:
                try:
                    yield run_blocking(pages.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            run_blocking(pages.aclose())

    def acquire(
        self,
        session_id: str,
        owner: str,
        *,
        force: bool = False,
        stale_after: float | None = None,
        max_attempts: int = 10,
    ) -> BlockingSessionLease:
        from sessionstore.ownership import BlockingSessionLease

        lease = run_blocking(
            self.store.acquire(
                session_id,
                owner,
                force=force,
                stale_after=stale_after,
                max_attempts=max_attempts,
            )
        )
        return BlockingSessionLease(lease)

    def close(self) -> None:
        run_blocking(self.store.aclose())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
