"""The four stores, each with its bare baseline, behind one small interface.

Used by the size-scaling and peak-memory measurements: ``memory`` (no baseline),
``filesystem`` (bare durable write / bare read, see :mod:`benchmarks.filesystem`),
``s3`` and ``gcs`` (raw SDK, see :mod:`benchmarks.clouds`).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.clouds import open_cloud
from benchmarks.filesystem import bare_durable_write, bare_read
from sessionstore.filesystem import FsPersistence
from sessionstore.memory import MemoryPersistence

if TYPE_CHECKING:
    from collections.abc import Callable

    from benchmarks.serve import Endpoints
    from sessionstore.contract import SessionPersistence

__all__ = ["STORES", "Bench", "open_bench"]

STORES = ("memory", "filesystem", "s3", "gcs")


@dataclass
class Bench:
    """A store, and (except for memory) bare calls moving the same bytes."""

    name: str
    store: SessionPersistence
    raw_put: Callable[[str, bytes], object] | None = None
    raw_get: Callable[[str], object] | None = None
    """Reads the object the *store* wrote for a session id."""
    cleanup: list[Callable[[], object]] = field(default_factory=list)

    def close(self) -> None:
        asyncio.run(self.store.aclose())
        for step in self.cleanup:
            step()


def open_bench(name: str, endpoints: Endpoints | None) -> Bench:
    if name == "memory":
        return Bench(name, MemoryPersistence())
    if name == "filesystem":
        directory = Path(tempfile.mkdtemp(prefix="sessionstore-bench-scaling-"))
        bench = Bench(
            name,
            FsPersistence(directory),
            raw_put=lambda session_id, body: bare_durable_write(
                directory, f"raw-{session_id}", body
            ),
            raw_get=lambda session_id: bare_read(directory / f"{session_id}.json"),
        )
        bench.cleanup.append(lambda: shutil.rmtree(directory, ignore_errors=True))
        return bench
    if endpoints is None:
        raise ValueError(f"the {name} store needs the emulators")
    cloud = open_cloud(name, endpoints, f"scaling-{uuid.uuid4().hex[:8]}")
    bench = Bench(
        name,
        cloud.store,
        raw_put=lambda session_id, body: cloud.raw.put(
            cloud.object_name(f"raw-{session_id}"), body
        ),
        raw_get=lambda session_id: cloud.raw.get(cloud.object_name(session_id)),
    )
    bench.cleanup.append(cloud.raw.close)
    return bench
