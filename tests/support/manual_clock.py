"""A clock that moves only when the test says so, with an async ``sleep`` to match.

``SnapshotWriter(..., clock=clock, sleep=clock.sleep)``: the writer's rate waits
end exactly when the test advances time past them, so rate tests depend on no
wall time and no scheduling luck.
"""

from __future__ import annotations

import asyncio

__all__ = ["ManualClock"]


class ManualClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []
        self._someone_sleeps: asyncio.Event | None = None

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, future))
        if self._someone_sleeps is not None:
            self._someone_sleeps.set()
        await future

    async def until_sleeping(self) -> None:
        """Return once some sleep waits for time to pass."""
        while not self.sleeping:
            self._someone_sleeps = asyncio.Event()
            await self._someone_sleeps.wait()

    @property
    def sleeping(self) -> int:
        """How many sleeps are waiting for time to pass."""
        return sum(1 for _, future in self._sleepers if not future.done())

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleep whose deadline has passed."""
        self.now += seconds
        due = [(at, f) for at, f in self._sleepers if at <= self.now]
        self._sleepers = [(at, f) for at, f in self._sleepers if at > self.now]
        for _, future in due:
            if not future.done():
                future.set_result(None)
