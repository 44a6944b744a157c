"""The ``sessionstore`` command on GCS: the demo and cross-store copies, as subprocesses."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import pytest

from sessionstore import ConflictError, FsPersistence
from sessionstore.adapters.gcs import GcsPersistence
from sessionstore.testing import make_snapshot
from support.cli import run_cli
from support.gcs_fixtures import FAST_RETRY, run

if TYPE_CHECKING:
    from pathlib import Path

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
    assert final.turn_count == 7  # six turns, then one turn delivered twice: applied once


VERSIONED_BUCKET = "sessionstore-versioned"


def _create_versioned_bucket(server: GcsEmulator, name: str) -> None:
    body = json.dumps({"name": name, "versioning": {"enabled": True}}).encode()
    request = urllib.request.Request(
        f"{server.direct_url}/storage/v1/b?project=sessionstore-tests",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with contextlib.suppress(urllib.error.HTTPError):  # 409: exists from an earlier test
        urllib.request.urlopen(request, timeout=10).close()


def test_history_and_restore_on_object_generations(
    gcs_server: GcsEmulator, gcs_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.url)
    _create_versioned_bucket(gcs_server, VERSIONED_BUCKET)
    url = f"gs://{VERSIONED_BUCKET}/{gcs_prefix}"
    store = GcsPersistence(VERSIONED_BUCKET, gcs_prefix, **FAST_RETRY)
    first = run(store.save("call", make_snapshot(1)))
    second = run(store.save("call", make_snapshot(2), expected_version=first))
    third = run(store.save("call", make_snapshot(3), expected_version=second))

    listed = run_cli("history", url, "call", "--json")
    assert listed.returncode == 0, listed.stderr
    versions = json.loads(listed.stdout)["versions"]
    assert [v["version_id"] for v in versions] == [third, second, first]
    assert [v["current"] for v in versions] == [True, False, False]

    restored = run_cli("restore", url, "call", first, "--yes")
    assert restored.returncode == 0, restored.stderr
    now = run(store.load_versioned("call"))
    assert now is not None
    assert now.snapshot == make_snapshot(1)
    assert now.version not in (first, second, third)  # a new generation, never an old one
    with pytest.raises(ConflictError):
        run(store.save("call", make_snapshot(9), expected_version=first))
    after = json.loads(run_cli("history", url, "call", "--json").stdout)["versions"]
    assert [v["version_id"] for v in after] == [now.version, third, second, first]

    missing = run_cli("restore", url, "call", "12345", "--yes")
    assert missing.returncode == 1
    assert "no generation 12345" in missing.stderr
    run(store.aclose())


def test_check_through_the_proxy_is_safe(
    gcs_server: GcsEmulator, gcs_bucket: str, gcs_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.url)
    result = run_cli("check", f"gs://{gcs_bucket}/{gcs_prefix}", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["safe"] is True
    assert all(check["ok"] for check in report["checks"])


def test_check_on_fake_gcs_server_directly_finds_conditional_deletes_unsafe(
    gcs_server: GcsEmulator, gcs_bucket: str, gcs_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the proxy, fake-gcs-server deletes on a stale ifGenerationMatch."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.direct_url)
    result = run_cli("check", f"gs://{gcs_bucket}/{gcs_prefix}", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["safe"] is False
    verdicts = {check["name"]: check["ok"] for check in report["checks"]}
    assert verdicts == {
        "create-only writes": True,
        "If-Match writes": True,
        "conditional deletes": False,
    }
    assert report["checksums"]["ok"] is False  # fake-gcs-server stores a wrong CRC32C too
    text = run_cli("check", f"gs://{gcs_bucket}/{gcs_prefix}")
    assert text.returncode == 1
    assert "UNSAFE" in text.stdout
