"""The contract suite: every clause of the SessionPersistence contract, as tests.

Clauses that need a stored body the library would never write (corrupt, foreign
or seed-written bodies) plant raw bytes with the backend primitive
``store._write(session_id, body, ANY_VERSION)``.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pytest

from sessionstore.contract import ANY_VERSION, SessionPersistence
from sessionstore.errors import (
    ConflictError,
    CorruptSnapshot,
    FencedError,
    InvalidSessionId,
    InvalidSnapshot,
    SessionBusy,
    SnapshotTooLarge,
)
from sessionstore.model import SessionSnapshot
from sessionstore.testing.documents_suite import DocumentsContract
from sessionstore.testing.exactly_once_suite import ExactlyOnceContract
from sessionstore.testing.lease_suite import LeaseContract
from sessionstore.testing.snapshots import is_self_consistent, make_snapshot

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

T = TypeVar("T")

__all__ = ["SessionPersistenceContract"]

INVALID_IDS: tuple[object, ...] = (
    "",
    ".",
    "..",
    "../etc/passwd",
    "a/b",
    "a\\b",
    "nul\x00byte",
    "line\nbreak",
    "tab\tid",
    " leading-space",
    "-leading-dash",
    ".hidden",
    "_leading-underscore",
    "space inside",
    "ümlaut",
    "a" * 201,
    "a?b",
    "a#b",
    "a%2Fb",
    "a*",
    123,
    None,
    b"bytes",
)

SEED_BODY = b"""{
  "state": {
    "name": "Alice"
  },
  "phase": "greeting",
  "turn_count": 5,
  "transcript_summary": "User: Hello\\nAssistant: Hi!",
  "resume_handle": "handle-123",
  "saved_at": "2026-03-07T00:00:00Z"
}"""


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class SessionPersistenceContract(LeaseContract, ExactlyOnceContract, DocumentsContract):
    """Subclass with a ``store`` fixture returning a fresh, empty store."""

    #: Rounds of the 16-writer compare-and-swap race.
    cas_rounds: ClassVar[int] = 10
    #: Writers racing per round.
    cas_writers: ClassVar[int] = 16

    @pytest.fixture
    def store(self) -> SessionPersistence:
        raise NotImplementedError("subclasses provide a `store` fixture returning an empty store")

    # ------------------------------------------------------------ round trips

    def test_round_trip_preserves_every_field(self, store: SessionPersistence) -> None:
        snapshot = make_snapshot(7, padding=100)
        run(store.save("s-1", snapshot))
        loaded = run(store.load("s-1"))
        assert loaded == snapshot
        assert loaded is not snapshot

    def test_load_missing_is_none(self, store: SessionPersistence) -> None:
        assert run(store.load("absent")) is None
        assert run(store.load_versioned("absent")) is None

    def test_save_returns_the_version_load_reports(self, store: SessionPersistence) -> None:
        version = run(store.save("s-1", make_snapshot(1)))
        loaded = run(store.load_versioned("s-1"))
        assert loaded is not None
        assert loaded.version == version
        assert loaded.snapshot == make_snapshot(1)

    def test_versions_never_repeat_even_for_identical_snapshots(
        self, store: SessionPersistence
    ) -> None:
        snapshot = make_snapshot(1)
        seen = [run(store.save("s-1", snapshot)) for _ in range(3)]
        run(store.delete("s-1"))
        seen.append(run(store.save("s-1", snapshot)))
        assert len(set(seen)) == len(seen)

    def test_saved_snapshot_is_isolated_from_later_mutation(
        self, store: SessionPersistence
    ) -> None:
        snapshot = make_snapshot(1)
        run(store.save("s-1", snapshot))
        snapshot.state["writer"] = "mutated"
        loaded = run(store.load("s-1"))
        assert loaded is not None
        assert loaded.state["writer"] == "w"

    def test_body_is_the_seed_shape_plus_one_metadata_field(
        self, store: SessionPersistence
    ) -> None:
        run(store.save("s-1", make_snapshot(3)))
        stored = run(store._read("s-1"))
        assert stored is not None
        body = json.loads(stored.body)
        seed_fields = {
            "state",
            "phase",
            "turn_count",
            "transcript_summary",
            "resume_handle",
            "saved_at",
        }
        assert set(body) == seed_fields | {"_sessionstore"}
        assert body["turn_count"] == 3
        assert body["phase"] == "phase-0"

    def test_seed_written_body_loads_and_accepts_compare_and_swap(
        self, store: SessionPersistence
    ) -> None:
        run(store._write("seeded", SEED_BODY, ANY_VERSION))
        loaded = run(store.load_versioned("seeded"))
        assert loaded is not None
        assert loaded.snapshot.phase == "greeting"
        assert loaded.snapshot.turn_count == 5
        assert loaded.snapshot.resume_handle == "handle-123"
        assert loaded.snapshot.state == {"name": "Alice"}
        new = loaded.snapshot.model_copy(update={"turn_count": 6})
        run(store.save("seeded", new, expected_version=loaded.version))
        again = run(store.load("seeded"))
        assert again is not None
        assert again.turn_count == 6

    @pytest.mark.parametrize(
        "rewrite",
        [
            {},  # json.dumps' default spacing: '{"_sessionstore": {"v": 1, ...'
            {"indent": 2},  # a pretty-printer
            {"sort_keys": True, "indent": 1},
            {"separators": (",", ":"), "ensure_ascii": True},
        ],
    )
    def test_a_body_another_program_rewrote_loads_and_keeps_its_lease(
        self, store: SessionPersistence, rewrite: dict[str, Any]
    ) -> None:
        """An operator's script that loads and dumps the JSON must not brick the session,
        and the lease fields (and compare-and-swap) keep working through it."""
        lease = run(store.acquire("s-1", "region-a"))
        run(lease.save(make_snapshot(1)))
        stored = run(store._read("s-1"))
        assert stored is not None
        rewritten = json.dumps(json.loads(stored.body), **rewrite).encode()
        run(store._write("s-1", rewritten, ANY_VERSION))
        loaded = run(store.load_versioned("s-1"))
        assert loaded is not None
        assert loaded.snapshot == make_snapshot(1)
        with pytest.raises(SessionBusy):  # the lease fields survived the rewrite
            run(store.acquire("s-1", "region-b"))
        with pytest.raises(FencedError):  # a foreign write fences the lease, as any write
            run(lease.save(make_snapshot(2)))
        run(store.save("s-1", make_snapshot(3), expected_version=loaded.version))
        assert run(store.load("s-1")) == make_snapshot(3)

    def test_valid_id_edge_cases_round_trip(self, store: SessionPersistence) -> None:
        ids = ["a", "Z" * 200, "0.a_b:c@d=e+f-g", "user@example.com:call=7"]
        for number, session_id in enumerate(ids):
            run(store.save(session_id, make_snapshot(number)))
        for number, session_id in enumerate(ids):
            assert run(store.load(session_id)) == make_snapshot(number)

    # ------------------------------------------------------- compare-and-swap

    def test_create_only_succeeds_when_absent(self, store: SessionPersistence) -> None:
        version = run(store.save("s-1", make_snapshot(1), expected_version=None))
        loaded = run(store.load_versioned("s-1"))
        assert loaded is not None
        assert loaded.version == version

    def test_create_only_conflicts_when_present_and_changes_nothing(
        self, store: SessionPersistence
    ) -> None:
        version = run(store.save("s-1", make_snapshot(1)))
        with pytest.raises(ConflictError) as caught:
            run(store.save("s-1", make_snapshot(2), expected_version=None))
        assert caught.value.session_id == "s-1"
        self._assert_stored(store, "s-1", make_snapshot(1), version)

    def test_matching_version_succeeds(self, store: SessionPersistence) -> None:
        first = run(store.save("s-1", make_snapshot(1)))
        second = run(store.save("s-1", make_snapshot(2), expected_version=first))
        assert second != first
        self._assert_stored(store, "s-1", make_snapshot(2), second)

    def test_stale_version_conflicts_and_changes_nothing(self, store: SessionPersistence) -> None:
        first = run(store.save("s-1", make_snapshot(1)))
        second = run(store.save("s-1", make_snapshot(2), expected_version=first))
        with pytest.raises(ConflictError):
            run(store.save("s-1", make_snapshot(3), expected_version=first))
        self._assert_stored(store, "s-1", make_snapshot(2), second)

    def test_expected_version_on_missing_session_conflicts(self, store: SessionPersistence) -> None:
        version = run(store.save("s-1", make_snapshot(1)))
        run(store.delete("s-1"))
        with pytest.raises(ConflictError):
            run(store.save("s-1", make_snapshot(2), expected_version=version))
        assert run(store.load("s-1")) is None

    def test_unconditional_save_overwrites(self, store: SessionPersistence) -> None:
        run(store.save("s-1", make_snapshot(1)))
        version = run(store.save("s-1", make_snapshot(2)))
        self._assert_stored(store, "s-1", make_snapshot(2), version)

    # ---------------------------------------------------------------- delete

    def test_unconditional_delete(self, store: SessionPersistence) -> None:
        run(store.save("s-1", make_snapshot(1)))
        run(store.delete("s-1"))
        assert run(store.load("s-1")) is None

    def test_unconditional_delete_of_missing_session_is_not_an_error(
        self, store: SessionPersistence
    ) -> None:
        run(store.delete("never-saved"))
        assert run(store.load("never-saved")) is None

    def test_conditional_delete_with_current_version(self, store: SessionPersistence) -> None:
        version = run(store.save("s-1", make_snapshot(1)))
        run(store.delete("s-1", expected_version=version))
        assert run(store.load("s-1")) is None

    def test_conditional_delete_with_stale_version_deletes_nothing(
        self, store: SessionPersistence
    ) -> None:
        stale = run(store.save("s-1", make_snapshot(1)))
        current = run(store.save("s-1", make_snapshot(2)))
        with pytest.raises(ConflictError):
            run(store.delete("s-1", expected_version=stale))
        self._assert_stored(store, "s-1", make_snapshot(2), current)

    def test_conditional_delete_of_missing_session_conflicts(
        self, store: SessionPersistence
    ) -> None:
        version = run(store.save("s-1", make_snapshot(1)))
        run(store.delete("s-1"))
        with pytest.raises(ConflictError):
            run(store.delete("s-1", expected_version=version))

    def test_delete_expecting_absent(self, store: SessionPersistence) -> None:
        run(store.delete("s-1", expected_version=None))
        version = run(store.save("s-1", make_snapshot(1)))
        with pytest.raises(ConflictError):
            run(store.delete("s-1", expected_version=None))
        self._assert_stored(store, "s-1", make_snapshot(1), version)

    # ---------------------------------------------------------------- update

    def test_update_creates_when_absent(self, store: SessionPersistence) -> None:
        seen: list[SessionSnapshot | None] = []

        def create(current: SessionSnapshot | None) -> SessionSnapshot:
            seen.append(current)
            return make_snapshot(1)

        result = run(store.update("s-1", create))
        assert seen == [None]
        self._assert_stored(store, "s-1", make_snapshot(1), result.version)

    def test_update_applies_fn_to_the_current_snapshot(self, store: SessionPersistence) -> None:
        run(store.save("s-1", make_snapshot(1)))
        result = run(store.update("s-1", _increment))
        assert result.snapshot.turn_count == 2
        self._assert_stored(store, "s-1", result.snapshot, result.version)

    def test_update_gives_up_with_conflict_after_max_attempts(
        self, store: SessionPersistence
    ) -> None:
        run(store.save("s-1", make_snapshot(1)))
        calls = 0

        def always_overtaken(current: SessionSnapshot | None) -> SessionSnapshot:
            nonlocal calls
            calls += 1
            # Another writer lands between this read and the conditional write.
            store.blocking.save("s-1", make_snapshot(100 + calls, writer="rival"))
            return make_snapshot(2)

        with pytest.raises(ConflictError):
            run(store.update("s-1", always_overtaken, max_attempts=3))
        assert calls == 3
        assert run(store.load("s-1")) == make_snapshot(103, writer="rival")

    # --------------------------------------------------------------- listing

    def test_list_sessions_streams_every_id(self, store: SessionPersistence) -> None:
        ids = {f"chat-{n:03d}" for n in range(25)} | {"other-1", "other-2"}
        for session_id in ids:
            run(store.save(session_id, make_snapshot(1)))
        assert set(run(_collect(store, ""))) == ids
        assert set(run(_collect(store, "chat-01"))) == {f"chat-01{n}" for n in range(10)}
        assert run(_collect(store, "nobody")) == []

    def test_list_sessions_of_empty_store(self, store: SessionPersistence) -> None:
        assert run(_collect(store, "")) == []

    def test_deleted_sessions_are_not_listed(self, store: SessionPersistence) -> None:
        run(store.save("keep", make_snapshot(1)))
        run(store.save("drop", make_snapshot(1)))
        run(store.delete("drop"))
        assert run(_collect(store, "")) == ["keep"]

    # ------------------------------------------------------------- bad input

    @pytest.mark.parametrize("bad_id", INVALID_IDS, ids=repr)
    def test_invalid_ids_are_rejected_before_any_io(
        self, store: SessionPersistence, bad_id: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls = _spy_on_primitives(store, monkeypatch)
        snapshot = make_snapshot(1)
        operations: list[Coroutine[Any, Any, object]] = [
            store.save(bad_id, snapshot),
            store.save(bad_id, snapshot, expected_version=None),
            store.load(bad_id),
            store.load_versioned(bad_id),
            store.delete(bad_id),
            store.delete(bad_id, expected_version="v"),
            store.update(bad_id, _increment),
            store.acquire(bad_id, "owner"),
        ]
        for operation in operations:
            with pytest.raises(InvalidSessionId) as caught:
                run(operation)
            assert isinstance(caught.value, ValueError)
        assert calls == []

    @pytest.mark.parametrize("bad_prefix", ["a/b", "../", "x\x00", "ü"], ids=repr)
    def test_invalid_listing_prefix_is_rejected_before_any_io(
        self, store: SessionPersistence, bad_prefix: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls = _spy_on_primitives(store, monkeypatch)
        with pytest.raises(InvalidSessionId):
            run(_collect(store, bad_prefix))
        assert calls == []

    def test_oversized_snapshot_is_refused_before_writing(
        self, store: SessionPersistence, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        version = run(store.save("s-1", make_snapshot(1)))
        store.max_bytes = 4096
        calls = _spy_on_primitives(store, monkeypatch)
        with pytest.raises(SnapshotTooLarge) as caught:
            run(store.save("s-1", make_snapshot(2, padding=8192)))
        assert caught.value.limit == 4096
        assert caught.value.size > 8192
        assert calls == []
        self._assert_stored(store, "s-1", make_snapshot(1), version)

    def test_oversized_stored_body_is_refused_on_load(self, store: SessionPersistence) -> None:
        run(store.save("s-1", make_snapshot(1, padding=8192)))
        store.max_bytes = 4096
        with pytest.raises(SnapshotTooLarge):
            run(store.load("s-1"))

    def test_snapshot_that_is_not_json_is_refused_before_writing(
        self, store: SessionPersistence
    ) -> None:
        snapshot = make_snapshot(1)
        snapshot.state["bad"] = {"not-json": object()}  # type: ignore[dict-item]
        with pytest.raises(InvalidSnapshot, match="'state'"):
            run(store.save("s-1", snapshot))
        assert run(store.load("s-1")) is None

    @pytest.mark.parametrize(
        ("field", "bad"),
        [
            ("turn_count", {"turn_count": 2**32}),
            ("turn_count", {"turn_count": -1}),
            ("turn_count", {"turn_count": True}),
            ("phase", {"phase": None}),
            ("transcript_summary", {"transcript_summary": None}),
            ("saved_at", {"saved_at": 5}),
            ("resume_handle", {"resume_handle": 7}),
            ("state", {"state": {"x": float("nan")}}),
            ("state", {"state": {"x": float("inf")}}),
            ("state", {"state": {"x": (1, 2)}}),
            ("state", {"state": {1: "non-string key"}}),
            ("state", {"state": None}),
        ],
    )
    def test_every_write_path_refuses_a_snapshot_that_would_not_read_back(
        self, store: SessionPersistence, field: str, bad: dict[str, Any]
    ) -> None:
        # model_copy(update=...) and model_construct skip validation: an acknowledged
        # save of such a snapshot would make the session unreadable forever.
        run(store.save("s-1", make_snapshot(1)))
        before = run(store.load_versioned("s-1"))
        invalid = make_snapshot(2).model_copy(update=bad)
        constructed = SessionSnapshot.model_construct(**{**make_snapshot(2).__dict__, **bad})
        lease = run(store.acquire("s-1", "owner"))
        attempts: list[Callable[[SessionSnapshot], Coroutine[Any, Any, object]]] = [
            lambda snapshot: store.save("s-1", snapshot),
            lambda snapshot: store.save("s-2", snapshot, expected_version=None),
            lambda snapshot: store.update("s-1", lambda _: snapshot),
            lease.save,
        ]
        for snapshot in (invalid, constructed):
            for attempt in attempts:
                with pytest.raises(InvalidSnapshot) as caught:
                    run(attempt(snapshot))
                assert caught.value.field.split(".")[0] == field
        run(lease.release())  # the lease still works: nothing was written by the refusals
        after = run(store.load_versioned("s-1"))
        assert after is not None
        assert before is not None
        assert after.snapshot == before.snapshot
        assert run(store.load("s-2")) is None

    def test_saved_values_read_back_equal(self, store: SessionPersistence) -> None:
        snapshot = make_snapshot(1).model_copy(
            update={
                "state": {
                    "big": 2**70,
                    "negative_zero": -0.0,
                    "tiny": 5e-324,
                    "huge": 1.7976931348623157e308,
                    "unicode": "\u00e9\u2713\U0001f642",
                    "escapes": '"\\\n\t\u0000',
                    "nested": [[[]], {"": {}}],
                },
                "resume_handle": "",
                "transcript_summary": "\r\n",
            }
        )
        run(store.save("s-1", snapshot))
        loaded = run(store.load("s-1"))
        assert loaded == snapshot
        assert loaded is not None
        assert str(loaded.state["negative_zero"]) == "-0.0"

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"not json",
            b'{"state": {}, "phase": "x"',
            b"[]",
            b'{"foo": 1}',
            b'{"state": {}, "phase": 3, "turn_count": 1, "transcript_summary": "", '
            b'"saved_at": "t"}',
            b'{"state": {}, "phase": "x", "turn_count": -1, "transcript_summary": "", '
            b'"saved_at": "t"}',
            b'{"state": {}, "phase": "x", "turn_count": 4294967296, "transcript_summary": "", '
            b'"saved_at": "t"}',
            b'{"state": [], "phase": "x", "turn_count": 1, "transcript_summary": "", '
            b'"saved_at": "t"}',
            b"\xff\xfe\x00garbage",
        ],
        ids=lambda body: body[:24].decode("latin-1"),
    )
    def test_corrupt_or_foreign_body_raises_corrupt_snapshot(
        self, store: SessionPersistence, body: bytes
    ) -> None:
        run(store._write("s-1", body, ANY_VERSION))
        with pytest.raises(CorruptSnapshot) as caught:
            run(store.load("s-1"))
        assert caught.value.session_id == "s-1"
        assert "s-1" in str(caught.value)
        # A corrupt body can still be replaced or deleted deliberately.
        run(store.save("s-1", make_snapshot(1)))
        assert run(store.load("s-1")) == make_snapshot(1)

    # ----------------------------------------------------------- concurrency

    def test_concurrent_conditional_writers_exactly_one_wins(
        self, store: SessionPersistence
    ) -> None:
        version = run(store.save("race", make_snapshot(0)))
        for round_number in range(self.cas_rounds):
            outcomes = run(self._race(store, version, round_number))
            winners = [(i, out) for i, out in enumerate(outcomes) if isinstance(out, str)]
            losers = [out for out in outcomes if isinstance(out, ConflictError)]
            assert len(winners) == 1, f"round {round_number}: {outcomes!r}"
            assert len(losers) == self.cas_writers - 1, f"round {round_number}: {outcomes!r}"
            writer, version = winners[0]
            expected = make_snapshot(round_number + 1, writer=f"w{writer}")
            self._assert_stored(store, "race", expected, version)

    async def _race(
        self, store: SessionPersistence, version: str, round_number: int
    ) -> list[str | BaseException]:
        saves = [
            store.save(
                "race",
                make_snapshot(round_number + 1, writer=f"w{writer}"),
                expected_version=version,
            )
            for writer in range(self.cas_writers)
        ]
        return await asyncio.gather(*saves, return_exceptions=True)

    def test_concurrent_create_only_writers_exactly_one_wins(
        self, store: SessionPersistence
    ) -> None:
        async def race() -> list[str | BaseException]:
            saves = [
                store.save("new", make_snapshot(1, writer=f"w{n}"), expected_version=None)
                for n in range(self.cas_writers)
            ]
            return await asyncio.gather(*saves, return_exceptions=True)

        outcomes = run(race())
        winners = [n for n, out in enumerate(outcomes) if isinstance(out, str)]
        assert len(winners) == 1, outcomes
        assert sum(isinstance(out, ConflictError) for out in outcomes) == self.cas_writers - 1
        assert run(store.load("new")) == make_snapshot(1, writer=f"w{winners[0]}")

    def test_concurrent_updates_lose_no_increment(self, store: SessionPersistence) -> None:
        tasks, increments = 8, 25

        async def worker() -> None:
            for _ in range(increments):
                await store.update("counter", _increment_or_start, max_attempts=10_000)

        async def main() -> None:
            await asyncio.gather(*(worker() for _ in range(tasks)))

        run(main())
        final = run(store.load("counter"))
        assert final is not None
        assert final.turn_count == tasks * increments

    def test_loads_during_saves_never_see_a_torn_snapshot(self, store: SessionPersistence) -> None:
        padding = 256 * 1024
        run(store.save("torn", make_snapshot(0, padding=padding)))
        saves, loads_per_reader, readers = 20, 20, 4

        async def writer() -> None:
            for turn in range(1, saves + 1):
                await store.save("torn", make_snapshot(turn, padding=padding))

        async def reader() -> list[int]:
            turns = []
            for _ in range(loads_per_reader):
                loaded = await store.load("torn")
                assert loaded is not None, "a snapshot must always be present"
                assert is_self_consistent(loaded), "load observed a torn snapshot"
                turns.append(loaded.turn_count)
            return turns

        async def main() -> list[list[int]]:
            results = await asyncio.gather(writer(), *(reader() for _ in range(readers)))
            return [r for r in results if r is not None]

        observed = run(main())
        for turns in observed:
            assert turns == sorted(turns), "a reader went back in time"
        final = run(store.load("torn"))
        assert final is not None
        assert final.turn_count == saves

    # -------------------------------------------------------------- blocking

    def test_blocking_twins(self, store: SessionPersistence) -> None:
        blocking = store.blocking
        version = blocking.save("b-1", make_snapshot(1), expected_version=None)
        loaded = blocking.load_versioned("b-1")
        assert loaded is not None
        assert loaded.version == version
        assert blocking.load("b-1") == make_snapshot(1)
        with pytest.raises(ConflictError):
            blocking.save("b-1", make_snapshot(2), expected_version=None)
        updated = blocking.update("b-1", _increment)
        assert updated.snapshot.turn_count == 2
        assert list(blocking.list_sessions("b-")) == ["b-1"]
        blocking.delete("b-1", expected_version=updated.version)
        assert blocking.load("b-1") is None

    # --------------------------------------------------------------- helpers

    @staticmethod
    def _assert_stored(
        store: SessionPersistence, session_id: str, snapshot: SessionSnapshot, version: str
    ) -> None:
        loaded = run(store.load_versioned(session_id))
        assert loaded is not None, f"{session_id} should be stored"
        assert loaded.snapshot == snapshot
        assert loaded.version == version


def _increment(current: SessionSnapshot | None) -> SessionSnapshot:
    assert current is not None
    return current.model_copy(update={"turn_count": current.turn_count + 1})


def _increment_or_start(current: SessionSnapshot | None) -> SessionSnapshot:
    if current is None:
        return SessionSnapshot(phase="counting", turn_count=1)
    return _increment(current)


async def _collect(store: SessionPersistence, prefix: str) -> list[str]:
    return [session_id async for session_id in store.list_sessions(prefix)]


def _spy_on_primitives(store: SessionPersistence, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every backend primitive the store calls (they are where I/O happens)."""
    calls: list[str] = []
    for name in ("_read", "_write", "_remove", "_list"):
        original = getattr(store, name)

        def spy(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(store, name, spy)
    return calls
