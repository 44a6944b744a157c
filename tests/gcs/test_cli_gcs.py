"""The ``sessionstore`` command on GCS: the demo and cross-store copies, as subprocesses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessionstore import FsPersistence
from sessionstore.testing import make_snapshot
from support.cli import run_cli

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from support.gcs_server import GcsEmulator


def test_demo_and_copy_on_gcs(
    gcs_server: GcsEmulator,
    gcs_bucket: str,
    gcs_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.url)
    url = f"gs://{gcs_bucket}/{gcs_prefix}"

    demo = run_cli("demo", "--url", url)
    assert demo.returncode == 0, demo.stderr
    assert "SIGKILL to process" in demo.stdout
    assert "FencedError" in demo.stdout

    FsPersistence(tmp_path).blocking.save("copied-1", make_snapshot(1))
    copied = run_cli("cp", f"file://{tmp_path}", url)
    assert copied.returncode == 0, copied.stderr
    back = tmp_path / "back"
    assert run_cli("cp", url, f"file://{back}").returncode == 0
    restored = FsPersistence(back).blocking
    assert restored.load("copied-1") == make_snapshot(1)
    final = restored.load("demo-call")
    assert final is not None
    assert final.turn_count == 6
