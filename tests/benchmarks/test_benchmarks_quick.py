"""The benchmark suite keeps working, and every operation keeps its request count.

Runs ``python -m benchmarks --quick`` (the documented command, in quick mode) in a
subprocess against the loopback emulators, then checks what it measured. Request
counts are deterministic, so they are asserted exactly, with the HTTP methods the
servers saw; timings are never asserted (this machine is noisy, and the benchmark's
job is to report them, not to gate on them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the memory probe reads /proc (Linux)"
)

#: (requests, methods in order) per operation, as each emulator must see them.
S3_EXPECTED: dict[str, tuple[int, list[str]]] = {
    "save, first operation of a new store": (1, ["PUT"]),
    "save, unconditional": (1, ["PUT"]),
    "save, create-only (expected_version=None)": (1, ["PUT"]),
    "save, conditional (expected_version=v)": (1, ["PUT"]),
    "save, conditional, stale version (ConflictError)": (1, ["PUT"]),
    "load, present": (1, ["GET"]),
    "load, absent": (1, ["GET"]),
    "delete, unconditional": (1, ["DELETE"]),
    "delete, conditional": (1, ["DELETE"]),
    "update, existing session": (2, ["GET", "PUT"]),
    "update, new session": (2, ["GET", "PUT"]),
    "acquire, existing session": (2, ["GET", "PUT"]),
    "acquire, new session (writes a claim)": (2, ["GET", "PUT"]),
    "save, keyed (idempotency_key), new key": (2, ["GET", "PUT"]),
    "save, keyed (idempotency_key), key already applied": (1, ["GET"]),
    "update, keyed, key already applied": (1, ["GET"]),
    "lease.save": (1, ["PUT"]),
    "lease.release": (1, ["PUT"]),
    "list_sessions, one page": (1, ["GET"]),
    "raw SDK put (reference)": (1, ["PUT"]),
    "raw SDK get (reference)": (1, ["GET"]),
}
# GCS uploads are POSTs (multipart upload); everything else is the same shape.
GCS_EXPECTED = {
    operation: (count, ["POST" if method == "PUT" else method for method in methods])
    for operation, (count, methods) in S3_EXPECTED.items()
}
STATUSES = {
    "save, conditional, stale version (ConflictError)": {"412"},
    "load, absent": {"404"},
    "update, new session": {"404", "200"},
    "acquire, new session (writes a claim)": {"404", "200"},
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("benchmarks-quick")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"benchmarks --quick failed:\n{done.stderr[-5000:]}"
    for name in ("RESULTS.md", "results.json", "latency.png"):
        assert (out / name).is_file(), f"{name} was not written"
    assert (out / "latency.png").read_bytes().startswith(b"\x89PNG")
    loaded: dict[str, Any] = json.loads((out / "results.json").read_text())
    loaded["_markdown"] = (out / "RESULTS.md").read_text()
    return loaded


@pytest.mark.parametrize(
    ("backend", "expected"), [("s3", S3_EXPECTED), ("gcs", GCS_EXPECTED)], ids=["s3", "gcs"]
)
def test_request_counts_are_exact(
    results: dict[str, Any], backend: str, expected: dict[str, tuple[int, list[str]]]
) -> None:
    rows = {row["operation"]: row for row in results["requests"] if row["backend"] == backend}
    assert set(expected) <= set(rows), f"operations not measured: {set(expected) - set(rows)}"
    for operation, (count, methods) in expected.items():
        row = rows[operation]
        parts = [part.split() for part in row["detail"].split(", ") if part]
        seen = [method for method, _ in parts]
        statuses = {status for _, status in parts}
        assert (row["requests"], seen) == (count, methods), f"{backend} {operation}: {row}"
        assert row["expected"] == count, f"the benchmark's own target drifted: {row}"
        assert statuses <= STATUSES.get(operation, {"200", "204"}), f"{backend} {operation}: {row}"


def test_adapter_avoids_the_sdk_background_request(results: dict[str, Any]) -> None:
    """The raw SDK's first GCS upload also queues a bucket GET; the adapter's first save doesn't."""
    rows = {(r["backend"], r["operation"]): r for r in results["requests"]}
    first_raw = rows["gcs", "raw SDK, first put of a new client (incl. background requests)"]
    assert first_raw["requests"] >= 1
    assert rows["gcs", "save, first operation of a new store"]["requests"] == 1


def test_no_cloud_sdk_is_imported_before_a_cloud_store_is_opened(
    results: dict[str, Any],
) -> None:
    rows = {row["variant"]: row for row in results["coldstart"]}
    for variant in (
        "import sessionstore",
        "sessionstore: import, open memory://, save + load",
    ):
        assert rows[variant]["sdk_modules"] == [], variant
    for variant in ("sessionstore: open s3://, first save", "sessionstore: open gs://, first save"):
        assert rows[variant]["phases"]["sdk before open"] == 0, variant
        assert rows[variant]["sdk_modules"], f"{variant}: opening it should load its SDK"


def test_every_section_reported(results: dict[str, Any]) -> None:
    """Each measurement produced rows and a section (values are reported, never asserted)."""
    for section in ("latency", "filesystem", "coldstart", "concurrency"):
        assert results[section], section
    scaling = results["scaling"]
    assert scaling["rows"]
    assert scaling["rss"]
    assert set(scaling["blind_spot"]) == {"rss_peak", "tracemalloc_peak"}
    markdown: str = results["_markdown"]
    for heading in (
        "## Targets",
        "## 1. Requests per operation",
        "## 2. Latency",
        "## 3. Filesystem",
        "## 4. Size scaling",
        "## 5. Cold start",
        "## 6. Concurrency",
        "## 7. Findings",
    ):
        assert heading in markdown, heading
