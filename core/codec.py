"""The stored body: the seed's JSON plus at most one extra top-level field.

A body written here is ``{"_sessionstore": {...meta...}, <the seed's six fields>}``.
The metadata comes first so a store can read the write id from the first bytes
without parsing a large body. The seed's serde ignores the unknown field, and a
body without it (written by the seed) loads with ``meta=None``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticSerializationError

from sessionstore.errors import CorruptSnapshot
from sessionstore.model import REQUIRED_BODY_FIELDS, SessionSnapshot

__all__ = [
    "META_FIELD",
    "Decoded",
    "StoreMeta",
    "decode",
    "encode",
    "new_write_id",
    "version_of",
]

META_FIELD = "_sessionstore"
FORMAT = 1


class StoreMeta(BaseModel):
    """Library metadata riding in the body's ``_sessionstore`` field."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")

    v: int
    """Body format version."""
    write_id: str
    """Unique per write: identifies the write that produced this body."""
    owner: str | None = None
    """Lease holder (ownership), or None when nobody ever acquired the session."""
    epoch: int = 0
    """Fencing epoch, bumped by every acquire."""
    held: bool = False
    """True while ``owner`` holds the lease; a release clears it."""
    written_at: float | None = None
    """Writer's clock (Unix seconds) at the time of the write; used for ``stale_after`` only."""


class _StoredBody(SessionSnapshot):
    meta: StoreMeta | None = Field(default=None, alias="_sessionstore")  # == META_FIELD


@dataclass(frozen=True)
class Decoded:
    snapshot: SessionSnapshot
    meta: StoreMeta | None


def new_write_id() -> str:
    return secrets.token_hex(16)


_META_ADAPTER_PREFIX = b'{"' + META_FIELD.encode() + b'":'
# What encode() writes first, so version_of() can read the write id without a parse.
_WRITE_ID_PREFIX = re.compile(
    rb'\{"'
    + META_FIELD.encode()
    + rb'":\{"v":'
    + str(FORMAT).encode()
    + rb',"write_id":"([0-9a-f]{32})"'
)
_SNAPSHOT_FIELDS = tuple(SessionSnapshot.model_fields)


def encode(snapshot: SessionSnapshot, meta: StoreMeta) -> bytes:
    """Serialise ``snapshot`` with ``meta`` first. Raises TypeError if it is not JSON."""
    if not isinstance(snapshot, SessionSnapshot):
        raise TypeError(f"expected a SessionSnapshot, got {type(snapshot).__name__}")
    try:
        body = snapshot.__pydantic_serializer__.to_json(snapshot)
        head = meta.__pydantic_serializer__.to_json(meta, exclude_defaults=True)
    except PydanticSerializationError as exc:
        raise TypeError(f"snapshot is not JSON-serialisable: {exc}") from exc
    # body is a JSON object with at least the required fields, so it starts with '{"'.
    return _META_ADAPTER_PREFIX + head + b"," + body[1:]


def decode(session_id: str, body: bytes) -> Decoded:
    """Parse a stored body, or raise :class:`CorruptSnapshot` naming the session."""
    try:
        stored = _StoredBody.model_validate_json(body)
    except ValidationError as exc:
        raise CorruptSnapshot(session_id, _summarise(exc)) from exc
    missing = REQUIRED_BODY_FIELDS - stored.model_fields_set
    if missing:
        raise CorruptSnapshot(session_id, f"missing field(s) {sorted(missing)}")
    fields_set = stored.model_fields_set - {"meta"}
    snapshot = SessionSnapshot.model_construct(
        _fields_set=fields_set, **{name: getattr(stored, name) for name in _SNAPSHOT_FIELDS}
    )
    return Decoded(snapshot, stored.meta)


def version_of(body: bytes) -> str:
    """The version a local store reports for ``body``: its write id, else a content hash.

    Bodies written by another program (the seed) carry no write id; their
    version is derived from their content.
    """
    match = _WRITE_ID_PREFIX.match(body)
    if match:
        return match.group(1).decode()
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _summarise(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"
