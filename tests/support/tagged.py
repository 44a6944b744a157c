"""Snapshots that name the write that made them (``state["tag"]``), for the model checker."""

from __future__ import annotations

from sessionstore.model import SessionSnapshot

__all__ = ["CORRUPT", "seed_style_body", "tag_of", "tagged"]

#: What the model records when a read met a body the library could not decode.
CORRUPT = "<corrupt>"


def tagged(tag: str, turn: int = 1) -> SessionSnapshot:
    return SessionSnapshot(
        state={"tag": tag, "nested": {"list": [1, 2.5, True, None, "é✓"]}},
        phase=f"phase-{turn % 3}",
        turn_count=turn,
        transcript_summary=f"User: {tag}\nAssistant: ok",
        resume_handle=f"handle-{tag}" if turn % 2 else None,
        saved_at="2026-03-07T00:00:00Z",
    )


def tag_of(snapshot: SessionSnapshot | None) -> str | None:
    if snapshot is None:
        return None
    tag = snapshot.state.get("tag")
    return tag if isinstance(tag, str) else CORRUPT


def seed_style_body(tag: str) -> bytes:
    """A body as the reference design writes it: pretty-printed, no library metadata."""
    return (
        "{\n"
        '  "state": {\n'
        f'    "tag": "{tag}"\n'
        "  },\n"
        '  "phase": "greeting",\n'
        '  "turn_count": 5,\n'
        '  "transcript_summary": "User: Hello\\nAssistant: Hi!",\n'
        '  "resume_handle": "handle-123",\n'
        '  "saved_at": "2026-03-07T00:00:00Z"\n'
        "}"
    ).encode()
