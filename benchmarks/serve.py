"""The S3 and GCS emulators of the test suite, hosted in a child process.

The benchmark process is the client only: the emulators (moto's WSGI app behind the
serialising, counting middleware of ``support.s3_server``; fake-gcs-server behind the
counting proxy of ``support.gcs_server``) run in a child, so their CPU work does not
compete for the client's GIL and their allocations are not seen by the client's
``tracemalloc``. Requests are still counted at the servers: the parent asks the child
for the request logs over a line protocol on the child's stdin/stdout.

``python -m benchmarks.serve`` is the child; :class:`EmulatorHost` is the parent's handle.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from benchmarks.sandbox import REPO, guard, loopback_environment, use_support

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

__all__ = ["BUCKET", "EmulatorHost", "Endpoints", "Logged"]

BUCKET = "sessionstore-bench"


@dataclass(frozen=True)
class Logged:
    """One request as a server logged it. ``target`` is the S3 key or the GCS path."""

    method: str
    target: str
    query: str
    status: int | None


@dataclass(frozen=True)
class Endpoints:
    """Where the emulators listen (loopback URLs)."""

    s3: str
    gcs: str


class EmulatorHost:
    """Start the child, learn its endpoints, read and reset its request logs."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self.endpoints = Endpoints("", "")

    def __enter__(self) -> Self:
        self._stderr = tempfile.TemporaryFile("w+")  # closed in __exit__
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.serve"],
            cwd=REPO,
            env=loopback_environment(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        try:
            ready = self._answer()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.endpoints = Endpoints(str(ready["s3"]), str(ready["gcs"]))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                try:
                    assert process.stdin is not None
                    process.stdin.write("quit\n")
                    process.stdin.flush()
                    process.wait(timeout=20)
                except (OSError, subprocess.TimeoutExpired):
                    process.kill()
                    process.wait(timeout=10)
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def reset(self) -> None:
        """Forget every request logged so far, on both servers."""
        self._send("reset")
        self._answer()

    def requests(self, backend: str) -> list[Logged]:
        """Requests the ``"s3"`` or ``"gcs"`` server saw since the last :meth:`reset`."""
        self._send("log")
        entries: list[dict[str, Any]] = self._answer()[backend]
        return [Logged(e["method"], e["target"], e["query"], e["status"]) for e in entries]

    def _send(self, command: str) -> None:
        assert self._process is not None
        assert self._process.stdin is not None
        self._process.stdin.write(command + "\n")
        self._process.stdin.flush()

    def _answer(self) -> dict[str, Any]:
        assert self._process is not None
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator host died:\n{self._stderr_tail()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-4000:]


# ------------------------------------------------------------------ the child


def _serve() -> None:  # pragma: no cover - runs in the child process
    guard()
    use_support()
    # The protocol owns the real stdout; anything printed by libraries goes to stderr.
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    from support.gcs_server import GcsEmulator
    from support.s3_server import S3Emulator

    with S3Emulator() as s3, GcsEmulator() as gcs:
        s3.create_bucket(BUCKET)
        gcs.create_bucket(BUCKET)

        def say(answer: dict[str, Any]) -> None:
            protocol.write(json.dumps(answer) + "\n")
            protocol.flush()

        say({"s3": s3.endpoint_url, "gcs": gcs.url})
        for line in sys.stdin:
            command = line.strip()
            if command == "quit":
                break
            if command == "reset":
                s3.reset_log()
                gcs.reset_log()
                say({})
            elif command == "log":
                s3_log = [
                    {"method": r.method, "target": r.key, "query": r.query, "status": r.status}
                    for r in s3.requests()
                ]
                gcs_log = [
                    {
                        "method": r.method,
                        "target": r.path,
                        "query": "&".join(f"{k}={v}" for k, v in sorted(r.query.items())),
                        "status": r.status,
                    }
                    for r in gcs.requests
                ]
                say({"s3": s3_log, "gcs": gcs_log})
            else:
                say({"error": f"unknown command {command!r}"})


if __name__ == "__main__":  # pragma: no cover
    _serve()
