"""Write-behind snapshots: a live session hands over every new snapshot without waiting.

::

    async with SnapshotWriter(store, "call-42", min_interval=1.0) as writer:
        writer.submit(snapshot)      # sync, never blocks, never does I/O itself
        ...
        await writer.flush()         # the newest submitted snapshot is durable

What it guarantees:

* **At most one save in flight** for the session, on one background task.
* **Newest first, intermediates coalesced:** it holds at most one pending snapshot
  (the newest); a submit replaces it. Memory is bounded whatever the submit rate.
* **Rate:** a save never starts sooner than ``min_interval`` seconds after the
  previous save *returned* (GCS accepts about one write per second per object), so
  two writes of the object are always at least ``min_interval`` apart at the server.
* **Through a lease** when given one (``lease.save``, fenced), else ``store.save``.
* **Defensive copy:** ``submit`` deep-copies the snapshot, so mutating it afterwards
  never leaks into what is stored.
* **Nothing swallowed:** when a save fails (:class:`~sessionstore.FencedError`, an
  unresolved :class:`~sessionstore.OutcomeUnknown`, or any other error) the writer
  stops, drops what was pending, and every later ``submit``, ``flush`` and ``aclose``
  raises that error.
* ``flush()`` waits until the newest snapshot submitted before the call is durable
  (it honours the rate); ``aclose()`` and leaving ``async with`` flush.

``clock`` (monotonic seconds) and ``sleep`` are injectable, so rate tests need no
wall time. Call ``submit`` from the event loop that runs the writer.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from sessionstore.ids import validate_session_id

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import TracebackType

    from typing_extensions import Self

    from sessionstore.contract import SessionPersistence
    from sessionstore.model import SessionSnapshot
    from sessionstore.ownership import SessionLease

__all__ = ["SnapshotWriter"]


class SnapshotWriter:
    """Write-behind, coalescing, rate-limited saves of one session (see the module doc)."""

    def __init__(
        self,
        store: SessionPersistence,
        session_id: str,
        *,
        lease: SessionLease | None = None,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        on_error: Callable[[BaseException], object] | None = None,
    ) -> None:
        """``on_error`` is called once, from the writer's task, when a save fails."""
        session_id = validate_session_id(session_id)
        if min_interval < 0:
            raise ValueError("min_interval must not be negative")
        if lease is not None and (lease.store is not store or lease.session_id != session_id):
            raise ValueError("the lease must belong to the same store and session")
        self.store = store
        self.session_id = session_id
        self.lease = lease
        self.min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._on_error = on_error
        self._pending: SessionSnapshot | None = None
        self._submitted = 0  # sequence number of the newest submitted snapshot
        self._durable = 0  # sequence number of the newest durable snapshot
        self._last_done: float | None = None  # clock() when the previous save returned
        self._error: BaseException | None = None
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._progress: asyncio.Event | None = None
        #: Saves that returned successfully.
        self.writes = 0
        #: Version of the newest durable snapshot (None before the first save).
        self.version: str | None = None

    def __repr__(self) -> str:
        return (
            f"SnapshotWriter({self.session_id!r}, writes={self.writes}, "
            f"pending={self._pending is not None}, error={self._error!r})"
        )

    # ------------------------------------------------------------------ public API

    @property
    def error(self) -> BaseException | None:
        """The error that stopped the writer, if any."""
        return self._error

    @property
    def durable(self) -> bool:
        """True when every submitted snapshot is stored (nothing pending or in flight)."""
        return self._durable == self._submitted

    def submit(self, snapshot: SessionSnapshot) -> None:
        """Hand over the newest snapshot; returns at once. Raises the error that stopped it."""
        self._check_usable()
        wakeup = self._ensure_task()  # before any change: raises outside an event loop
        copy = snapshot.model_copy(deep=True)
        self._submitted += 1
        self._pending = copy  # drops the previous pending one: it was never going to be written
        wakeup.set()

    async def flush(self) -> None:
        """Wait until the newest snapshot submitted before this call is durable."""
        self._check_usable()
        await self._wait_durable(self._submitted)

    async def aclose(self) -> None:
        """Flush, then stop the writer. Raises the error that stopped it, if any."""
        if self._closed:
            self._raise_error()
            return
        try:
            await self._wait_durable(self._submitted)
        finally:
            self._closed = True
            if self._task is not None and not self._task.done():
                assert self._wakeup is not None
                self._wakeup.set()
                await asyncio.shield(self._task)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.aclose()
        except Exception:
            if exc is None:
                raise  # otherwise the body's own exception is the one to see

    # --------------------------------------------------------------- internals

    def _check_usable(self) -> None:
        self._raise_error()
        if self._closed:
            raise RuntimeError(f"the snapshot writer of {self.session_id!r} is closed")

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _ensure_task(self) -> asyncio.Event:
        if self._task is None:
            self._wakeup = asyncio.Event()
            self._progress = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"sessionstore-writer:{self.session_id}"
            )
        assert self._wakeup is not None
        return self._wakeup

    async def _wait_durable(self, target: int) -> None:
        while self._durable < target:
            self._raise_error()
            task, progress = self._task, self._progress
            assert task is not None  # target > 0, so a submit started it
            assert progress is not None
            if task.done():
                raise RuntimeError(f"the snapshot writer of {self.session_id!r} stopped")
            waiter = asyncio.ensure_future(progress.wait())
            try:
                await asyncio.wait([waiter, task], return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
        self._raise_error()

    def _notify(self) -> None:
        assert self._progress is not None
        self._progress.set()
        self._progress = asyncio.Event()

    async def _run(self) -> None:
        assert self._wakeup is not None
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                if self._pending is None:
                    if self._closed:
                        return
                    continue
                if self._last_done is not None:
                    wait = self._last_done + self.min_interval - self._clock()
                    if wait > 0:
                        await self._sleep(wait)
                # Take the newest only now: whatever arrived while we waited is coalesced.
                snapshot, sequence, self._pending = self._pending, self._submitted, None
                assert snapshot is not None
                try:
                    if self.lease is not None:
                        version = await self.lease.save(snapshot)
                    else:
                        version = await self.store.save(self.session_id, snapshot)
                except Exception as exc:
                    self._error = exc
                    self._pending = None
                    if self._on_error is not None:
                        self._on_error(exc)
                    return
                finally:
                    self._last_done = self._clock()
                self.writes += 1
                self.version = version
                self._durable = sequence
                self._notify()
                if self._durable < self._submitted:  # submitted while we were saving
                    self._wakeup.set()
        finally:
            self._notify()
