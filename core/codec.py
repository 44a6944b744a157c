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
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from sessionstore.errors import CorruptSnapshot, InvalidSnapshot
from sessionstore.model import REQUIRED_BODY_FIELDS, SessionSnapshot

__all__ = [
    "FORMAT",
    "META_FIELD",
    "SNAPSHOTS",
    "Decoded",
    "ModelCodec",
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
]

META_FIELD = "_sessionstore"
FORMAT = 1
#: Longest metadata object read back: owners (256) and idempotency keys (32 x 128) fit.
MAX_META_BYTES = 16384
#: Idempotency keys a body remembers (the newest last).
MAX_REMEMBERED_KEYS = 32

_META_PREFIX = b'{"' + META_FIELD.encode() + b'":'
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


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Decoded(Generic[M]):
    value: M | None
    """None for a claim (a session acquired before its first snapshot)."""
    meta: StoreMeta | None

    @property
    def snapshot(self) -> M | None:
        return self.value


class ModelCodec(Generic[M]):
    """Validates, frames and reads back documents of one pydantic model.

    ``serialize`` validates the exact JSON it produces with the model that
    ``decode`` uses and checks every field reads back equal (same type, same
    value), so nothing written can be unreadable afterwards. ``required``: fields
    a stored body must carry even where the model has a default (the reference
    design's snapshot requires five).
    """

    def __init__(
        self, model: type[M], *, required: frozenset[str] = frozenset(), claims: bool = False
    ) -> None:
        self.model = model
        self.required = required
        #: Whether a stored body may be a claim (only sessions are acquired), so a refused
        #: create-only write reads back to tell a claim from a value.
        self.claims = claims
        self._fields = tuple(model.model_fields)
        # A model that ignores unknown fields reads the body whole; any other is given
        # the body without the metadata field.
        self._reads_whole_body = model.model_config.get("extra", "ignore") == "ignore"

    def serialize(self, name: str, value: object) -> bytes:
        """The value's JSON as it will be stored, or :class:`InvalidSnapshot` naming the field."""
        if not isinstance(value, self.model):
            raise InvalidSnapshot(
                name,
                "value",
                f"expected a {self.model.__name__}, got {type(value).__name__}",
            )
        try:
            # No serializer warnings: the validation below names what is wrong, as an error.
            payload = self.model.__pydantic_serializer__.to_json(value, warnings=False)
        except PydanticSerializationError as exc:
            field = self._unserialisable_field(value)
            raise InvalidSnapshot(name, field, f"not JSON-serialisable: {exc}") from exc
        if not payload.startswith(b"{"):
            raise InvalidSnapshot(name, "value", "must serialise to a JSON object")
        try:
            stored = self.model.model_validate_json(payload)
        except ValidationError as exc:
            field, reason = _first_error(exc)
            raise InvalidSnapshot(name, field, reason) from exc
        for field in self._fields:
            given = getattr(value, field, None)
            read = getattr(stored, field)
            if type(read) is not type(given) or read != given:
                raise InvalidSnapshot(
                    name,
                    field,
                    "its value does not survive JSON unchanged (NaN or infinity, a tuple, a "
                    "non-string key or another non-JSON value)",
                )
        return payload

    def _unserialisable_field(self, value: BaseModel) -> str:
        for field in self._fields:
            try:
                self.model.__pydantic_serializer__.to_json(value, include={field}, warnings=False)
            except PydanticSerializationError:
                return field
        return "value"

    def trusted_payload(self, value: M) -> bytes:
        """The JSON of a value this codec decoded (already valid: no second check)."""
        return self.model.__pydantic_serializer__.to_json(value)

    def decode(self, name: str, body: bytes) -> Decoded[M]:
        """Parse a stored body, or raise :class:`CorruptSnapshot` naming the key."""
        meta, rest = _split_meta(name, body, keep_whole=self._reads_whole_body)
        if meta is not None and meta.claim:
            return Decoded(None, meta)
        try:
            value = self.model.model_validate_json(rest)
        except ValidationError as exc:
            raise CorruptSnapshot(name, _summarise(exc)) from exc
        missing = self.required - value.model_fields_set
        if missing:
            raise CorruptSnapshot(name, f"missing field(s) {sorted(missing)}")
        return Decoded(value, meta)


SNAPSHOTS: ModelCodec[SessionSnapshot] = ModelCodec(
    SessionSnapshot, required=REQUIRED_BODY_FIELDS, claims=True
)
"""The codec of session snapshots (the reference design's body)."""


def new_write_id() -> str:
    return secrets.token_hex(16)


def serialize(session_id: str, snapshot: object) -> bytes:
    """A snapshot's JSON as it will be stored (see :class:`ModelCodec`); InvalidSnapshot if bad.

    A snapshot built with ``model_construct`` or ``model_copy(update=...)`` (which skip
    validation), or holding a value JSON cannot carry (NaN, a tuple, a non-string key),
    is refused before any I/O.
    """
    return SNAPSHOTS.serialize(session_id, snapshot)


def trusted_payload(snapshot: SessionSnapshot) -> bytes:
    """The JSON of a snapshot this module decoded (already valid: no second check)."""
    return SNAPSHOTS.trusted_payload(snapshot)


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


def decode(session_id: str, body: bytes) -> Decoded[SessionSnapshot]:
    """Parse a stored snapshot body, or raise :class:`CorruptSnapshot` naming the session."""
    return SNAPSHOTS.decode(session_id, body)


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


def version_of(body: bytes) -> str:
    """The version a local store reports for ``body``: a hash of its bytes.

    Every body written here carries a fresh write id, so versions never repeat; and
    any change another program makes to a body (even one that keeps our metadata
    intact) changes its version, so a stale writer's ``expected_version`` fails, as it
    does against S3's ETag. Only a byte-for-byte restore of an old body brings its
    version back.
    """
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _find_meta(session_id: str, body: bytes) -> StoreMeta | None:
    """Our metadata wherever the body holds it, or None for a body without it."""
    return _split_meta(session_id, body, keep_whole=True)[0]


def _split_meta(
    session_id: str, body: bytes, *, keep_whole: bool
) -> tuple[StoreMeta | None, bytes]:
    """The body's metadata, and the body without it (the body itself if ``keep_whole``)."""
    if body.startswith(_META_PREFIX):
        start = len(_META_PREFIX)
    else:
        found = _FOREIGN_META_START.match(body, 0, 256)
        if found is None:
            if _META_NAME in body:  # moved by a program that reordered the keys
                return _meta_by_full_parse(session_id, body, keep_whole=keep_whole)
            return None, body
        start = found.end()  # re-serialised with other spacing: still the first field
    meta, end = _decode_meta(session_id, body, start)
    if keep_whole:
        return meta, body
    rest = body[end:].lstrip()
    if rest.startswith(b","):
        return meta, b"{" + rest[1:]
    return meta, b"{" + rest  # "}": a claim, or a body with no other field


def _meta_by_full_parse(
    session_id: str, body: bytes, *, keep_whole: bool
) -> tuple[StoreMeta | None, bytes]:
    try:
        fields = json.loads(body)
    except ValueError:
        return None, body  # the model's parse reports what is wrong with the body
    if not isinstance(fields, dict) or META_FIELD not in fields:
        return None, body
    try:
        meta = StoreMeta.from_json(fields.pop(META_FIELD))
    except ValueError as exc:
        raise CorruptSnapshot(session_id, f"unreadable {META_FIELD} field: {exc}") from exc
    return meta, body if keep_whole else json.dumps(fields, ensure_ascii=False).encode()


_META_NAME = b'"' + META_FIELD.encode() + b'"'


def _decode_meta(session_id: str, body: bytes, start: int) -> tuple[StoreMeta, int]:
    """The metadata object starting at byte ``start``, and the byte just after it."""
    while body[start : start + 1] in (b" ", b"\t", b"\n", b"\r"):  # json.dumps spacing
        start += 1
    # Decode only the head: a cut multi-byte character past the metadata is harmless.
    head = body[start : start + MAX_META_BYTES].decode("utf-8", errors="replace")
    try:
        fields, end = _DECODER.raw_decode(head)
        meta = StoreMeta.from_json(fields)
    except ValueError as exc:
        raise CorruptSnapshot(session_id, f"unreadable {META_FIELD} field: {exc}") from exc
    return meta, start + len(head[:end].encode("utf-8"))


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
