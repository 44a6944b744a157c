"""``sessionstore cp``: migration of ids that break the rule, dry runs, reports, concurrency."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import pty
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from sessionstore import FsPersistence, MemoryPersistence, decode_id, open_store
from sessionstore.cli import main
from sessionstore.registry import _BACKENDS, drop_memory_store, register_store
from sessionstore.testing import make_snapshot
from support.cli import run_cli

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sessionstore.contract import ExpectedVersion

cli = run_cli

# What the reference design's FsPersistence wrote for six sessions: three of the
# ids break sessionstore's id rule.
REFERENCE_IDS = ["a b", "sesión", "-dash-first", "call-1", "call-2", "x=y"]
INVALID = {"a b", "sesión", "-dash-first"}


def reference_body(number: int) -> str:
    """A body as the reference design's serde wrote it (no ``_sessionstore`` field)."""
    return json.dumps(make_snapshot(number).model_dump(mode="json"))


@pytest.fixture
def reference_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "reference"
    directory.mkdir()
    for number, name in enumerate(REFERENCE_IDS):
        (directory / f"{name}.json").write_text(reference_body(number), encoding="utf-8")
    return directory


def test_copy_names_every_session_it_does_not_copy(reference_dir: Path, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    result = cli("cp", f"file://{reference_dir}", f"file://{dst}")
    assert result.returncode == 1
    assert "copied 3, skipped 0 existing, failed 3" in result.stdout
    for name in INVALID:
        line = next(line for line in result.stderr.splitlines() if f"{name!r}" in line)
        assert "not copied" in line
        assert "invalid session id" in line
        assert "--encode-ids" in line
    assert sorted(p.name for p in dst.glob("*.json")) == ["call-1.json", "call-2.json", "x=y.json"]


def test_dry_run_writes_nothing_and_reports_the_plan(reference_dir: Path, tmp_path: Path) -> None:
    dst = tmp_path / "dst"
    plain = cli("cp", "--dry-run", f"file://{reference_dir}", f"file://{dst}")
    assert plain.returncode == 1  # the real run would leave three sessions behind
    assert "would copy 3, skipped 0 existing, failed 3" in plain.stdout
    encoded = cli("cp", "--dry-run", "--encode-ids", f"file://{reference_dir}", f"file://{dst}")
    assert encoded.returncode == 0, encoded.stderr
    assert "would copy a b -> a=20b" in encoded.stdout
    assert "would copy 6, skipped 0 existing, failed 0" in encoded.stdout
    assert not dst.exists()


def test_encode_ids_migrates_every_session_reversibly(reference_dir: Path, tmp_path: Path) -> None:
    dst_dir = tmp_path / "dst"
    result = cli("cp", "--encode-ids", "--json", f"file://{reference_dir}", f"file://{dst_dir}")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["copied"] == 6
    assert {o["status"] for o in report["sessions"]} == {"copied"}
    dst = FsPersistence(dst_dir).blocking
    stored = sorted(dst.list_sessions())
    assert len(stored) == 6
    # Every destination id decodes to its source name, and holds that session's snapshot.
    assert sorted(decode_id(session_id) for session_id in stored) == sorted(REFERENCE_IDS)
    for session_id in stored:
        number = REFERENCE_IDS.index(decode_id(session_id))
        assert dst.load(session_id) == make_snapshot(number)
    # A valid name containing '=' is escaped too, so it cannot collide with an encoding.
    assert "x=3Dy" in stored


def test_existing_sessions_are_named_and_fail_unless_skipped(tmp_path: Path) -> None:
    src = FsPersistence(tmp_path / "src").blocking
    dst = FsPersistence(tmp_path / "dst").blocking
    for number in range(3):
        src.save(f"s-{number}", make_snapshot(number))
    dst.save("s-1", make_snapshot(99))
    urls = (f"file://{tmp_path}/src", f"file://{tmp_path}/dst")

    default = cli("cp", *urls)
    assert default.returncode == 1
    assert "copied 2, skipped 1 existing, failed 0" in default.stdout
    assert "'s-1'" in default.stderr
    assert "exists in the destination" in default.stderr
    assert dst.load("s-1") == make_snapshot(99)  # never clobbered

    skipping = cli("cp", "--skip-existing", *urls)
    assert skipping.returncode == 0, skipping.stderr
    assert "copied 0, skipped 3 existing, failed 0" in skipping.stdout

    replacing = cli("cp", "--overwrite", "--json", *urls)
    assert replacing.returncode == 0, replacing.stderr
    assert json.loads(replacing.stdout)["copied"] == 3
    assert dst.load("s-1") == make_snapshot(1)


def test_unreadable_sessions_are_named_with_the_reason(tmp_path: Path) -> None:
    src = tmp_path / "src"
    FsPersistence(src).blocking.save("good", make_snapshot(1))
    (src / "broken.json").write_text("{not json")
    result = cli("cp", "--json", f"file://{src}", f"file://{tmp_path}/dst")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    failed = [o for o in report["sessions"] if o["status"] == "failed"]
    assert [o["source"] for o in failed] == ["broken"]
    assert "CorruptSnapshot" in failed[0]["reason"]
    assert report["copied"] == 1


def test_progress_bar_on_a_terminal_and_none_otherwise(tmp_path: Path) -> None:
    src = FsPersistence(tmp_path / "src").blocking
    for number in range(5):
        src.save(f"s-{number}", make_snapshot(number))
    args = ["cp", f"file://{tmp_path}/src", f"file://{tmp_path}/dst"]
    controller, terminal = pty.openpty()
    chunks: list[bytes] = []
    # Read the terminal while the command runs, so a full pty buffer can never block it.
    reader = threading.Thread(target=_drain, args=(controller, chunks), daemon=True)
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "sessionstore", *args],
            stdout=subprocess.PIPE,
            stderr=terminal,
            env={**os.environ, "TERM": "xterm", "COLUMNS": "100"},
        )
        os.close(terminal)
        reader.start()
        stdout, _ = process.communicate(timeout=60)
        reader.join(timeout=60)
    finally:
        os.close(controller)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert process.returncode == 0
    assert "copying" in screen
    assert "5/5" in screen
    assert b"copied 5" in stdout
    piped = cli(*args[:2], f"file://{tmp_path}/dst2")
    assert piped.returncode == 0
    assert "copying" not in piped.stderr


def _drain(fd: int, chunks: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every process closed its end of the terminal
            return
        if not chunk:
            return
        chunks.append(chunk)


# ------------------------------------------------------------------ concurrency (in process)


class PeakStore(MemoryPersistence):
    """A memory store that records how many writes were in flight at once."""

    in_flight: ClassVar[int] = 0
    peak: ClassVar[int] = 0
    instance: ClassVar[PeakStore | None] = None

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        PeakStore.instance = self

    async def _write(self, session_id: str, body: bytes, expected: ExpectedVersion) -> str:
        PeakStore.in_flight += 1
        PeakStore.peak = max(PeakStore.peak, PeakStore.in_flight)
        try:
            for _ in range(5):  # hand the loop to every other copy that is ready to run
                await asyncio.sleep(0)
            return await super()._write(session_id, body, expected)
        finally:
            PeakStore.in_flight -= 1


@pytest.fixture
def peak_scheme() -> Iterator[str]:
    register_store("peak", f"{__name__}:PeakStore")
    PeakStore.peak = PeakStore.in_flight = 0
    yield "peak://"
    _BACKENDS.pop("peak", None)
    drop_memory_store("cp-source")


@pytest.mark.parametrize("jobs", [1, 4])
def test_copies_run_concurrently_up_to_jobs(peak_scheme: str, jobs: int) -> None:
    source = open_store("memory://cp-source").blocking
    for number in range(20):
        source.save(f"s-{number:02d}", make_snapshot(number))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["cp", "--jobs", str(jobs), "memory://cp-source", peak_scheme])
    assert status == 0
    assert "copied 20" in out.getvalue()
    assert PeakStore.peak == jobs
    assert PeakStore.instance is not None
    copied = PeakStore.instance.blocking
    assert sorted(copied.list_sessions()) == [f"s-{n:02d}" for n in range(20)]
