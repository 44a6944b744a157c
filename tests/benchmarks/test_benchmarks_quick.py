"""The benchmark suite keeps working, and every operation keeps its request count.

Runs ``python -m benchmarks --quick`` (the documented command, in quick mode) in a
subprocess against the loopback servers, then checks what it counted. Request counts
and round trips (exchanges on the wire) are deterministic, so they are asserted
exactly, with the HTTP methods the servers saw; the quick run takes no timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("obstore")

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
    for name in ("RESULTS.md", "results.json"):
        assert (out / name).is_file(), f"{name} was not written"
    loaded: dict[str, Any] = json.loads((out / "results.json").read_text())
    loaded["_markdown"] = (out / "RESULTS.md").read_text()
    return loaded


@pytest.mark.parametrize(
    ("backend", "expected"),
    [("s3", S3_EXPECTED), ("s3-obstore", S3_EXPECTED), ("gcs", GCS_EXPECTED)],
    ids=["s3", "s3-obstore", "gcs"],
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


#: Round trips per operation on a warm connection (exchanges counted on the wire).
ROUND_TRIPS = {
    "save": 1,
    "save, create-only": 1,
    "save, conditional": 1,
    "load": 1,
    "delete": 1,
    "delete, conditional": 1,
    "update": 2,
    "acquire": 2,
}


@pytest.mark.parametrize("transport", ["s3 boto3", "s3 obstore", "gcs"])
def test_round_trips_are_exact(results: dict[str, Any], transport: str) -> None:
    rows = {r["operation"]: r for r in results["roundtrips"] if r["transport"] == transport}
    seen = {
        op: (r["exchanges"], r["new_connections"], r["expect_headers"]) for op, r in rows.items()
    }
    assert seen == {op: (count, 0, 0) for op, count in ROUND_TRIPS.items()}


def test_raw_boto3_reference_pays_the_expect_round_trip(results: dict[str, Any]) -> None:
    (raw,) = [r for r in results["roundtrips"] if r["transport"] == "s3 raw boto3"]
    assert (raw["exchanges"], raw["expect_headers"]) == (2, 1)


def test_quick_run_reports_counts_and_no_timings(results: dict[str, Any]) -> None:
    assert results["quick"] is True
    assert {"requests", "roundtrips"} <= set(results)
    assert not {"cpu", "throughput", "coldstart"} & set(results)
    markdown: str = results["_markdown"]
    for heading in (
        "### Machine",
        "### Requests per operation",
        "### Round trips per operation",
    ):
        assert heading in markdown, heading
    assert "load average" in markdown
    assert "not timed" in markdown
