"""The ``sessionstore`` command, run as a real subprocess."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sessionstore import FsPersistence
from sessionstore.testing import make_snapshot
from support.cli import run_cli

if TYPE_CHECKING:
    from pathlib import Path


cli = run_cli


def test_demo_on_the_default_store(tmp_path: Path) -> None:
    result = cli("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "SIGKILL to process" in out
    assert "loaded turn 3" in out
    assert "ConflictError" in out
    assert "FencedError" in out
    stored = FsPersistence(tmp_path / ".sessionstore-demo").blocking.load("demo-call")
    assert stored is not None
    assert stored.turn_count == 6
    assert stored.state["served_by"] == "us-central1"
    # A second run starts over cleanly.
    assert cli("demo", cwd=tmp_path).returncode == 0


def test_demo_on_memory() -> None:
    result = cli("demo", "--url", "memory://")
    assert result.returncode == 0, result.stderr
    assert "FencedError" in result.stdout


def test_ls_show_rm_cp(tmp_path: Path) -> None:
    src = FsPersistence(tmp_path / "src").blocking
    for number in range(3):
        src.save(f"s-{number}", make_snapshot(number))
    url = f"file://{tmp_path}/src"

    listed = cli("ls", url)
    assert listed.returncode == 0
    assert sorted(listed.stdout.split()) == ["s-0", "s-1", "s-2"]

    shown = cli("show", url, "s-1")
    assert shown.returncode == 0
    document = json.loads(shown.stdout)
    assert document["snapshot"] == make_snapshot(1).model_dump(mode="json")
    version = document["version"]

    copied = cli("cp", url, f"file://{tmp_path}/dst")
    assert copied.returncode == 0
    assert "copied 3" in copied.stdout
    dst = FsPersistence(tmp_path / "dst").blocking
    assert [dst.load(f"s-{n}") for n in range(3)] == [make_snapshot(n) for n in range(3)]
    again = cli("cp", url, f"file://{tmp_path}/dst")
    assert "copied 0, skipped 3" in again.stdout

    stale = cli("rm", url, "s-1", "--version", "not-the-version")
    assert stale.returncode == 1
    assert "ConflictError" in stale.stderr
    assert src.load("s-1") == make_snapshot(1)
    assert cli("rm", url, "s-1", "--version", version).returncode == 0
    assert src.load("s-1") is None


def test_bad_input_gets_clear_messages_and_exit_codes(tmp_path: Path) -> None:
    url = f"file://{tmp_path}"
    missing = cli("show", url, "nobody")
    assert missing.returncode == 1
    assert "no session 'nobody'" in missing.stderr
    bad_id = cli("show", url, "../etc/passwd")
    assert bad_id.returncode == 2
    assert "invalid session id" in bad_id.stderr
    bad_url = cli("ls", "ftp://example")
    assert bad_url.returncode == 2
    assert "unknown store scheme" in bad_url.stderr
    usage = cli("frobnicate")
    assert usage.returncode == 2
    (tmp_path / "broken.json").write_text("{not json")
    corrupt = cli("show", url, "broken")
    assert corrupt.returncode == 1
    assert "CorruptSnapshot" in corrupt.stderr
    assert "Traceback" not in corrupt.stderr
