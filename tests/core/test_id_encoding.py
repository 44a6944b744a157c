"""The public reversible encoding of any string into the id alphabet, and plain-str ids."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionstore import (
    FsPersistence,
    InvalidSessionId,
    MemoryPersistence,
    decode_id,
    encode_id,
    is_valid_session_id,
)
from sessionstore.ids import MAX_SESSION_ID_LENGTH, validate_session_id
from sessionstore.testing import make_snapshot

if TYPE_CHECKING:
    from pathlib import Path


@given(st.text(min_size=1, max_size=16))  # 16 characters x 4 bytes x 3 fit in 200
def test_any_text_round_trips_through_a_valid_id(text: str) -> None:
    encoded = encode_id(text)
    assert is_valid_session_id(encoded)
    assert decode_id(encoded) == text


@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,50}", fullmatch=True))
def test_valid_ids_without_the_escape_encode_to_themselves(session_id: str) -> None:
    assert encode_id(session_id) == session_id


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_encoding_is_one_to_one(a: str, b: str) -> None:
    assert (encode_id(a) == encode_id(b)) == (a == b)


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("a b", "a=20b"),
        ("sesión", "sesi=C3=B3n"),
        ("-dash-first", "0==2Ddash-first"),
        ("x=y", "x=3Dy"),
        ("thread|ns", "thread=7Cns"),
        ("=", "0==3D"),
    ],
)
def test_known_encodings(text: str, encoded: str) -> None:
    assert encode_id(text) == encoded
    assert decode_id(encoded) == text


@pytest.mark.parametrize("bad", ["a=2", "a=2d", "a=C3", "0=", "a==3D", "0=3D=", "-x", ""])
def test_decode_refuses_what_encode_never_produces(bad: str) -> None:
    with pytest.raises(InvalidSessionId):
        decode_id(bad)


def test_encode_refuses_empty_and_overlong_text() -> None:
    with pytest.raises(InvalidSessionId, match="non-empty"):
        encode_id("")
    with pytest.raises(InvalidSessionId, match="over"):
        encode_id("é" * (MAX_SESSION_ID_LENGTH // 4 + 1))


class _Sid(str, enum.Enum):
    CALL = "call-1"


class _Sneaky(str):
    """A str subclass whose formatting names another file."""

    def __str__(self) -> str:
        return "../../etc/passwd"

    def __format__(self, spec: str) -> str:
        return "../../etc/passwd"


@pytest.mark.parametrize("session_id", [_Sid.CALL, _Sneaky("call-1")])
def test_a_str_subclass_is_checked_and_used_as_its_plain_value(session_id: str) -> None:
    plain = validate_session_id(session_id)
    assert type(plain) is str
    assert plain == "call-1"


@pytest.mark.parametrize("session_id", [_Sid.CALL, _Sneaky("call-1")])
def test_a_str_subclass_id_names_the_plain_object(session_id: str, tmp_path: Path) -> None:
    for store in (MemoryPersistence(), FsPersistence(tmp_path / "sessions")):
        store.blocking.save(session_id, make_snapshot())
        assert list(store.blocking.list_sessions()) == ["call-1"]
        assert store.blocking.load("call-1") is not None
        store.blocking.delete(session_id)
        assert store.blocking.load("call-1") is None
    assert sorted(p.name for p in (tmp_path / "sessions").iterdir()) == [".sessionstore-locks"]
