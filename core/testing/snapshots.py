"""Snapshots for tests: deterministic content, with a self-check for torn reads."""

from __future__ import annotations

import hashlib

from sessionstore.model import SessionSnapshot

__all__ = ["is_self_consistent", "make_snapshot"]


def make_snapshot(turn: int = 0, *, writer: str = "w", padding: int = 0) -> SessionSnapshot:
    """A snapshot whose content is a function of (turn, writer, padding).

    ``state["digest"]`` hashes the rest, so a reader can tell a whole snapshot
    from a torn or mixed one with :func:`is_self_consistent`.
    """
    unit = f"{writer}:{turn}:"
    blob = (unit * (padding // len(unit) + 1))[:padding]
    return SessionSnapshot(
        state={
            "writer": writer,
            "turn": turn,
            "blob": blob,
            "nested": {"list": [1, 2.5, True, None, "é✓"], "empty": {}},
            "digest": _digest(writer, turn, blob),
        },
        phase=f"phase-{turn % 3}",
        turn_count=turn,
        transcript_summary=f"User: turn {turn}\nAssistant: ok from {writer}",
        resume_handle=f"handle-{writer}-{turn}" if turn % 2 else None,
        saved_at="2026-03-07T00:00:00Z",
    )


def is_self_consistent(snapshot: SessionSnapshot) -> bool:
    state = snapshot.state
    writer, turn, blob = state.get("writer"), state.get("turn"), state.get("blob")
    if not (isinstance(writer, str) and isinstance(turn, int) and isinstance(blob, str)):
        return False
    return state.get("digest") == _digest(writer, turn, blob) and snapshot.turn_count == turn


def _digest(writer: str, turn: int, blob: str) -> str:
    return hashlib.sha256(f"{writer}|{turn}|{blob}".encode()).hexdigest()
