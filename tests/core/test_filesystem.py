"""Filesystem-store guarantees that need real processes, signals and syscalls."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sessionstore import (
    BackendError,
    FsPersistence,
    SessionSnapshot,
    StoreNotFound,
    open_store,
)
from sessionstore.testing import make_snapshot
from sessionstore.testing.snapshots import is_self_consistent
from support.processes import finish, spawn_worker

SEED_FILE = """{
  "state": {
    "key": 42
  },
  "phase": "main",
  "turn_count": 3,
  "transcript_summary": "test",
  "resume_handle": null,
  "saved_at": "2026-03-07T00:00:00Z"
}"""


def _temp_files(directory: Path) -> list[str]:
    return [name for name in os.listdir(directory) if name.endswith(".tmp")]


def test_layout_is_the_seeds_one_file_per_session(tmp_path: Path) -> None:
    store = FsPersistence(tmp_path)
    store.blocking.save("test-session", make_snapshot(1))
    assert (tmp_path / "test-session.json").is_file()
    assert _temp_files(tmp_path) == []


def test_file_written_by_the_seed_loads_unchanged(tmp_path: Path) -> None:
    (tmp_path / "test-session.json").write_text(SEED_FILE)
    loaded = FsPersistence(tmp_path).blocking.load("test-session")
    assert loaded == SessionSnapshot(
        state={"key": 42},
        phase="main",
        turn_count=3,
        transcript_summary="test",
        resume_handle=None,
        saved_at="2026-03-07T00:00:00Z",
    )


def test_save_fsyncs_the_file_before_rename_and_the_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file")
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        events.append("rename")
        real_replace(src, dst)

    store = FsPersistence(tmp_path)
    store.blocking.save("s-1", make_snapshot(0))  # creates directories, sweeps once
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    store.blocking.save("s-1", make_snapshot(1))
    assert events == ["fsync-file", "rename", "fsync-dir"]


def test_listing_skips_temp_lock_and_foreign_files(tmp_path: Path) -> None:
    store = FsPersistence(tmp_path)
    store.blocking.save("real", make_snapshot(1))
    (tmp_path / ".real.json.abc123.tmp").write_bytes(b"{partial")
    (tmp_path / "notes.txt").write_text("not a session")
    (tmp_path / "bad id.json").write_text("{}")
    (tmp_path / "sub.json").mkdir()
    (tmp_path / ".hidden.json").write_text("{}")
    assert list(store.blocking.list_sessions()) == ["real"]


def test_sweep_removes_only_dead_writers_temp_files(tmp_path: Path) -> None:
    store = FsPersistence(tmp_path)
    store.blocking.save("s-1", make_snapshot(1))
    (tmp_path / ".s-1.json.dead01.tmp").write_bytes(b"torn")
    (tmp_path / ".s-2.json.dead02.tmp").write_bytes(b"torn")
    (tmp_path / "unrelated.tmp").write_bytes(b"not ours")
    assert store.sweep() == 2
    assert sorted(_temp_files(tmp_path)) == ["unrelated.tmp"]
    assert store.blocking.load("s-1") == make_snapshot(1)


def test_first_write_of_a_store_sweeps_leftovers(tmp_path: Path) -> None:
    (tmp_path / ".s-1.json.dead01.tmp").write_bytes(b"torn")
    FsPersistence(tmp_path).blocking.save("other", make_snapshot(1))
    assert _temp_files(tmp_path) == []


def test_missing_directory_without_create_is_store_not_found(tmp_path: Path) -> None:
    store = FsPersistence(tmp_path / "absent", create=False)
    with pytest.raises(StoreNotFound, match="absent"):
        store.blocking.save("s-1", make_snapshot(1))
    assert store.blocking.load("s-1") is None
    assert list(store.blocking.list_sessions()) == []
    assert not (tmp_path / "absent").exists()


def test_unwritable_directory_is_access_denied_and_changes_nothing(tmp_path: Path) -> None:
    directory = Path(tempfile.mkdtemp(prefix="sessionstore-ro-"))
    try:
        FsPersistence(directory).blocking.save("s-1", make_snapshot(1))
        script = (
            "import sys\n"
            "from sessionstore import AccessDenied, FsPersistence\n"
            "from sessionstore.testing import make_snapshot\n"
            "try:\n"
            f"    FsPersistence({str(directory)!r}).blocking.save('s-1', make_snapshot(2))\n"
            "except AccessDenied as exc:\n"
            "    print('AccessDenied', exc)\n"
        )
        directory.chmod(0o555)
        command = [sys.executable, "-c", script]
        if os.geteuid() == 0:
            # Root ignores permission bits unless it drops the capabilities that let it.
            drop = "-dac_override,-dac_read_search"
            command = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
        assert result.stdout.startswith("AccessDenied"), result.stderr
        assert FsPersistence(directory).blocking.load("s-1") == make_snapshot(1)
    finally:
        directory.chmod(0o700)
        shutil.rmtree(directory)


def test_a_file_in_place_of_the_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    store = FsPersistence(blocker)
    with pytest.raises(BackendError, match="blocker"):
        store.blocking.save("s-1", make_snapshot(1))
    assert blocker.read_text() == "x"


def test_file_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    absolute = open_store(f"file://{tmp_path}/abs")
    assert isinstance(absolute, FsPersistence)
    assert absolute.directory == tmp_path / "abs"
    monkeypatch.chdir(tmp_path)
    relative = open_store("file://rel/dir")
    assert isinstance(relative, FsPersistence)
    relative.blocking.save("s-1", make_snapshot(1))
    assert (tmp_path / "rel" / "dir" / "s-1.json").is_file()


# ------------------------------------------------------------------ processes


def test_saves_from_several_processes_never_tear(tmp_path: Path) -> None:
    url = f"file://{tmp_path}"
    writers = [
        spawn_worker("save-loop", url, "shared", f"p{n}", "40", str(64 * 1024)) for n in range(4)
    ]
    store = FsPersistence(tmp_path)
    observed = 0
    while any(writer.poll() is None for writer in writers):
        loaded = store.blocking.load("shared")
        if loaded is not None:
            assert is_self_consistent(loaded), "a load observed a torn snapshot"
            observed += 1
    for writer in writers:
        finish(writer)
    final = store.blocking.load("shared")
    assert final is not None
    assert is_self_consistent(final)
    assert final.turn_count == 40
    assert observed > 0
    assert _temp_files(tmp_path) == []


@pytest.mark.parametrize("mode", ["update-counter", "cas-counter"])
def test_compare_and_swap_counters_across_processes(tmp_path: Path, mode: str) -> None:
    url = f"file://{tmp_path}"
    store = FsPersistence(tmp_path)
    store.blocking.save("counter", SessionSnapshot(phase="counting"))
    processes, increments = 4, 50
    workers = [spawn_worker(mode, url, "counter", str(increments)) for _ in range(processes)]
    for worker in workers:
        finish(worker)
    final = store.blocking.load("counter")
    assert final is not None
    assert final.turn_count == processes * increments


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_an_acknowledged_save(tmp_path: Path) -> None:
    url = f"file://{tmp_path}"
    rng = random.Random(20261125)
    store = FsPersistence(tmp_path)
    for iteration in range(40):
        writer = f"it{iteration}"
        worker = spawn_worker(
            "save-loop", url, "crash", writer, "1000", str(rng.choice([0, 4096, 200_000]))
        )
        assert worker.stdout is not None
        kill_after = rng.randint(1, 15)
        acked = 0
        for line in worker.stdout:
            acked = int(line.split()[1])
            if acked >= kill_after:
                break
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        loaded = store.blocking.load("crash")
        assert loaded is not None
        assert is_self_consistent(loaded), f"iteration {iteration}: torn file after SIGKILL"
        assert loaded.state["writer"] == writer
        assert loaded.turn_count >= acked, f"iteration {iteration}: acknowledged save lost"
        assert list(store.blocking.list_sessions()) == ["crash"]
    store.sweep()
    assert _temp_files(tmp_path) == []


def test_async_and_blocking_forms_share_one_store(tmp_path: Path) -> None:
    store = FsPersistence(tmp_path)

    async def main() -> str:
        return await store.save("s-1", make_snapshot(1))

    version = asyncio.run(main())
    loaded = store.blocking.load_versioned("s-1")
    assert loaded is not None
    assert loaded.version == version
