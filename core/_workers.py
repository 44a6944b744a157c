"""Worker threads for the stores' blocking I/O.

Three promises live here, once for every backend:

* **A cancelled call never sends what it had not sent yet.** Each call carries a
  :class:`Ticket`. A call cancelled while queued for a worker never runs; one that
  is running but has not reached :func:`point_of_no_return` (a filesystem write
  still waiting for its lock) stops there without writing. Past that point the
  request may be on the wire and cannot be recalled: the caller's cancellation
  leaves the outcome unknown, exactly like :class:`~sessionstore.errors.OutcomeUnknown`.
* **Fork safety.** A forked child inherits the parent's pool object but none of its
  threads; every store rebuilds its pool (and whatever else its ``_after_fork``
  resets) in the child, so a store used before ``fork()`` keeps working after it.
* **Interpreter exit.** Once the interpreter has begun shutting down, thread pools
  refuse new work; a save from an ``atexit`` handler then runs in the calling thread
  instead of failing.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Abandoned", "Ticket", "WorkerPool", "point_of_no_return", "watch_forks"]

T = TypeVar("T")

_PENDING, _BEGUN, _CANCELLED = range(3)


class Abandoned(Exception):  # not an error: the caller is gone
    """Raised in a worker at the point of no return of a call that was cancelled."""


class Ticket:
    """Decides, once and atomically, between 'sent' and 'cancelled' for one call."""

    __slots__ = ("_lock", "_state")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = _PENDING

    def begin(self) -> None:
        """Pass the point of no return, or raise :class:`Abandoned` if cancelled first."""
        with self._lock:
            if self._state == _CANCELLED:
                raise Abandoned
            self._state = _BEGUN

    def cancel(self) -> bool:
        """Cancel unless already begun; True if the call is now certain not to send."""
        with self._lock:
            if self._state == _PENDING:
                self._state = _CANCELLED
            return self._state == _CANCELLED


_ticket: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar(
    "sessionstore_ticket", default=None
)


def point_of_no_return() -> None:
    """Called by blocking I/O right before it sends (or renames) what cannot be recalled."""
    ticket = _ticket.get()
    if ticket is not None:
        ticket.begin()


def _invoke(ticket: Ticket, begins_itself: bool, fn: Callable[[], T]) -> T:
    _ticket.set(ticket)
    if not begins_itself:
        ticket.begin()
    return fn()


class WorkerPool:
    """A lazily started thread pool with cancellable calls (see the module docstring)."""

    def __init__(self, max_workers: int, name: str) -> None:
        self._max_workers = max_workers
        self._name = name
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[[], T], *, begins_itself: bool = False) -> T:
        """Run ``fn`` on a worker thread.

        ``begins_itself``: ``fn`` calls :func:`point_of_no_return` itself (after
        waiting for a lock, say); otherwise the call begins when a worker picks it up.
        """
        ticket = Ticket()
        context = contextvars.copy_context()
        call = _bind(context, ticket, begins_itself, fn)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix=self._name)
        try:
            future = self._executor.submit(call)
        except RuntimeError as exc:
            if "shutdown" not in str(exc):
                raise
            # The interpreter is exiting (an atexit handler is saving) or the pool was
            # shut down: do the work here, in the calling thread, rather than refuse it.
            return call()
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            ticket.cancel()  # queued or waiting: it will never send
            raise

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    def forget_after_fork(self) -> None:
        """In a forked child: the parent's threads do not exist here; start afresh."""
        self._executor = None


def _bind(
    context: contextvars.Context, ticket: Ticket, begins_itself: bool, fn: Callable[[], T]
) -> Callable[[], T]:
    def call() -> T:
        return context.run(_invoke, ticket, begins_itself, fn)

    return call


class _ForkAware(Protocol):
    def _after_fork(self) -> None: ...


_watched: weakref.WeakSet[_ForkAware] = weakref.WeakSet()


def watch_forks(obj: _ForkAware) -> None:
    """Call ``obj._after_fork()`` in every child forked while ``obj`` is alive."""
    _watched.add(obj)


def _after_fork_in_child() -> None:
    for obj in list(_watched):
        obj._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
