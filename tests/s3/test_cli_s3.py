"""The ``sessionstore`` command on S3: the demo and cross-store copies, as subprocesses."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from sessionstore import ConflictError, FencedError, FsPersistence
from sessionstore.adapters.s3 import S3Persistence
from sessionstore.testing import make_snapshot
from support.cli import run_cli
from support.s3_fixtures import run

if TYPE_CHECKING:
    from pathlib import Path

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
    assert final.turn_count == 7  # six turns, then one turn delivered twice: applied once
    assert sorted(run_cli("ls", url).stdout.split()) == ["copied-1", "demo-call"]
    run(store.aclose())


VERSIONED_BUCKET = "sessionstore-versioned"


@pytest.fixture
def s3_env(s3_server: S3Emulator, aws_sandbox: None, monkeypatch: pytest.MonkeyPatch) -> S3Emulator:
    """Point CLI subprocesses (boto3 from the environment) at the emulator."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    return s3_server


def test_versions_are_shown_whole_and_paste_back_into_rm(
    s3_env: S3Emulator, s3_bucket: str, s3_prefix: str
) -> None:
    url = f"s3://{s3_bucket}/{s3_prefix}"
    store = S3Persistence(s3_bucket, s3_prefix, endpoint_url=s3_env.endpoint_url)
    etag = run(store.save("s-1", make_snapshot(1)))
    assert etag.startswith('"')  # S3 ETags carry their quotes
    shown = run_cli("show", url, "s-1")
    assert shown.returncode == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if line.startswith("version"))
    pasted = shlex.split(line)[1]  # what a shell makes of the text as printed
    assert pasted == etag
    assert json.loads(run_cli("show", url, "s-1", "--json").stdout)["version"] == etag
    assert run_cli("rm", url, "s-1", "--version", "not-it").returncode == 1
    removed = subprocess.run(  # pasted into a shell exactly as printed
        f"{shlex.quote(sys.executable)} -m sessionstore rm {url} s-1 --version {line.split()[1]}",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert removed.returncode == 0, removed.stderr
    assert run(store.load("s-1")) is None
    run(store.aclose())


def test_history_and_restore_on_a_versioned_bucket(s3_env: S3Emulator, s3_prefix: str) -> None:
    admin = s3_env.admin
    s3_env.create_bucket(VERSIONED_BUCKET)
    admin.put_bucket_versioning(
        Bucket=VERSIONED_BUCKET, VersioningConfiguration={"Status": "Enabled"}
    )
    url = f"s3://{VERSIONED_BUCKET}/{s3_prefix}"
    store = S3Persistence(VERSIONED_BUCKET, s3_prefix, endpoint_url=s3_env.endpoint_url)
    first = run(store.save("call", make_snapshot(1)))
    second = run(store.save("call", make_snapshot(2), expected_version=first))
    lease = run(store.acquire("call", "europe-west1/instance-2"))
    third = lease.version
    assert third is not None

    listed = run_cli("history", url, "call", "--json")
    assert listed.returncode == 0, listed.stderr
    versions = json.loads(listed.stdout)["versions"]
    assert [v["version"] for v in versions] == [third, second, first]  # newest first
    assert [v["current"] for v in versions] == [True, False, False]
    text = run_cli("history", url, "call").stdout
    assert all(f"version_id {v['version_id']}" in text for v in versions)

    oldest = versions[-1]["version_id"]
    declined = subprocess.run(
        [sys.executable, "-m", "sessionstore", "restore", url, "call", oldest],
        input="no\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert declined.returncode == 1
    assert run(store.load_versioned("call")).version == third  # type: ignore[union-attr]

    restored = run_cli("restore", url, "call", oldest, "--yes")
    assert restored.returncode == 0, restored.stderr
    now = run(store.load_versioned("call"))
    assert now is not None
    assert now.snapshot == make_snapshot(1)
    # A fresh write id: the restored object has a new ETag, so the writer that still
    # holds the first version's ETag stays refused (a byte-for-byte copy would revive it).
    assert now.version not in (first, second, third)
    with pytest.raises(ConflictError):
        run(store.save("call", make_snapshot(9), expected_version=first))
    with pytest.raises(FencedError):  # the lease holder was superseded like by any write
        run(lease.save(make_snapshot(3)))
    shown = json.loads(run_cli("show", url, "call", "--json").stdout)
    assert shown["lease"]["epoch"] == 1  # lease fields of the replaced body are kept

    missing = run_cli("restore", url, "call", "no-such-version", "--yes")
    assert missing.returncode == 1
    assert "no readable version" in missing.stderr
    run(store.aclose())


def test_check_reports_moto_safe(s3_env: S3Emulator, s3_bucket: str, s3_prefix: str) -> None:
    url = f"s3://{s3_bucket}/{s3_prefix}"
    result = run_cli("check", url, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["safe"] is True
    assert all(check["ok"] for check in report["checks"])
    assert report["checksums"]["ok"] is not None  # a real answer either way
    leftover = s3_env.admin.list_objects_v2(Bucket=s3_bucket, Prefix=s3_prefix)
    assert leftover.get("KeyCount", 0) == 0  # the scratch keys are gone


def test_copy_migrates_invalid_keys_from_s3(
    s3_env: S3Emulator, s3_bucket: str, s3_prefix: str, tmp_path: Path
) -> None:
    body = json.dumps(make_snapshot(1).model_dump(mode="json")).encode()
    for name in ("a b", "ok-1"):
        s3_env.admin.put_object(Bucket=s3_bucket, Key=f"{s3_prefix}/{name}.json", Body=body)
    url = f"s3://{s3_bucket}/{s3_prefix}"
    plain = run_cli("cp", url, f"file://{tmp_path}/plain")
    assert plain.returncode == 1
    assert "'a b'" in plain.stderr
    encoded = run_cli("cp", "--encode-ids", url, f"file://{tmp_path}/enc")
    assert encoded.returncode == 0, encoded.stderr
    assert sorted(FsPersistence(tmp_path / "enc").blocking.list_sessions()) == ["a=20b", "ok-1"]


def test_history_on_an_unversioned_bucket_says_so(
    s3_env: S3Emulator, s3_bucket: str, s3_prefix: str
) -> None:
    store = S3Persistence(s3_bucket, s3_prefix, endpoint_url=s3_env.endpoint_url)
    run(store.save("call", make_snapshot(1)))
    run(store.save("call", make_snapshot(2)))
    listed = run_cli("history", f"s3://{s3_bucket}/{s3_prefix}", "call")
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 1  # only the current object is kept
    assert "no versioning enabled" in listed.stderr
    none = run_cli("history", f"s3://{s3_bucket}/{s3_prefix}", "nobody")
    assert none.returncode == 1
    assert "no versions of 'nobody'" in none.stderr
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
