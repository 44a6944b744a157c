"""The session snapshot: the reference design's ``SessionSnapshot``, field for field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = ["MAX_TURN_COUNT", "SessionSnapshot", "VersionedSnapshot", "utc_now"]

MAX_TURN_COUNT = 2**32 - 1  # the seed's u32


def utc_now() -> str:
    """Now, in UTC, as ISO 8601 with a ``Z`` suffix (the form the seed writes)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SessionSnapshot(BaseModel):
    """Client-side state of a live agent session, as stored.

    The JSON body is the seed's shape (same field names), so files written by the
    seed's ``FsPersistence`` load unchanged and bodies written here load in the seed.
    """

    model_config = ConfigDict(strict=True, validate_assignment=True, extra="ignore")

    state: dict[str, JsonValue] = Field(default_factory=dict)
    """All state key-value pairs (any JSON value)."""
    phase: str
    """Current phase name."""
    turn_count: int = Field(default=0, ge=0, le=MAX_TURN_COUNT)
    """Turn count at time of snapshot (0 to 2^32-1)."""
    transcript_summary: str = ""
    """Human-readable summary of the recent transcript."""
    resume_handle: str | None = None
    """Resume handle from the model server, if any."""
    saved_at: str = Field(default_factory=utc_now)
    """ISO 8601 timestamp; defaults to now in UTC. Never interpreted by the library."""


# Fields the seed requires in a stored body (serde treats a missing Option as None).
REQUIRED_BODY_FIELDS = frozenset({"state", "phase", "turn_count", "transcript_summary", "saved_at"})


@dataclass(frozen=True)
class VersionedSnapshot:
    """A snapshot together with the opaque version it is stored under."""

    snapshot: SessionSnapshot
    version: str
