"""The ``sessionstore`` command, run as a real subprocess."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from sessionstore import FsPersistence, __version__
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
    assert "turn 6 -> 7: applied once" in out
    stored = FsPersistence(tmp_path / ".sessionstore-demo").blocking
    loaded = stored.load_versioned("demo-call")
    assert loaded is not None
    assert loaded.snapshot.turn_count == 7  # six turns, then one turn delivered twice
    assert loaded.snapshot.state["served_by"] == "lambda"
    # A second run starts over cleanly.
    assert cli("demo", cwd=tmp_path).returncode == 0


def test_demo_closing_hint_runs_as_printed(tmp_path: Path) -> None:
    """The venv is not activated: the hint names the interpreter, and works pasted as is."""
    result = cli("demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    hint = result.stdout.strip().splitlines()[-1]
    _, _, command = hint.partition("Look at it: ")
    argv = shlex.split(command)
    assert argv[:3] == [sys.executable, "-m", "sessionstore"]
    shown = subprocess.run(
        argv, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert shown.returncode == 0, shown.stderr
    assert "session   demo-call" in shown.stdout
    assert '"turn_count": 7' in shown.stdout


def test_demo_shows_versions_in_full(tmp_path: Path) -> None:
    result = cli("demo", cwd=tmp_path)
    store = FsPersistence(tmp_path / ".sessionstore-demo").blocking
    final = store.load_versioned("demo-call")
    assert final is not None
    printed = [line for line in result.stdout.splitlines() if "turn 4 saved" in line]
    assert printed
    assert ".." not in printed[0]
    version_words = [word for word in printed[0].split() if len(word) >= 32]
    assert len(version_words) == 2  # the version it built on and the new one, untruncated


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
    assert listed.stdout.split() == ["s-0", "s-1", "s-2"]
    as_json = json.loads(cli("ls", url, "--json", "--prefix", "s-1").stdout)
    assert as_json["sessions"] == ["s-1"]
    assert as_json["invalid_ids"] == []

    shown = cli("show", url, "s-1", "--json")
    assert shown.returncode == 0
    document = json.loads(shown.stdout)
    assert document["snapshot"] == make_snapshot(1).model_dump(mode="json")
    version = document["version"]
    text = cli("show", url, "s-1").stdout
    assert f"version   {version}" in text

    copied = cli("cp", url, f"file://{tmp_path}/dst")
    assert copied.returncode == 0, copied.stderr
    assert "copied 3, skipped 0 existing, failed 0" in copied.stdout
    dst = FsPersistence(tmp_path / "dst").blocking
    assert [dst.load(f"s-{n}") for n in range(3)] == [make_snapshot(n) for n in range(3)]

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
    assert cli("cp", url, url, "--jobs", "0").returncode == 2


# ------------------------------------------------------------------ small things


def test_ls_of_a_missing_directory_or_a_file_is_an_error(tmp_path: Path) -> None:
    missing = cli("ls", f"file://{tmp_path}/nothing-here")
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr
    (tmp_path / "plain").write_text("x")
    not_a_dir = cli("ls", f"file://{tmp_path}/plain")
    assert not_a_dir.returncode == 1
    assert "is not a directory" in not_a_dir.stderr
    assert not (tmp_path / "nothing-here").exists()  # looking created nothing
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("ls", f"file://{empty}").returncode == 0


def test_file_localhost_url_is_the_absolute_path(tmp_path: Path) -> None:
    FsPersistence(tmp_path / "abs").blocking.save("s-1", make_snapshot(1))
    listed = cli("ls", f"file://localhost{tmp_path}/abs", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["s-1"]
    assert not (tmp_path / "localhost").exists()


def test_version_and_python_dash_m_sessionstore() -> None:
    for argv in (["-m", "sessionstore", "--version"], ["-m", "sessionstore.cli", "--version"]):
        result = subprocess.run(
            [sys.executable, *argv], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"sessionstore {__version__}"


def test_every_argument_has_help() -> None:
    import argparse

    from sessionstore.cli import build_parser

    def walk(parser: argparse.ArgumentParser, path: str) -> list[str]:
        missing = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    missing += walk(sub, f"{path} {name}")
                    if not any(c.dest == name for c in action._choices_actions):
                        missing.append(f"{path} {name}")
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {action.dest}")
        return missing

    assert walk(build_parser(), "sessionstore") == []
    # and as a user sees it:
    shown = cli("cp", "--help")
    assert shown.returncode == 0
    for text in ("--encode-ids", "--dry-run", "--jobs", "--json", "the store to copy from"):
        assert text in shown.stdout


def test_shell_completion_through_argcomplete(tmp_path: Path) -> None:
    pytest.importorskip("argcomplete")
    out = tmp_path / "completions"
    line = "sessionstore ch"
    result = run_cli(
        env={
            "_ARGCOMPLETE": "1",
            "_ARGCOMPLETE_IFS": "\n",
            "COMP_LINE": line,
            "COMP_POINT": str(len(line)),
            "COMP_TYPE": "9",
            "_ARGCOMPLETE_STDOUT_FILENAME": str(out),
        }
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text().split() == ["check"]


@pytest.mark.parametrize("url_mode", [None, "0640"])
def test_cli_honours_file_mode_in_the_url(tmp_path: Path, url_mode: str | None) -> None:
    src = FsPersistence(tmp_path / "src").blocking
    src.save("s-1", make_snapshot(1))
    query = f"?mode={url_mode}" if url_mode else ""
    dst = tmp_path / "dst"
    copied = subprocess.run(
        # umask 022 so the requested bits are exactly what is created
        [
            *("sh", "-c", 'umask 022 && exec "$@"', "sh", sys.executable, "-m", "sessionstore"),
            *("cp", f"file://{tmp_path}/src", f"file://{dst}{query}"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert copied.returncode == 0, copied.stderr
    expected = 0o640 if url_mode else 0o600
    assert (dst / "s-1.json").stat().st_mode & 0o777 == expected
