"""The id rule, the snapshot model and the stored body's codec."""

from __future__ import annotations

import hashlib
import json

import pytest
from pydantic import ValidationError

from sessionstore import InvalidSessionId, SessionSnapshot, is_valid_session_id, utc_now
from sessionstore.codec import StoreMeta, decode, encode, new_write_id, version_of
from sessionstore.errors import CorruptSnapshot
from sessionstore.ids import validate_prefix, validate_session_id
from sessionstore.model import MAX_TURN_COUNT


@pytest.mark.parametrize(
    "session_id", ["a", "0", "A" * 200, "user@example.com", "a.b_c:d@e=f+g-h", "9-9"]
)
def test_valid_ids(session_id: str) -> None:
    assert is_valid_session_id(session_id)
    assert validate_session_id(session_id) == session_id


@pytest.mark.parametrize(
    ("session_id", "reason"),
    [
        ("", "empty"),
        ("a" * 201, "longer than 200"),
        (".", "start with"),
        ("..", "start with"),
        ("-x", "start with"),
        ("a/b", "'/'"),
        ("a\\b", "'\\\\'"),
        ("a\x00", "'\\x00'"),
        ("a\n", "'\\n'"),
        ("ab\u00e9", "'é'"),
        ("\u00e9", "start with"),
        (7, "must be a str"),
    ],
)
def test_invalid_ids_say_why(session_id: object, reason: str) -> None:
    assert not is_valid_session_id(session_id)
    with pytest.raises(InvalidSessionId) as caught:
        validate_session_id(session_id)
    assert reason in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_prefix_rule_allows_any_leading_part() -> None:
    assert validate_prefix("") == ""
    assert validate_prefix("-") == "-"
    with pytest.raises(InvalidSessionId):
        validate_prefix("a/")


def test_snapshot_defaults_and_limits() -> None:
    snapshot = SessionSnapshot(phase="greeting")
    assert snapshot.state == {}
    assert snapshot.turn_count == 0
    assert snapshot.resume_handle is None
    assert snapshot.saved_at.endswith("Z")
    SessionSnapshot(phase="x", turn_count=MAX_TURN_COUNT)
    for bad in (-1, MAX_TURN_COUNT + 1):
        with pytest.raises(ValidationError):
            SessionSnapshot(phase="x", turn_count=bad)
    with pytest.raises(ValidationError):
        SessionSnapshot(phase=3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        snapshot.turn_count = -5


def test_utc_now_is_iso_8601_utc() -> None:
    stamp = utc_now()
    assert stamp[4] == "-"
    assert stamp[10] == "T"
    assert stamp.endswith("Z")


def test_encode_puts_metadata_first_and_decode_inverts_it() -> None:
    snapshot = SessionSnapshot(phase="p", state={"k": [1, {"x": None}]}, turn_count=2)
    meta = StoreMeta(write_id=new_write_id(), owner="o", epoch=3, held=True, written_at=5.5)
    body = encode(snapshot, meta)
    assert body.startswith(b'{"_sessionstore":{"v":1,"write_id":"')
    decoded = decode("s", body)
    assert decoded.snapshot == snapshot
    assert decoded.meta == meta
    assert version_of(body) == "sha256:" + hashlib.sha256(body).hexdigest()
    assert next(iter(json.loads(body))) == "_sessionstore"


def test_version_of_a_foreign_body_is_a_content_hash() -> None:
    body = b'{"state":{},"phase":"x","turn_count":0,"transcript_summary":"","saved_at":"t"}'
    assert version_of(body).startswith("sha256:")
    assert version_of(body) == version_of(bytes(body))
    assert version_of(body) != version_of(body.replace(b'"x"', b'"y"'))
    assert decode("s", body).meta is None


def test_decode_error_names_the_session_and_hides_the_parser() -> None:
    with pytest.raises(CorruptSnapshot) as caught:
        decode("call-9", b'{"phase": 1}')
    assert "call-9" in str(caught.value)
    assert isinstance(caught.value.__cause__, ValidationError)


def test_write_ids_are_unique() -> None:
    assert len({new_write_id() for _ in range(10_000)}) == 10_000


@pytest.mark.parametrize(
    "meta",
    [
        b'"not an object"',
        b'{"v": 2, "write_id": "x"}',
        b'{"v": 1}',
        b'{"v": 1, "write_id": "x", "epoch": -1}',
        b'{"v": 1, "write_id": "x", "held": "yes"}',
        b'{"v": 1, "write_id": "x", "owner": 5}',
        b"{broken",
    ],
)
def test_malformed_metadata_is_a_corrupt_snapshot(meta: bytes) -> None:
    body = b'{"_sessionstore":' + meta + b',"state":{},"phase":"x","turn_count":0,'
    body += b'"transcript_summary":"","saved_at":"t"}'
    with pytest.raises(CorruptSnapshot, match="s-1"):
        decode("s-1", body)


def test_metadata_with_a_long_unicode_owner_round_trips() -> None:
    meta = StoreMeta(write_id=new_write_id(), owner="région-ü" * 32, epoch=1, held=True)
    body = encode(SessionSnapshot(phase="p", state={"k": "€" * 5000}), meta)
    assert decode("s", body).meta == meta
