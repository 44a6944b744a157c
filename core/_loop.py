"""One background event loop per process, for the blocking API.

Blocking calls submit their coroutine here instead of starting a new event loop
per call (which would cost a loop setup each time and break any loop-bound
resource a store keeps). The thread is a daemon and is recreated after fork.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_pid: int | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop, _pid
    with _lock:
        if _loop is None or _pid != os.getpid():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="sessionstore-blocking", daemon=True
            )
            thread.start()
            _loop, _pid = loop, os.getpid()
        return _loop


def _forget_after_fork() -> None:
    # The parent's loop thread does not exist in a child, and a thread of the parent
    # may have held the lock at fork: start afresh.
    global _lock, _loop, _pid
    _lock = threading.Lock()
    _loop = None
    _pid = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)


def run_blocking(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` on the background loop and wait for its result in this thread."""
    coro = awaitable if asyncio.iscoroutine(awaitable) else _await(awaitable)
    loop = _background_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise RuntimeError("blocking sessionstore calls cannot run inside the store's own loop")
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


async def _await(awaitable: Awaitable[T]) -> T:
    return await awaitable
