"""In-process store: for tests and single-process agents.

It keeps encoded bodies, not live objects, so it enforces the same size limit,
encoding and isolation (a caller mutating its snapshot after ``save`` changes
nothing stored) as the durable stores.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from sessionstore.codec import version_of
from sessionstore.contract import (
    DEFAULT_MAX_BYTES,
    ListedObject,
    SessionPersistence,
    StoredObject,
    check_expected,
)
from sessionstore.errors import InvalidStoreUrl

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from sessionstore.contract import ExpectedVersion, RemoveExpected
    from sessionstore.registry import StoreUrl

__all__ = ["MemoryPersistence"]


class MemoryPersistence(SessionPersistence):
    """Sessions in a dict guarded by a lock; every operation is atomic."""

    scheme = "memory"

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        super().__init__(max_bytes=max_bytes)
        self._bodies: dict[str, StoredObject] = {}
        self._modified: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: StoreUrl, **options: Any) -> MemoryPersistence:
        """``memory://``: a new, empty store private to this process."""
        if url.netloc or url.path.strip("/") or url.query:
            raise InvalidStoreUrl(f"memory:// takes no name, path or query: {url.raw!r}")
        return cls(**options)

    def __repr__(self) -> str:
        return f"MemoryPersistence(<{len(self._bodies)} sessions>)"

    def _after_fork(self) -> None:
        super()._after_fork()
        self._lock = threading.Lock()  # a thread of the parent may have held it at fork

    async def _read(self, session_id: str) -> StoredObject | None:
        with self._lock:
            return self._bodies.get(session_id)

    async def _write(self, session_id: str, body: bytes, expected: ExpectedVersion) -> str:
        with self._lock:
            current = self._bodies.get(session_id)
            check_expected(session_id, current.version if current else None, expected)
            stored = StoredObject(body, version_of(body))
            self._bodies[session_id] = stored
            self._modified[session_id] = time.time()
            return stored.version

    async def _remove(self, session_id: str, expected: RemoveExpected) -> None:
        with self._lock:
            current = self._bodies.get(session_id)
            check_expected(session_id, current.version if current else None, expected)
            self._bodies.pop(session_id, None)
            self._modified.pop(session_id, None)

    async def _list(self, prefix: str) -> AsyncIterator[str]:
        with self._lock:
            names = [name for name in self._bodies if name.startswith(prefix)]
        for name in names:
            yield name

    async def _list_tree(self, prefix: str) -> AsyncIterator[ListedObject]:
        with self._lock:
            found = [
                ListedObject(name, self._modified.get(name))
                for name in self._bodies
                if name.startswith(prefix)
            ]
        for listed in found:
            yield listed
