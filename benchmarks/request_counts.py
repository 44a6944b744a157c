"""Requests per operation, counted at the S3 and GCS emulators (never by the client).

Every operation runs on a store whose client is built lazily, so the first row is
the first save on a freshly opened store (client construction included). The counts
are deterministic: :data:`EXPECTED` is what the library promises, and the quick
test asserts the measured counts equal it exactly.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from benchmarks.clouds import BACKENDS, open_cloud
from benchmarks.common import KIB, encoded, make_snapshot
from sessionstore.errors import ConflictError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from benchmarks.clouds import Cloud
    from benchmarks.serve import EmulatorHost

__all__ = ["EXPECTED", "REFERENCE", "OpCount", "run"]

#: Requests each operation must take when nothing fails (the targets).
EXPECTED: dict[str, int] = {
    "save, first operation of a new store": 1,
    "save, unconditional": 1,
    "save, create-only (expected_version=None)": 1,
    "save, conditional (expected_version=v)": 1,
    "save, conditional, stale version (ConflictError)": 1,
    "load, present": 1,
    "load, absent": 1,
    "delete, unconditional": 1,
    "delete, conditional": 1,
    "update, existing session": 2,
    "update, new session": 2,
    "acquire, existing session": 2,
    "acquire, new session (writes a claim)": 2,
    "save, keyed (idempotency_key), new key": 2,
    "save, keyed (idempotency_key), key already applied": 1,
    "update, keyed, key already applied": 1,
    "lease.save": 1,
    "lease.release": 1,
    "list_sessions, one page": 1,
    "raw SDK put (reference)": 1,
    "raw SDK get (reference)": 1,
}
#: Measured for reference only (no target): what the raw SDK costs on first use.
REFERENCE = ("raw SDK, first put of a new client (incl. background requests)",)


@dataclass(frozen=True)
class OpCount:
    backend: str
    operation: str
    requests: int
    expected: int | None  # None: a reference measurement, no target
    detail: str  # "PUT 200, GET 404", as the server saw them

    @property
    def met(self) -> bool:
        return self.expected is None or self.requests == self.expected

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


async def _measure(cloud: Cloud) -> list[OpCount]:
    store = cloud.store
    snap = make_snapshot(4 * KIB)
    rows: list[OpCount] = []

    async def count(
        operation: str, action: Callable[[], Awaitable[object]], *, settle: float = 0.0
    ) -> None:
        cloud.reset_log()
        await action()
        await asyncio.sleep(settle)  # background requests (none expected) would land by then
        seen = cloud.requests()
        detail = ", ".join(f"{r.method} {r.status}" for r in seen)
        expected = EXPECTED.get(operation)
        rows.append(OpCount(cloud.name, operation, len(seen), expected, detail))

    async def stale_save() -> None:
        try:
            await store.save("a", snap, expected_version=stale)
        except ConflictError:
            return
        raise AssertionError("a save on a stale version succeeded")

    await count("save, first operation of a new store", lambda: store.save("a", snap), settle=0.5)
    stale = (await store.load_versioned("a")).version  # type: ignore[union-attr]
    await count("save, unconditional", lambda: store.save("a", snap))
    await count(
        "save, create-only (expected_version=None)",
        lambda: store.save("b", snap, expected_version=None),
    )
    current = (await store.load_versioned("a")).version  # type: ignore[union-attr]
    await count(
        "save, conditional (expected_version=v)",
        lambda: store.save("a", snap, expected_version=current),
    )
    await count("save, conditional, stale version (ConflictError)", stale_save)
    await count("load, present", lambda: store.load("a"))
    await count("load, absent", lambda: store.load("nobody"))
    await count("delete, unconditional", lambda: store.delete("b"))
    version_c = await store.save("c", snap)
    await count("delete, conditional", lambda: store.delete("c", expected_version=version_c))
    await count("update, existing session", lambda: store.update("a", _bump))
    await count("update, new session", lambda: store.update("d", _bump))
    leases = []

    async def take(session_id: str) -> None:
        leases.append(await store.acquire(session_id, "bench-owner"))

    await count("acquire, existing session", lambda: take("a"))
    await count("lease.save", lambda: leases[0].save(snap))
    await count("lease.release", leases[0].release)
    await count("acquire, new session (writes a claim)", lambda: take("e"))
    await count(
        "save, keyed (idempotency_key), new key",
        lambda: store.save("d", snap, idempotency_key="turn-1"),
    )
    await count(
        "save, keyed (idempotency_key), key already applied",
        lambda: store.save("d", snap, idempotency_key="turn-1"),
    )
    await count(
        "update, keyed, key already applied",
        lambda: store.update("d", _bump, idempotency_key="turn-1"),
    )

    async def listing() -> None:
        # "e" is a claim (acquired, never saved): listed, loads as None.
        assert sorted([i async for i in store.list_sessions()]) == ["a", "d", "e"]

    await count("list_sessions, one page", listing)

    body = encoded(snap)

    raw_first = REFERENCE[0]
    await count(raw_first, lambda: _sync(cloud.raw.put, cloud.object_name("raw"), body), settle=0.5)
    await count(
        "raw SDK put (reference)", lambda: _sync(cloud.raw.put, cloud.object_name("raw"), body)
    )
    await count("raw SDK get (reference)", lambda: _sync(cloud.raw.get, cloud.object_name("raw")))
    return rows


async def _sync(fn: Callable[..., object], *args: object) -> object:
    # On a thread of its own: the obstore reference runs its own event loop.
    return await asyncio.to_thread(fn, *args)


def _bump(current: Any) -> Any:
    snap = current if current is not None else make_snapshot(KIB)
    return snap.model_copy(update={"turn_count": snap.turn_count + 1})


def run(host: EmulatorHost) -> list[OpCount]:
    """Count every operation on both emulators."""
    rows: list[OpCount] = []
    for name in BACKENDS:
        cloud = open_cloud(name, host.endpoints, f"counts-{uuid.uuid4().hex[:8]}", host=host)
        try:
            rows += asyncio.run(_measure(cloud))
        finally:
            cloud.close()
    return rows
