"""One operation in a fresh interpreter, measured by resident-set high-water mark.

``python -m benchmarks.rss_probe STORE OPERATION BODY_FILE ENDPOINTS_JSON`` prints one
JSON line: ``rss_peak``, the resident high-water mark the operation added divided by
the body's size. ``BODY_FILE`` holds an encoded snapshot:

* ``save``: the snapshot is decoded from it first (and stays alive, as the caller's
  would), then one ``save`` is measured;
* ``load``: the body is stored as-is through the backend primitive and dropped, so the
  heap holds no snapshot objects whose freed memory the load could reuse unseen; then
  one ``load`` is measured (it reads the body and builds the snapshot: both count);
* ``STORE == "to_json"``: ``to_json`` of the snapshot alone, also under tracemalloc,
  to show what tracemalloc cannot see (``tracemalloc_peak`` in the answer).

Linux only: the high-water mark is reset by writing ``5`` to ``/proc/self/clear_refs``
and read from ``VmHWM``. Run with ``MALLOC_MMAP_THRESHOLD_`` set, so that glibc maps
and unmaps large blocks instead of reusing freed heap unseen (:mod:`benchmarks.scaling`
does).
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from benchmarks.serve import Endpoints

__all__ = ["main"]


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def rss_added(action: Callable[[], Any]) -> int:
    """Bytes of resident memory ``action()`` needed at its peak, beyond what was resident."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # high-water mark := current RSS
    before = _status("VmRSS")
    result = action()
    peak = _status("VmHWM")
    del result
    return peak - before


def _to_json(body_file: Path) -> dict[str, float]:
    from sessionstore import codec

    body = body_file.read_bytes()
    snapshot = codec.decode("probe", body).snapshot
    assert snapshot is not None
    size = len(body)
    del body
    serializer = snapshot.__pydantic_serializer__
    serializer.to_json(snapshot.model_copy(update={"state": {}, "transcript_summary": ""}))
    rss = rss_added(lambda: serializer.to_json(snapshot))
    gc.collect()
    tracemalloc.start()
    serializer.to_json(snapshot)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"rss_peak": rss / size, "tracemalloc_peak": peak / size}


def _store_operation(
    store_name: str, operation: str, body_file: Path, endpoints: Endpoints
) -> dict[str, float]:
    from benchmarks.common import make_snapshot
    from benchmarks.stores import open_bench
    from sessionstore import codec
    from sessionstore.contract import ANY_VERSION

    body = body_file.read_bytes()
    size = len(body)
    bench = open_bench(store_name, endpoints)
    store = bench.store
    loop = asyncio.new_event_loop()
    try:
        small = make_snapshot(1024)
        loop.run_until_complete(store.save("warm", small))  # clients, threads: not measured
        loop.run_until_complete(store.load("warm"))
        if operation == "save":
            snapshot = codec.decode("probe", body).snapshot
            assert snapshot is not None
            del body
            added = rss_added(lambda: loop.run_until_complete(store.save("probe", snapshot)))
        else:
            loop.run_until_complete(store._write("probe", body, ANY_VERSION))
            del body
            added = rss_added(lambda: loop.run_until_complete(store.load("probe")))
    finally:
        loop.close()
        bench.close()
    return {"rss_peak": added / size}


def main(argv: list[str]) -> None:
    from benchmarks.sandbox import guard

    guard()
    from benchmarks.serve import Endpoints

    store_name, operation, body_file, endpoints = argv
    if store_name == "to_json":
        answer = _to_json(Path(body_file))
    else:
        where = json.loads(endpoints)
        place = Endpoints(where["s3"], where["gcs"])
        answer = _store_operation(store_name, operation, Path(body_file), place)
    print(json.dumps(answer))


if __name__ == "__main__":
    main(sys.argv[1:])
