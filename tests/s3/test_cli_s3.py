"""The ``sessionstore`` command on S3: the demo and cross-store copies, as subprocesses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sessionstore import FsPersistence
from sessionstore.adapters.s3 import S3Persistence
from sessionstore.testing import make_snapshot
from support.cli import run_cli
from support.s3_fixtures import run

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

    from support.s3_server import S3Emulator


def test_demo_and_copy_on_s3(
    s3_server: S3Emulator,
    s3_bucket: str,
    s3_prefix: str,
    aws_sandbox: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    url = f"s3://{s3_bucket}/{s3_prefix}"

    demo = run_cli("demo", "--url", url)
    assert demo.returncode == 0, demo.stderr
    assert "SIGKILL to process" in demo.stdout
    assert "FencedError" in demo.stdout

    local = FsPersistence(tmp_path)
    local.blocking.save("copied-1", make_snapshot(1))
    copied = run_cli("cp", f"file://{tmp_path}", url)
    assert copied.returncode == 0, copied.stderr
    store = S3Persistence(s3_bucket, s3_prefix, endpoint_url=s3_server.endpoint_url)
    assert run(store.load("copied-1")) == make_snapshot(1)
    final = run(store.load("demo-call"))
    assert final is not None
    assert final.turn_count == 6
    assert sorted(run_cli("ls", url).stdout.split()) == ["copied-1", "demo-call"]
    run(store.aclose())


def test_cli_shows_each_retry_against_an_unreachable_endpoint(
    aws_sandbox: None, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CLI user sees the store retrying (a warning per retry on stderr), then the error."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{closed_port}")
    shown = run_cli("show", "s3://some-bucket/p", "s-1")
    assert shown.returncode == 1
    retries = [line for line in shown.stderr.splitlines() if "retrying (attempt" in line]
    assert len(retries) == 3, shown.stderr
    assert [f"attempt {n} of 4" in line for n, line in enumerate(retries, 2)] == [True] * 3
    assert all("GetObject s3://some-bucket/p/s-1.json" in line for line in retries)
    assert "cannot reach S3" in shown.stderr
