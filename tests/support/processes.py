"""Start store workers (``support.store_worker``) as real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent


def spawn_worker(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``python -m support.store_worker ARGS`` with stdout piped (line-buffered text)."""
    return spawn_module("support.store_worker", *args, env=env)


def spawn_module(
    module: str, *args: str, env: dict[str, str] | None = None, stdin: bool = False
) -> subprocess.Popen[str]:
    """Start ``python -m MODULE ARGS`` (``tests`` on its path), stdout piped as text lines."""
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(
        [str(TESTS_DIR), *filter(None, [child_env.get("PYTHONPATH")])]
    )
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        env=child_env,
    )


def finish(process: subprocess.Popen[str], timeout: float = 120.0) -> str:
    """Wait for a worker to exit cleanly; return its stdout."""
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"worker failed ({process.returncode}): {err}"
    return out
