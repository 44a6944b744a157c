"""Issue 6's randomized multi-process handoff simulation, on the filesystem store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from support.handoff_sim import check_history, run_simulation

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_regions_fighting_over_a_session_never_fork_it(tmp_path: Path, seed: int) -> None:
    result = run_simulation(f"file://{tmp_path}", regions=3, iterations=40, seed=seed)
    check_history(result)
    writes = [r for r in result.records if r["kind"] in ("acquire", "save", "release")]
    fenced = [r for r in writes if r["outcome"] == "fenced"]
    assert len(writes) >= 200
    assert result.pauses > 0
    assert fenced, "paused regions must come back as fenced zombies"
    assert len(result.chain) == len(writes) - len(fenced)


def test_the_checker_catches_a_fork_and_a_stale_epoch(tmp_path: Path) -> None:
    result = run_simulation(f"file://{tmp_path}", regions=2, iterations=5, seed=3)
    check_history(result)
    acquire = next(r for r in result.chain if r["kind"] == "acquire")
    forked = dict(acquire, version="forked-version", marker="fork")
    result.records.append(forked)
    with pytest.raises(AssertionError, match="fork"):
        check_history(result)
    result.records.remove(forked)
    save = next(r for r in result.chain if r["kind"] == "save")
    save["epoch"] -= 1
    with pytest.raises(AssertionError, match="superseded epoch"):
        check_history(result)
