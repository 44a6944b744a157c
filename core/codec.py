"""The stored body: the seed's JSON plus at most one extra top-level field.

A body written here is ``{"_sessionstore": {...meta...}, <the seed's six fields>}``.
The metadata comes first, so the write id and lease fields are read from the first
bytes without a second parse of a large body, and the snapshot is validated by the
one pydantic model. The seed's serde ignores the unknown field; a body without it
(written by the seed) decodes with ``meta=None``. Bodies that another program
re-serialised (``json.dumps`` with its default spacing, a pretty-printer, sorted
keys) keep their metadata: it is found wherever the top-level field is.

A *claim* is a body with metadata and no snapshot (``{"_sessionstore": {..., "claim":
true}}``): the durable record of an ``acquire`` on a session that has no snapshot yet.
Every read reports it as absent.

Nothing is written that this module cannot read back: :func:`serialize` validates
the exact JSON it produces with the same model that :func:`decode` uses, and refuses
a snapshot whose values would not come back equal (NaN, tuples, non-string keys).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from sessionstore.errors import CorruptSnapshot, InvalidSnapshot
from sessionstore.model import REQUIRED_BODY_FIELDS, SessionSnapshot

__all__ = [
    "FORMAT",
    "META_FIELD",
    "Decoded",
    "StoreMeta",
    "decode",
    "encode",
    "frame",
    "frame_claim",
    "is_claim",
    "new_write_id",
    "serialize",
    "trusted_payload",
    "version_of",
    "write_id_in",
    "write_id_of",
]

META_FIELD = "_sessionstore"
FORMAT = 1
#: Longest metadata object read back: owners (256) and idempotency keys (32 x 128) fit.
MAX_META_BYTES = 16384
#: Idempotency keys a body remembers (the newest last).
MAX_REMEMBERED_KEYS = 32

_META_PREFIX = b'{"' + META_FIELD.encode() + b'":'
# What encode() writes first, so version_of() can read the write id without a parse.
_WRITE_ID_PREFIX = re.compile(re.escape(_META_PREFIX) + rb'\{"v":1,"write_id":"([0-9a-f]{32})"')
_DECODER = json.JSONDecoder()
# Where the metadata object starts in a body that another program re-serialised.
_FOREIGN_META_START = re.compile(rb'\s*\{\s*"' + re.escape(META_FIELD.encode()) + rb'"\s*:\s*')


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
    claim: bool = False
    """True for a claim: an acquire's record of a session with no snapshot yet."""
    keys: tuple[str, ...] = ()
    """Idempotency keys of the latest keyed writes, oldest first (at most 32)."""

    def to_json(self) -> bytes:
        fields: dict[str, object] = {"v": FORMAT, "write_id": self.write_id}
        if self.owner is not None:
            fields.update(owner=self.owner, epoch=self.epoch, held=self.held)
        if self.written_at is not None:
            fields["written_at"] = self.written_at
        if self.claim:
            fields["claim"] = True
        if self.keys:
            fields["keys"] = list(self.keys)
        return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, fields: object) -> StoreMeta:
        """Validate a parsed metadata object; ValueError if it is not one of ours."""
        if not isinstance(fields, dict) or fields.get("v") != FORMAT:
            raise ValueError("unknown metadata format")
        keys = fields.get("keys", [])
        meta = cls(
            write_id=fields.get("write_id"),  # type: ignore[arg-type]  # checked below
            owner=fields.get("owner"),
            epoch=fields.get("epoch", 0),
            held=fields.get("held", False),
            written_at=fields.get("written_at"),
            claim=fields.get("claim", False),
            keys=tuple(keys) if isinstance(keys, list) else (),
        )
        checks = (
            isinstance(meta.write_id, str),
            meta.owner is None or isinstance(meta.owner, str),
            type(meta.epoch) is int and meta.epoch >= 0,
            isinstance(meta.held, bool),
            meta.written_at is None or type(meta.written_at) in (int, float),
            isinstance(meta.claim, bool),
            isinstance(keys, list) and all(isinstance(key, str) for key in keys),
        )
        if not all(checks):
            raise ValueError("malformed metadata")
        return meta


@dataclass(frozen=True)
class Decoded:
    snapshot: SessionSnapshot | None
    """None for a claim (a session acquired before its first snapshot)."""
    meta: StoreMeta | None


def new_write_id() -> str:
    return secrets.token_hex(16)


def serialize(session_id: str, snapshot: object) -> bytes:
    """The snapshot's JSON as it will be stored, or :class:`InvalidSnapshot` naming the field.

    The exact bytes are validated by the model that reads them back, and the result
    must equal the snapshot given, so a snapshot built with ``model_construct`` or
    ``model_copy(update=...)`` (which skip validation), or holding a value JSON cannot
    carry (NaN, a tuple, a non-string key), is refused before any I/O.
    """
    if not isinstance(snapshot, SessionSnapshot):
        raise InvalidSnapshot(
            session_id, "snapshot", f"expected a SessionSnapshot, got {type(snapshot).__name__}"
        )
    try:
        # No serializer warnings: the validation below names what is wrong, as an error.
        payload = snapshot.__pydantic_serializer__.to_json(snapshot, warnings=False)
    except PydanticSerializationError as exc:
        raise InvalidSnapshot(session_id, "state", f"not JSON-serialisable: {exc}") from exc
    try:
        stored = SessionSnapshot.model_validate_json(payload)
    except ValidationError as exc:
        field, reason = _first_error(exc)
        raise InvalidSnapshot(session_id, field, reason) from exc
    for field in _FIELDS:
        given = getattr(snapshot, field, None)
        value = getattr(stored, field)
        if type(value) is not type(given) or value != given:
            raise InvalidSnapshot(
                session_id,
                field,
                "its value does not survive JSON unchanged (NaN or infinity, a tuple, a "
                "non-string key or another non-JSON value)",
            )
    return payload


_FIELDS = tuple(sorted(REQUIRED_BODY_FIELDS | {"resume_handle"}))


def trusted_payload(snapshot: SessionSnapshot) -> bytes:
    """The JSON of a snapshot this module decoded (already valid: no second check)."""
    return snapshot.__pydantic_serializer__.to_json(snapshot)


def frame(payload: bytes, meta: StoreMeta) -> bytes:
    """A stored body: ``meta`` first, then the fields of ``payload`` (from :func:`serialize`)."""
    # payload is a JSON object with at least the required fields, so it starts with '{"'.
    # join() over a view copies the large payload once (not slice, then concatenate).
    return b"".join((_META_PREFIX, meta.to_json(), b",", memoryview(payload)[1:]))


def frame_claim(meta: StoreMeta) -> bytes:
    """A claim's body: metadata only (``meta.claim`` must be set)."""
    return b"".join((_META_PREFIX, meta.to_json(), b"}"))


def encode(snapshot: SessionSnapshot, meta: StoreMeta, session_id: str = "-") -> bytes:
    """Validate and frame ``snapshot`` with ``meta`` first (:class:`InvalidSnapshot` if bad)."""
    return frame(serialize(session_id, snapshot), meta)


def decode(session_id: str, body: bytes) -> Decoded:
    """Parse a stored body, or raise :class:`CorruptSnapshot` naming the session."""
    meta = _find_meta(session_id, body)
    if meta is not None and meta.claim:
        return Decoded(None, meta)
    try:
        snapshot = SessionSnapshot.model_validate_json(body)
    except ValidationError as exc:
        raise CorruptSnapshot(session_id, _summarise(exc)) from exc
    missing = REQUIRED_BODY_FIELDS - snapshot.model_fields_set
    if missing:
        raise CorruptSnapshot(session_id, f"missing field(s) {sorted(missing)}")
    return Decoded(snapshot, meta)


def write_id_in(body: bytes) -> str | None:
    """The write id recorded in a body, wherever its metadata sits (None if none)."""
    try:
        meta = _find_meta("-", body)
    except CorruptSnapshot:
        return None
    return meta.write_id if meta else None


def is_claim(body: bytes) -> bool:
    """Whether a stored body is a claim (cheap: reads the metadata only)."""
    try:
        meta = _find_meta("-", body)
    except CorruptSnapshot:
        return False
    return meta is not None and meta.claim


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


def _find_meta(session_id: str, body: bytes) -> StoreMeta | None:
    """Our metadata wherever the body holds it, or None for a body without it."""
    if body.startswith(_META_PREFIX):
        return _decode_meta(session_id, body, len(_META_PREFIX))
    found = _FOREIGN_META_START.match(body, 0, 256)
    if found:  # re-serialised with other spacing: still the first field
        return _decode_meta(session_id, body, found.end())
    if _META_NAME in body:  # moved by a program that reordered the keys: full parse
        try:
            fields = json.loads(body)
        except ValueError:
            return None  # the snapshot parse reports what is wrong with the body
        if isinstance(fields, dict) and META_FIELD in fields:
            try:
                return StoreMeta.from_json(fields[META_FIELD])
            except ValueError as exc:
                raise CorruptSnapshot(session_id, f"unreadable {META_FIELD} field: {exc}") from exc
    return None


_META_NAME = b'"' + META_FIELD.encode() + b'"'


def _decode_meta(session_id: str, body: bytes, start: int) -> StoreMeta:
    # Decode only the head: a cut multi-byte character past the metadata is harmless.
    head = body[start : start + MAX_META_BYTES].decode("utf-8", errors="replace")
    try:
        fields, _ = _DECODER.raw_decode(head)
        return StoreMeta.from_json(fields)
    except ValueError as exc:
        raise CorruptSnapshot(session_id, f"unreadable {META_FIELD} field: {exc}") from exc


def _first_error(exc: ValidationError) -> tuple[str, str]:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "snapshot"
    return where, first["msg"]


def _summarise(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"
