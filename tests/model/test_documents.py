"""The document layer (``store.documents(Model)``) under the model checker.

Each example runs a few batches of document operations started together (asyncio tasks,
and threads running them on the blocking API's loop as the blocking twins do),
optionally with one fault armed on the first operation's object, some cancelled by a
timeout: create-only, expected-version and unconditional saves, each with or without an
idempotency key; unconditional, expected-version and expect-absent deletes; load,
load_versioned; and listings by key prefix (a listing is one read of "is it there?" per
key under the prefix). Keys are hierarchical (three segments) under two prefixes. The
history of every key is then checked by :mod:`model.history` as a compare-and-swap
register that also records the idempotency keys of its body, exactly as for sessions.

Faults: lost responses, dropped connections, 5xx and throttle bursts (where the backend
can inject them). Stalls are left to the session model: what a stalled document write
can do is what a stalled snapshot write can do (the same code), and the session model
checks it with its ghost writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from model import history
from model.backends import Backend, fs_backend, gcs_backend, memory_backend, s3_backend
from model.history import ANY, Expected, Op
from model.test_model import SOAK
from sessionstore import ConflictError, OutcomeUnknown
from sessionstore._loop import run_blocking

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from model.backends import FaultName
    from sessionstore.documents import Documents
    from support.gcs_server import GcsEmulator
    from support.s3_server import S3Emulator


class Note(BaseModel):
    """A document that names the write that made it."""

    tag: str
    body: list[float | str | None]


KEYS: tuple[tuple[str, ...], ...] = (
    ("docs", "a", "n1"),
    ("docs", "a", "n2"),
    ("docs", "b", "n1"),
)
PREFIXES: tuple[tuple[str, ...], ...] = (("docs",), ("docs", "a"), ("docs", "b"))
IDEMPOTENCY_KEYS = ("k0", "k1", "k2")
FAULTS: tuple[FaultName, ...] = ("lost_500", "drop", "refused_503", "throttle")


@dataclass(frozen=True)
class DocPlan:
    kind: str  # save, delete, load, load_versioned, list
    key: int
    expect: str  # any, none, version
    pick: int  # which observed version to expect
    idempotency_key: str | None
    cancel: float | None
    blocking: bool


doc_plans = st.builds(
    DocPlan,
    kind=st.sampled_from(["save", "save", "save", "delete", "load", "load_versioned", "list"]),
    key=st.integers(0, len(KEYS) - 1),
    expect=st.sampled_from(["any", "none", "version", "version"]),
    pick=st.integers(0, 3),
    idempotency_key=st.none() | st.sampled_from(IDEMPOTENCY_KEYS),
    cancel=st.one_of(st.none(), st.none(), st.none(), st.floats(0.0, 0.004)),
    blocking=st.booleans(),
)
batches = st.lists(
    st.tuples(st.lists(doc_plans, min_size=1, max_size=3), st.none() | st.sampled_from(FAULTS)),
    min_size=1,
    max_size=8,
)


def name_of(key: tuple[str, ...]) -> str:
    return "/".join(key)


class Run:
    """One example: a fresh store, its documents, and the history of what was done."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.store, _ = backend.new_store()
        self.docs: Documents[Note] = self.store.documents(Note)
        self.ops: list[Op] = []
        self.ids = itertools.count()
        self.tags = itertools.count()
        self.versions: dict[str, list[str]] = {name_of(k): [] for k in KEYS}
        self.faulted: str | None = None  # the object a fault is armed on in this batch

    def op(self, session: str, kind: str, **fields: Any) -> Op:
        op = Op(next(self.ids), "c", session, kind, time.monotonic(), **fields)  # type: ignore[arg-type]
        # GCS faults match every upload (the object is named in the query), not only the
        # first operation's: every write of a faulted batch may have met it.
        op.may_resolve = self.faulted is not None
        self.ops.append(op)
        return op

    def expected(self, plan: DocPlan, name: str) -> Expected:
        known = self.versions[name]
        if plan.expect == "any":
            return ANY
        if plan.expect == "none" or not known:
            return None
        return known[-1 - plan.pick % len(known)]

    async def call(self, plan: DocPlan, op: Op, make: Any) -> Any:
        """Run one call as the plan says: blocking twin on a thread, or a task (cancelled?)."""
        if plan.blocking:
            return await asyncio.to_thread(lambda: run_blocking(make()))
        if plan.cancel is None:
            return await make()
        try:
            return await asyncio.wait_for(make(), plan.cancel)
        except asyncio.TimeoutError:  # 3.10's own class
            op.note = f"cancelled after {plan.cancel * 1000:.1f} ms"
            op.bounded = self.backend.cancel_bounded
            raise

    async def one(self, plan: DocPlan) -> None:
        key = KEYS[plan.key]
        name = name_of(key)
        docs = self.docs
        if plan.kind == "list":
            await self.listing(plan)
            return
        if plan.kind in {"load", "load_versioned"}:
            op = self.op(name, plan.kind)
            try:
                if plan.kind == "load":
                    note = await self.call(plan, op, lambda: docs.load(key))
                    op.result = None if note is None else note.tag
                else:
                    got = await self.call(plan, op, lambda: docs.load_versioned(key))
                    op.result = None if got is None else (got.document.tag, got.version)
                op.outcome = "ok"
            except Exception as exc:
                op.outcome, op.note = "failed", op.note or type(exc).__name__
            op.completed = time.monotonic()
            return
        expected = self.expected(plan, name)
        kwargs: dict[str, Any] = {} if expected is ANY else {"expected_version": expected}
        make: Callable[[], Awaitable[object]]
        if plan.kind == "save":
            tag = f"t{next(self.tags)}"
            note = Note(tag=tag, body=[1.5, "é✓", None])
            ikey = plan.idempotency_key
            op = self.op(name, "save", tag=tag, expected=expected, idempotency_key=ikey)

            def make() -> Awaitable[object]:
                return docs.save(key, note, **kwargs, idempotency_key=ikey)
        else:
            op = self.op(name, "delete", expected=expected)

            def make() -> Awaitable[object]:
                return docs.delete(key, **kwargs)

        try:
            result = await self.call(plan, op, make)
        except asyncio.TimeoutError:
            op.outcome = "unknown"
        except ConflictError:
            op.outcome = "conflict"
        except OutcomeUnknown:
            op.outcome, op.raised_unknown = "unknown", True
        except Exception as exc:
            op.outcome, op.note = "failed", f"{type(exc).__name__}: {str(exc)[:80]}"
        else:
            op.outcome, op.result = "ok", result
            if isinstance(result, str):
                self.versions[name].append(result)
        op.completed = time.monotonic()

    async def listing(self, plan: DocPlan) -> None:
        prefix = PREFIXES[plan.key % len(PREFIXES)]
        invoked = time.monotonic()

        async def collect() -> list[tuple[str, ...]]:
            return [entry.key async for entry in self.docs.list(prefix)]

        try:
            if plan.blocking:
                listed = await asyncio.to_thread(lambda: run_blocking(collect()))
            else:
                listed = await collect()
        except Exception:
            return  # a failed listing says nothing
        completed = time.monotonic()
        for key in KEYS:
            if key[: len(prefix)] == prefix:
                op = self.op(name_of(key), "exists", result=key in listed, outcome="ok")
                op.invoked, op.completed = invoked, completed

    async def batch(self, plans: list[DocPlan], fault: FaultName | None) -> None:
        first = plans[0]
        if fault is not None and self.backend.arm is not None and first.kind in {"save", "delete"}:
            name = name_of(KEYS[first.key])
            method = "DELETE" if first.kind == "delete" else "PUT"
            self.backend.arm(fault, method, self.backend.key_of(self.store, name))
            self.faulted = name
        try:
            await asyncio.gather(*(self.one(plan) for plan in plans))
        finally:
            self.faulted = None
            if self.backend.clear is not None:
                self.backend.clear()

    def finish(self) -> None:
        """Quiescent final reads, then the checker."""
        for key in KEYS:
            op = self.op(name_of(key), "load_versioned")
            got = run_blocking(self.docs.load_versioned(key))
            op.result = None if got is None else (got.document.tag, got.version)
            op.outcome, op.completed = "ok", time.monotonic()
        violations = history.check_history(self.ops)
        assert not violations, f"{self.backend.name} documents: " + "\n\n".join(
            str(v) for v in violations
        )


def check(backend: Backend, plan: list[tuple[list[DocPlan], FaultName | None]]) -> None:
    run = Run(backend)

    async def scenario() -> None:
        for plans, fault in plan:
            await run.batch(plans, fault)

    try:
        asyncio.run(scenario())
        if backend.wait_stalled is not None:
            assert backend.wait_stalled(10.0), "a stalled request was never released"
        run.finish()
    finally:
        if backend.clear is not None:
            backend.clear()
        with contextlib.suppress(Exception):
            run.store.blocking.close()


#: Examples per backend in CI (each up to 8 batches of 1-3 operations).
BUDGET = {"memory": 100, "filesystem": 40, "s3-moto": 20, "gcs": 20}


def run_search(backend: Backend) -> None:
    @settings(
        max_examples=BUDGET[backend.name] * SOAK,
        deadline=None,
        database=None,
        print_blob=True,
        derandomize=SOAK == 1,  # CI replays one fixed search; a soak searches afresh
        suppress_health_check=list(HealthCheck),
    )
    @given(plan=batches)
    def search(plan: list[tuple[list[DocPlan], FaultName | None]]) -> None:
        check(backend, plan)

    search()


def test_documents_on_memory() -> None:
    run_search(memory_backend())


def test_documents_on_the_filesystem(tmp_path: Path) -> None:
    run_search(fs_backend(tmp_path))


def test_documents_on_s3(s3_server: S3Emulator, s3_bucket: str, aws_sandbox: None) -> None:
    run_search(s3_backend("s3-moto", s3_server, s3_server.endpoint_url, s3_bucket))


@pytest.mark.usefixtures("gcs_sandbox")
def test_documents_on_gcs(gcs_server: GcsEmulator, gcs_bucket: str) -> None:
    run_search(gcs_backend(gcs_server, gcs_bucket))
