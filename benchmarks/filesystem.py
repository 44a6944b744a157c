"""The filesystem store's durable save and its load, against the bare system calls.

Interleaved per iteration (alternating which goes first), same bytes, same directory:

* durable save: ``await FsPersistence.save(id, snapshot)`` (encode, stripe ``flock``,
  unique temp file, write, ``fsync``, ``rename``, directory ``fsync``, on a worker
  thread) against the bare minimum for the same durability on the loop's thread:
  ``open(O_EXCL)`` + ``write`` + ``fsync`` + ``close`` + ``rename`` + ``open(dir)`` +
  ``fsync(dir)`` of the already-encoded body;
* conditional save: the same with ``expected_version`` (sessionstore also reads the
  current file under the lock to compare versions) against the same bare sequence;
* load: ``await FsPersistence.load(id)`` (read, decode, validate) against a bare
  ``open`` + ``read`` of the file.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import encoded, make_snapshot, median, percentile
from benchmarks.timing import codec_time, interleaved
from sessionstore.filesystem import FsPersistence

if TYPE_CHECKING:
    from benchmarks.common import Settings

__all__ = ["FsRow", "bare_durable_write", "run"]

OPERATIONS = ("durable save", "durable save, conditional", "load")


@dataclass(frozen=True)
class FsRow:
    operation: str
    size: int
    iterations: int
    lib_p50: float
    lib_p99: float
    bare_p50: float
    bare_p99: float
    codec_p50: float

    @property
    def ratio_p50(self) -> float:
        return self.lib_p50 / self.bare_p50

    @property
    def ratio_p99(self) -> float:
        return self.lib_p99 / self.bare_p99

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio_p50": self.ratio_p50, "ratio_p99": self.ratio_p99}


def bare_durable_write(directory: Path, name: str, body: bytes) -> None:
    """The least a crash-safe replace of ``name`` takes: temp, fsync, rename, dir fsync."""
    tmp = directory / f".{name}.{os.urandom(6).hex()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, directory / name)
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def bare_read(path: Path) -> bytes:
    with open(path, "rb") as file:
        return file.read()


async def _series(
    store: FsPersistence, directory: Path, operation: str, size: int, iterations: int
) -> FsRow:
    snapshot = make_snapshot(size)
    body = encoded(snapshot)
    session_id = f"fs-{size}"
    version = {"lib": await store.save(session_id, snapshot)}
    bare_name = f"bare-{size}.json"
    bare_durable_write(directory, bare_name, body)

    async def lib_op() -> None:
        if operation == "durable save":
            await store.save(session_id, snapshot)
        elif operation == "durable save, conditional":
            version["lib"] = await store.save(session_id, snapshot, expected_version=version["lib"])
        else:
            await store.load(session_id)

    def bare_op() -> None:
        if operation == "load":
            bare_read(directory / f"{session_id}.json")
        else:
            bare_durable_write(directory, bare_name, body)

    lib_times, bare_times = await interleaved(lib_op, bare_op, iterations)
    return FsRow(
        operation=operation,
        size=size,
        iterations=iterations,
        lib_p50=median(lib_times),
        lib_p99=percentile(lib_times, 99),
        bare_p50=median(bare_times),
        bare_p99=percentile(bare_times, 99),
        codec_p50=codec_time(operation, snapshot, body, 30),
    )


def filesystem_type(directory: Path) -> str:
    """The filesystem holding ``directory``, from /proc/mounts (longest mount prefix)."""
    best = ("", "unknown")
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "unknown"
    resolved = str(directory.resolve())
    for line in mounts:
        fields = line.split()
        if len(fields) >= 3 and resolved.startswith(fields[1]) and len(fields[1]) > len(best[0]):
            best = (fields[1], fields[2])
    return best[1]


def run(settings: Settings) -> tuple[list[FsRow], str]:
    """Rows for every operation and size, and the filesystem they ran on."""
    directory = Path(tempfile.mkdtemp(prefix="sessionstore-bench-fs-"))
    try:
        store = FsPersistence(directory)

        async def all_series() -> list[FsRow]:
            rows = []
            for size in settings.latency_sizes:
                for operation in OPERATIONS:
                    rows.append(
                        await _series(store, directory, operation, size, settings.fs_iterations)
                    )
            await store.aclose()
            return rows

        return asyncio.run(all_series()), filesystem_type(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
