"""Key layout (free-text thread ids and namespaces) and import hygiene."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionstore.adapters.langgraph import (
    EMPTY_SEGMENT,
    decode_segment,
    encode_segment,
    head_session_id,
)
from sessionstore.adapters.langgraph._layout import MAX_SEGMENT_LENGTH, checkpoint_key, write_key
from sessionstore.errors import InvalidSessionId
from sessionstore.ids import decode_id, encode_id, is_valid_session_id


def test_import_sessionstore_loads_no_langgraph() -> None:
    code = (
        "import sys, sessionstore\n"
        "from sessionstore import open_store, SessionSnapshot\n"
        "store = open_store('memory://')\n"
        "store.blocking.save('s', SessionSnapshot(phase='p'))\n"
        "import sessionstore.adapters\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'langgraph', 'langchain_core'} or m.startswith('sessionstore.adapters.langgraph'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_importing_the_adapter_does_load_langgraph() -> None:
    """The check above can fail: importing the adapter is what loads LangGraph."""
    code = (
        "import sys, sessionstore.adapters.langgraph\n"
        "print('langgraph.checkpoint.base' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "True"


def test_the_empty_string_has_a_segment_no_string_encodes_to() -> None:
    assert encode_segment("") == EMPTY_SEGMENT == "0="
    assert decode_segment("0=") == ""
    assert is_valid_session_id(EMPTY_SEGMENT)
    with pytest.raises(InvalidSessionId):
        decode_id(EMPTY_SEGMENT)  # not the encoding of any string


def encoded_length(text: str) -> int:
    try:
        return len(encode_id(text))
    except InvalidSessionId:
        return 201  # over the id rule's 200


@given(st.text(min_size=0, max_size=80))
def test_segments_round_trip_or_hash(text: str) -> None:
    segment = encode_segment(text)
    assert is_valid_session_id(segment)
    assert len(segment) <= MAX_SEGMENT_LENGTH
    if segment.startswith("0=h"):
        assert encoded_length(text) > MAX_SEGMENT_LENGTH
        with pytest.raises(InvalidSessionId):
            decode_id(segment)  # no short string encodes to a hashed segment
    else:
        assert decode_segment(segment) == text


def test_long_namespaces_are_hashed_and_stay_distinct() -> None:
    nested = "|".join(f"node{i}:{'0' * 8}-{i:04d}-4000-8000-{'0' * 12}" for i in range(6))
    other = nested[:-1] + "1"
    assert len(encode_id(nested[:150])) <= 200
    with pytest.raises(InvalidSessionId):
        encode_id(nested)  # too long for the id rule
    assert encode_segment(nested).startswith("0=h")
    assert encode_segment(nested) != encode_segment(other)
    assert len(head_session_id(nested)) <= 200
    assert len("/".join(write_key(nested, nested, nested, nested, -1))) <= 800


def test_namespaces_and_thread_ids_with_separators() -> None:
    assert encode_segment("parent:1|child:2") == "parent:1=7Cchild:2"
    assert head_session_id("") == "langgraph:0="
    assert head_session_id("user 7") == "langgraph:user=207"
    assert checkpoint_key("t", "", "1ef-abc") == ("langgraph", "t", "0=", "c", "1ef-abc")
    assert write_key("t", "a|b", "c1", "task", -1) == (
        "langgraph",
        "t",
        "a=7Cb",
        "w",
        "c1",
        "task",
        "i-1",
    )
    assert encode_id("a|b") == "a=7Cb"


def test_a_saver_stores_and_finds_a_long_namespace() -> None:
    from langgraph.checkpoint.base import empty_checkpoint

    from sessionstore import open_store
    from sessionstore.adapters.langgraph import SessionStoreSaver

    nested = "|".join(f"node{i}:{i:032d}" for i in range(8))
    saver = SessionStoreSaver(open_store("memory://"))
    config = {"configurable": {"thread_id": "t" * 300, "checkpoint_ns": nested}}
    stored = saver.put(config, empty_checkpoint(), {"step": 1}, {})  # type: ignore[arg-type]
    saver.put_writes(stored, [("channel", 1)], "task-" + "x" * 300)
    found = saver.get_tuple(config)  # type: ignore[arg-type]
    assert found is not None
    assert found.config == stored
    assert found.pending_writes == [("task-" + "x" * 300, "channel", 1)]
