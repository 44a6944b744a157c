"""Shared pieces: run settings, statistics, and snapshots of a chosen encoded size."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sessionstore import codec
from sessionstore.model import SessionSnapshot

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pydantic import JsonValue

__all__ = [
    "KIB",
    "MIB",
    "Settings",
    "encoded",
    "human_size",
    "make_snapshot",
    "median",
    "percentile",
    "timed",
]

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Settings:
    """How much work each measurement does. ``quick`` keeps every section to seconds."""

    quick: bool
    latency_iterations: int  # per block, at 64 KB (other sizes: half)
    latency_blocks: int
    latency_sizes: tuple[int, ...]
    fs_iterations: int
    scaling_sizes: tuple[int, ...]
    coldstart_runs: int
    concurrency_sessions: int
    concurrency_rounds: int
    concurrency_size: int

    @classmethod
    def full(cls) -> Settings:
        return cls(
            quick=False,
            latency_iterations=200,
            latency_blocks=4,
            latency_sizes=(KIB, 64 * KIB, MIB),
            fs_iterations=200,
            scaling_sizes=(KIB, 16 * KIB, 256 * KIB, MIB, 4 * MIB, 16 * MIB),
            coldstart_runs=40,
            concurrency_sessions=64,
            concurrency_rounds=15,
            concurrency_size=16 * KIB,
        )

    @classmethod
    def quick_run(cls) -> Settings:
        return cls(
            quick=True,
            latency_iterations=12,
            latency_blocks=1,
            latency_sizes=(KIB, 64 * KIB),
            fs_iterations=10,
            scaling_sizes=(KIB, 256 * KIB),
            coldstart_runs=3,
            concurrency_sessions=64,
            concurrency_rounds=2,
            concurrency_size=16 * KIB,
        )


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between order statistics."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` took (``perf_counter``)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def human_size(size: int) -> str:
    if size >= MIB and size % MIB == 0:
        return f"{size // MIB} MB"
    if size >= KIB and size % KIB == 0:
        return f"{size // KIB} KB"
    return f"{size} B"


def encoded(snapshot: SessionSnapshot) -> bytes:
    """The body sessionstore stores for ``snapshot`` (a fresh write id, as every save)."""
    return codec.encode(snapshot, codec.StoreMeta(write_id=codec.new_write_id()))


_WORDS = (
    "the",
    "caller",
    "asked",
    "about",
    "the",
    "refund",
    "for",
    "order",
    "and",
    "the",
    "agent",
    "confirmed",
    "the",
    "address",
    "then",
    "checked",
    "the",
    "delivery",
    "window",
    "before",
    "offering",
    "a",
    "callback",
    "tomorrow",
    "morning",
)


def _message(index: int) -> dict[str, JsonValue]:
    words = [_WORDS[(index * 7 + k * 3) % len(_WORDS)] for k in range(120)]
    return {
        "role": "user" if index % 2 else "assistant",
        "turn": index,
        "content": " ".join(words),
        "tool_calls": [] if index % 3 else [{"name": "lookup_order", "args": {"id": index}}],
    }


def make_snapshot(size: int) -> SessionSnapshot:
    """A realistic agent snapshot whose encoded body is ``size`` bytes (exactly, from 1 KB).

    The bulk is a chat transcript in ``state["messages"]`` (dicts of ~750 bytes each:
    role, turn, text, tool calls), topped up to the exact size in
    ``transcript_summary``. Encoded size includes the ``_sessionstore`` metadata.
    """
    base: dict[str, JsonValue] = {
        "caller": {"name": "Alice", "locale": "en-GB", "tier": "gold"},
        "order_id": "A-10023",
        "messages": [],
    }
    fixed: dict[str, Any] = {
        "phase": "resolution",
        "turn_count": 0,
        "resume_handle": "handle-" + "x" * 40,
        "saved_at": "2026-11-25T00:00:00.000Z",
    }
    empty = len(encoded(SessionSnapshot(state=base, transcript_summary="", **fixed)))
    if size < empty:
        raise ValueError(f"the smallest snapshot of this shape is {empty} bytes")
    per_message = len(encoded(SessionSnapshot(state={**base, "messages": [_message(0)]}, **fixed)))
    per_message -= empty
    count = max(0, (size - empty) // (per_message + 1) - 1)
    state: dict[str, JsonValue] = {**base, "messages": [_message(i) for i in range(count)]}
    fixed["turn_count"] = count
    without_summary = len(encoded(SessionSnapshot(state=state, transcript_summary="", **fixed)))
    summary = ("Summary: " + " ".join(_WORDS) + ". ") * (size // 100 + 1)
    return SessionSnapshot(
        state=state, transcript_summary=summary[: size - without_summary], **fixed
    )
