"""``show`` with lease fields, ``lease release|break``, ``check``, ``history`` (local stores)."""

from __future__ import annotations

import contextlib
import io
import json
from typing import TYPE_CHECKING, Any

import pytest

from sessionstore import BackendError, FencedError, FsPersistence, MemoryPersistence
from sessionstore.cli import main
from sessionstore.contract import ANY_VERSION
from sessionstore.registry import _BACKENDS, register_store
from sessionstore.testing import make_snapshot
from support.cli import run_cli

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sessionstore.blocking import BlockingSessionPersistence
    from sessionstore.contract import ExpectedVersion, RemoveExpected

cli = run_cli


@pytest.fixture
def store(tmp_path: Path) -> BlockingSessionPersistence:
    return FsPersistence(tmp_path).blocking


def test_show_reports_the_lease(store: BlockingSessionPersistence, tmp_path: Path) -> None:
    url = f"file://{tmp_path}"
    store.save("free", make_snapshot(1))
    never = json.loads(cli("show", url, "free", "--json").stdout)
    assert never["lease"] == {"owner": None, "epoch": 0, "held": False, "written_at": None}
    assert "never leased" in cli("show", url, "free").stdout

    lease = store.acquire("free", "europe-west1/instance-7")
    held = json.loads(cli("show", url, "free", "--json").stdout)
    assert held["lease"]["owner"] == "europe-west1/instance-7"
    assert held["lease"]["epoch"] == 1
    assert held["lease"]["held"] is True
    assert held["lease"]["written_at"] is not None
    assert held["version"] == lease.version
    assert "HELD by 'europe-west1/instance-7', epoch 1" in cli("show", url, "free").stdout

    lease.release()
    released = json.loads(cli("show", url, "free", "--json").stdout)
    assert released["lease"]["held"] is False
    assert released["lease"]["epoch"] == 1


def test_break_asks_then_fences_the_holder(
    store: BlockingSessionPersistence, tmp_path: Path
) -> None:
    url = f"file://{tmp_path}"
    store.save("call", make_snapshot(1))
    zombie = store.acquire("call", "europe-west1/instance-7")
    before = store.load_versioned("call")

    declined = run_cli_input("n\n", "lease", "break", url, "call")
    assert declined.returncode == 1
    assert "'europe-west1/instance-7' (epoch 1)" in declined.stderr
    assert "nothing changed" in declined.stderr
    assert store.load_versioned("call") == before

    broken = run_cli_input("y\n", "lease", "break", url, "call")
    assert broken.returncode == 0, broken.stderr
    shown = json.loads(cli("show", url, "call", "--json").stdout)
    assert shown["lease"]["held"] is False
    assert shown["lease"]["epoch"] == 2
    assert shown["lease"]["owner"] == "sessionstore-cli"
    with pytest.raises(FencedError):
        zombie.save(make_snapshot(2))
    assert store.load("call") == make_snapshot(1)


def test_release_acts_as_the_holder(store: BlockingSessionPersistence, tmp_path: Path) -> None:
    url = f"file://{tmp_path}"
    store.save("call", make_snapshot(1))
    holder = store.acquire("call", "us-central1/instance-9")
    before = store.load_versioned("call")

    wrong = cli("lease", "release", url, "call", "--owner", "someone-else", "--yes")
    assert wrong.returncode == 1
    assert "held by 'us-central1/instance-9'" in wrong.stderr
    assert store.load_versioned("call") == before

    released = cli("lease", "release", url, "call", "--owner", "us-central1/instance-9", "-y")
    assert released.returncode == 0, released.stderr
    shown = json.loads(cli("show", url, "call", "--json").stdout)
    assert shown["lease"] == {**shown["lease"], "owner": "us-central1/instance-9", "held": False}
    with pytest.raises(FencedError):
        holder.save(make_snapshot(2))

    again = cli("lease", "release", url, "call", "--yes")
    assert again.returncode == 0
    assert "nothing to do" in again.stdout
    assert cli("lease", "break", url, "missing", "--yes").returncode == 1


def test_history_needs_a_versioned_store(tmp_path: Path) -> None:
    FsPersistence(tmp_path).blocking.save("s", make_snapshot(1))
    result = cli("history", f"file://{tmp_path}", "s")
    assert result.returncode == 2
    assert "versioned bucket" in result.stderr
    assert cli("restore", f"file://{tmp_path}", "s", "v1", "--yes").returncode == 2


def run_cli_input(stdin: str, *args: str) -> Any:
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "sessionstore", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=False,
    )


# ------------------------------------------------------------------ check


@pytest.mark.parametrize("url", ["memory://", "memory://check-named", "file://{tmp}/store"])
def test_check_reports_local_stores_safe(url: str, tmp_path: Path) -> None:
    if url.startswith("file"):
        missing = cli("check", url.format(tmp=tmp_path))
        assert missing.returncode == 1
        assert "does not exist" in missing.stderr
        assert not (tmp_path / "store").exists()  # a mistyped path is not created
        (tmp_path / "store").mkdir()
    result = cli("check", url.format(tmp=tmp_path), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["safe"] is True
    assert [c["name"] for c in report["checks"]] == [
        "create-only writes",
        "If-Match writes",
        "conditional deletes",
    ]
    assert all(c["ok"] for c in report["checks"])
    assert report["checksums"]["ok"] is None  # nothing travels over a network
    if url.startswith("file"):
        assert list((tmp_path / "store").glob("*.json")) == []  # the scratch key is gone
    text = cli("check", url.format(tmp=tmp_path))
    assert "verdict: safe" in text.stdout


class LaxStore(MemoryPersistence):
    """A store that ignores one kind of precondition (chosen by ``lax``)."""

    lax = ""

    async def _write(self, session_id: str, body: bytes, expected: ExpectedVersion) -> str:
        if LaxStore.lax == "unsupported" and expected is not ANY_VERSION:
            raise BackendError("NotImplemented (HTTP 501): conditional writes")
        if (LaxStore.lax == "create" and expected is None) or (
            LaxStore.lax == "match" and isinstance(expected, str)
        ):
            expected = ANY_VERSION
        return await super()._write(session_id, body, expected)

    async def _remove(self, session_id: str, expected: RemoveExpected) -> None:
        if LaxStore.lax == "delete":
            expected = ANY_VERSION
        await super()._remove(session_id, expected)


@pytest.fixture
def lax_scheme() -> Iterator[None]:
    register_store("lax", f"{__name__}:LaxStore")
    yield
    _BACKENDS.pop("lax", None)
    LaxStore.lax = ""


@pytest.mark.parametrize(
    ("lax", "unsafe"),
    [
        ("create", "create-only writes"),
        ("match", "If-Match writes"),
        ("delete", "conditional deletes"),
    ],
)
@pytest.mark.usefixtures("lax_scheme")
def test_check_reports_each_ignored_precondition(lax: str, unsafe: str) -> None:
    LaxStore.lax = lax
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["check", "lax://", "--json"])
    report = json.loads(out.getvalue())
    assert status == 1
    assert report["safe"] is False
    failing = [c["name"] for c in report["checks"] if not c["ok"]]
    assert failing == [unsafe]


@pytest.mark.usefixtures("lax_scheme")
def test_check_reports_a_store_without_conditional_writes() -> None:
    """An S3-compatible service answering 501 to If-None-Match: unsafe, and a clean report."""
    LaxStore.lax = "unsupported"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["check", "lax://", "--json"])
    assert status == 1
    report = json.loads(out.getvalue())
    assert [(c["name"], c["ok"]) for c in report["checks"]] == [
        ("create-only writes", False),
        ("If-Match writes", False),
        ("conditional deletes", False),
    ]
    assert "BackendError" in report["checks"][0]["detail"]
    assert report["checks"][1]["detail"] == "not run"
