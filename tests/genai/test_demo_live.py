"""``sessionstore demo --live``, run as a real subprocess on the default local store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessionstore import FsPersistence
from support.cli import run_cli

if TYPE_CHECKING:
    from pathlib import Path


def test_live_demo_on_the_default_store(tmp_path: Path) -> None:
    result = run_cli("demo", "--live", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "SIGKILL to process" in out
    assert "outcome: resumed" in out
    assert "history sent before the next turn: 0 messages" in out
    assert "reply 4 to 'turn 4'" in out  # the resumed server session remembered 1-3
    assert "late save: FencedError" in out
    assert "Live socket closed: True" in out
    assert "us-central1: resumed" in out
    assert "outcome: refused" in out
    stored = FsPersistence(tmp_path / ".sessionstore-demo").blocking.load("demo-live-call")
    assert stored is not None
    assert stored.turn_count == 7
    assert "caller turn 6" in stored.transcript_summary
    assert run_cli("demo", "--live", cwd=tmp_path).returncode == 0  # runs again cleanly


def test_live_demo_refuses_memory() -> None:
    result = run_cli("demo", "--live", "--url", "memory://")
    assert result.returncode == 2
    assert "file://" in result.stderr
