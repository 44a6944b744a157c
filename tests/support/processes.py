"""Start store workers (``support.store_worker``) as real subprocesses."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

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


def in_forked_child(target: Callable[..., None], *args: Any, timeout: float = 60.0) -> int | None:
    """Run ``target(*args)`` in a child made by a plain ``os.fork()`` (as a user's code
    would); return its exit code, or None if it was still running after ``timeout``
    seconds (then it is killed). The child's exit is seen as EOF on a pipe: no polling."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        code = 0
        try:
            target(*args)
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], timeout)
        if not ready:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return None
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)
    finally:
        os.close(read_end)
