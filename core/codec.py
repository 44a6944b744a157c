"""The stored body: the seed's JSON plus at most one extra top-level field.

A body written here is ``{"_sessionstore": {...meta...}, <the seed's six fields>}``.
The metadata comes first, so the write id and lease fields are read from the first
bytes without a second parse of a large body, and the snapshot is validated by the
one pydantic model. The seed's serde ignores the unknown field; a body without it
(written by the seed) decodes with ``meta=None``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from sessionstore.errors import CorruptSnapshot
from sessionstore.model import REQUIRED_BODY_FIELDS, SessionSnapshot

__all__ = [
    "FORMAT",
    "META_FIELD",
    "Decoded",
    "StoreMeta",
    "decode",
    "encode",
    "new_write_id",
    "version_of",
    "write_id_of",
]

META_FIELD = "_sessionstore"
FORMAT = 1
#: Longest metadata object read back; lease owners are capped so ours always fit.
MAX_META_BYTES = 2048

_META_PREFIX = b'{"' + META_FIELD.encode() + b'":'
# What encode() writes first, so version_of() can read the write id without a parse.
_WRITE_ID_PREFIX = re.compile(re.escape(_META_PREFIX) + rb'\{"v":1,"write_id":"([0-9a-f]{32})"')
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class StoreMeta:
    """Library metadata riding in the body's ``_sessionstore`` field."""

    write_id: str
    """Unique per write: identifies the write that produced this body."""
    owner: str | None = None
    """Lease holder, or None when the session was never acquired (or was overwritten)."""
    epoch: int = 0
    """Fencing epoch, bumped by every acquire."""
    held: bool = False
    """True while ``owner`` holds the lease; a release clears it."""
    written_at: float | None = None
    """Writer's clock (Unix seconds) at the write; only ``stale_after`` reads it."""

    def to_json(self) -> bytes:
        fields: dict[str, object] = {"v": FORMAT, "write_id": self.write_id}
        if self.owner is not None:
            fields.update(owner=self.owner, epoch=self.epoch, held=self.held)
        if self.written_at is not None:
            fields["written_at"] = self.written_at
        return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, fields: object) -> StoreMeta:
        """Validate a parsed metadata object; ValueError if it is not one of ours."""
        if not isinstance(fields, dict) or fields.get("v") != FORMAT:
            raise ValueError("unknown metadata format")
        meta = cls(
            write_id=fields.get("write_id"),  # type: ignore[arg-type]  # checked below
            owner=fields.get("owner"),
            epoch=fields.get("epoch", 0),
            held=fields.get("held", False),
            written_at=fields.get("written_at"),
        )
        checks = (
            isinstance(meta.write_id, str),
            meta.owner is None or isinstance(meta.owner, str),
            type(meta.epoch) is int and meta.epoch >= 0,
            isinstance(meta.held, bool),
            meta.written_at is None or type(meta.written_at) in (int, float),
        )
        if not all(checks):
            raise ValueError("malformed metadata")
        return meta


@dataclass(frozen=True)
class Decoded:
    snapshot: SessionSnapshot
    meta: StoreMeta | None


def new_write_id() -> str:
    return secrets.token_hex(16)


def encode(snapshot: SessionSnapshot, meta: StoreMeta) -> bytes:
    """Serialise ``snapshot`` with ``meta`` first. TypeError if it is not JSON."""
    if not isinstance(snapshot, SessionSnapshot):
        raise TypeError(f"expected a SessionSnapshot, got {type(snapshot).__name__}")
    try:
        body = snapshot.__pydantic_serializer__.to_json(snapshot)
    except PydanticSerializationError as exc:
        raise TypeError(f"snapshot is not JSON-serialisable: {exc}") from exc
    # body is a JSON object with at least the required fields, so it starts with '{"'.
    # join() over a view copies the large body once (not slice, then concatenate).
    return b"".join((_META_PREFIX, meta.to_json(), b",", memoryview(body)[1:]))


def decode(session_id: str, body: bytes) -> Decoded:
    """Parse a stored body, or raise :class:`CorruptSnapshot` naming the session."""
    meta = _decode_meta(session_id, body) if body.startswith(_META_PREFIX) else None
    try:
        snapshot = SessionSnapshot.model_validate_json(body)
    except ValidationError as exc:
        raise CorruptSnapshot(session_id, _summarise(exc)) from exc
    missing = REQUIRED_BODY_FIELDS - snapshot.model_fields_set
    if missing:
        raise CorruptSnapshot(session_id, f"missing field(s) {sorted(missing)}")
    return Decoded(snapshot, meta)


#: Enough leading bytes of a body to hold its write id (see :func:`write_id_of`).
WRITE_ID_HEAD_BYTES = 128


def write_id_of(head: bytes) -> str | None:
    """The write id at the start of a body we wrote (its first bytes suffice), else None."""
    match = _WRITE_ID_PREFIX.match(head)
    return match.group(1).decode() if match else None


def version_of(body: bytes) -> str:
    """The version a local store reports for ``body``: its write id, else a content hash.

    Bodies written by another program (the seed) carry no write id; their
    version is derived from their content.
    """
    return write_id_of(body) or "sha256:" + hashlib.sha256(body).hexdigest()


def _decode_meta(session_id: str, body: bytes) -> StoreMeta:
    start = len(_META_PREFIX)
    # Decode only the head: a cut multi-byte character past the metadata is harmless.
    head = body[start : start + MAX_META_BYTES].decode("utf-8", errors="replace")
    try:
        fields, _ = _DECODER.raw_decode(head)
        return StoreMeta.from_json(fields)
    except ValueError as exc:
        raise CorruptSnapshot(session_id, f"unreadable {META_FIELD} field: {exc}") from exc


def _summarise(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"
