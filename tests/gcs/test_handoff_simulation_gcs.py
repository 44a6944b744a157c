"""Issue 6's randomized multi-process handoff simulation, on the GCS emulator.

The region processes reach the emulator (through the precondition-enforcing
proxy) by ``STORAGE_EMULATOR_HOST`` alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from support.handoff_sim import check_history, run_simulation

if TYPE_CHECKING:
    from support.gcs_server import GcsEmulator


@pytest.mark.slow
def test_regions_fighting_over_a_gcs_session_never_fork_it(
    gcs_server: GcsEmulator,
    gcs_bucket: str,
    gcs_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.url)
    result = run_simulation(f"gs://{gcs_bucket}/{gcs_prefix}", regions=3, iterations=30, seed=11)
    check_history(result)
    writes = [r for r in result.records if r["kind"] in ("acquire", "save", "release")]
    assert len(writes) >= 150
    assert result.pauses > 0
    assert any(r["outcome"] == "fenced" for r in writes)
