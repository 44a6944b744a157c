"""Issue 6's randomized multi-process handoff simulation, on the S3 emulator.

The region processes reach the emulator through ``AWS_ENDPOINT_URL_S3`` alone, as
a real deployment would reach S3 through its environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from support.handoff_sim import check_history, run_simulation

if TYPE_CHECKING:
    from support.s3_server import S3Emulator


@pytest.mark.slow
def test_regions_fighting_over_an_s3_session_never_fork_it(
    s3_server: S3Emulator,
    s3_bucket: str,
    s3_prefix: str,
    aws_sandbox: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    result = run_simulation(f"s3://{s3_bucket}/{s3_prefix}", regions=3, iterations=30, seed=7)
    check_history(result)
    writes = [r for r in result.records if r["kind"] in ("acquire", "save", "release")]
    assert len(writes) >= 150
    assert result.pauses > 0
    assert any(r["outcome"] == "fenced" for r in writes)
