"""Gemini Live sessions that survive their process (extra ``sessionstore[genai]``).

::

    from google import genai
    from sessionstore import open_store
    from sessionstore.adapters.genai import LiveSession

    async with LiveSession(genai.Client(), open_store("gs://bucket/live"), "call-42",
                           model="gemini-live-2.5-flash-preview", owner="europe-west1/7") as live:
        print(live.outcome)            # ResumeOutcome.RESUMED, NEW, NO_HANDLE, EXPIRED, REFUSED
        await live.send_client_content(turns=..., turn_complete=True)
        async for message in live.receive():   # one model turn, across reconnects
            ...
        live.update(turn_count=live.snapshot.turn_count + 1, transcript_summary="...")

Every change (a new resumable handle, the application's fields) goes to a
:class:`sessionstore.writer.SnapshotWriter`: one save in flight, newest first,
at most one write per ``min_interval`` seconds. The snapshot keeps the reference
design's shape; the handle's arrival time lives in ``state[LIVE_STATE_KEY]``.
"""

from __future__ import annotations

from sessionstore.errors import MissingDependency

try:
    import google.genai  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MissingDependency(
        "sessionstore.adapters.genai needs google-genai: pip install 'sessionstore[genai]'"
    ) from exc

from sessionstore.adapters.genai._session import (
    DEFAULT_HANDLE_TTL,
    LIVE_STATE_KEY,
    LiveSession,
    ResumeOutcome,
    close_on_signals,
    default_seed,
    handle_received_at,
)

__all__ = [
    "DEFAULT_HANDLE_TTL",
    "LIVE_STATE_KEY",
    "LiveSession",
    "ResumeOutcome",
    "close_on_signals",
    "default_seed",
    "handle_received_at",
]
