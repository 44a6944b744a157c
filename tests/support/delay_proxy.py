"""A loopback TCP proxy that adds latency and counts round trips, exactly.

Every chunk read from either side is released to the other side ``delay`` seconds
after it arrived (in order), so a request/response exchange costs ``2 * delay`` more
than it would directly: real added round-trip time on loopback, like ``tc netem``.

Round trips are counted by direction changes, not by timing: on each connection, an
*exchange* starts whenever the client sends bytes after the server last spoke (or
first). A PutObject that sends ``Expect: 100-continue`` and waits for the server's
interim ``100 Continue`` before its body is two exchanges (headers; then body); one
that sends headers and body together is one. New TCP connections are counted apart
(each costs a handshake round trip on top). The proxy also keeps the request heads
it forwarded, so a test can name what was sent (``Expect`` headers, say).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["DelayProxy", "Tally"]


@dataclass
class Tally:
    """What the proxy saw since the last :meth:`DelayProxy.reset`."""

    exchanges: int = 0
    connections: int = 0
    heads: list[bytes] = field(default_factory=list)

    @property
    def round_trips(self) -> int:
        """Exchanges plus one handshake per new connection."""
        return self.exchanges + self.connections

    def expect_headers(self) -> int:
        return sum(b"expect: 100-continue" in head.lower() for head in self.heads)


class DelayProxy:
    """``with DelayProxy("127.0.0.1", port, delay=0.01) as proxy: proxy.url``."""

    def __init__(self, host: str, port: int, *, delay: float = 0.0) -> None:
        self.upstream = (host, port)
        self.delay = delay
        self._lock = threading.Lock()
        self._tally = Tally()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = started.result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def reset(self) -> None:
        with self._lock:
            self._tally = Tally()

    def tally(self) -> Tally:
        with self._lock:
            return Tally(self._tally.exchanges, self._tally.connections, list(self._tally.heads))

    @contextlib.contextmanager
    def counting(self) -> Iterator[Tally]:
        """Reset, run the block, then fill the yielded tally with what was seen."""
        self.reset()
        result = Tally()
        yield result
        seen = self.tally()
        result.exchanges, result.connections, result.heads = (
            seen.exchanges,
            seen.connections,
            seen.heads,
        )

    # ------------------------------------------------------------- loop side

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        await _cancel_others()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        with self._lock:
            self._tally.connections += 1
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.close()
            return
        last = ["server"]  # who spoke last on this connection
        with contextlib.suppress(asyncio.CancelledError):  # closed by _stop: end quietly
            await asyncio.gather(
                self._pump(client_r, up_w, "client", last),
                self._pump(up_r, client_w, "server", last),
                return_exceptions=True,
            )

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        side: str,
        last: list[str],
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._release(queue, writer))
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                if side == "client":
                    with self._lock:
                        if last[0] == "server":
                            self._tally.exchanges += 1
                            self._tally.heads.append(chunk.split(b"\r\n\r\n", 1)[0])
                last[0] = side
                queue.put_nowait((time.monotonic() + self.delay, chunk))
        finally:
            queue.put_nowait((0.0, b""))
            with contextlib.suppress(Exception):
                await sender

    @staticmethod
    async def _release(
        queue: asyncio.Queue[tuple[float, bytes]], writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(chunk)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()


async def _cancel_others() -> None:
    """Cancel this loop's other tasks (open connections) so it can close cleanly."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
