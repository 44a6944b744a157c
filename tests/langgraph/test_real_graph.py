"""A real StateGraph with an interrupt, checkpointing through the saver, SIGKILLed in the
middle of a node and resumed in a new process, on the filesystem and on S3 (moto)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sessionstore.adapters.langgraph import SessionStoreSaver

WORKER = Path(__file__).with_name("graph_worker.py")
TESTS_DIR = WORKER.parent.parent


def start(url: str, thread_id: str, runs: Path, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), url, thread_id, str(runs), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        env={**os.environ, "PYTHONPATH": str(TESTS_DIR)},
    )


def read_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line:
        _, err = process.communicate(timeout=60)
        raise AssertionError(f"worker exited ({process.returncode}): {err}")
    return line


def test_killed_mid_run_and_resumed_in_a_new_process(store_url: str, tmp_path: Path) -> None:
    runs = tmp_path / "runs.txt"
    thread = "order 66|review"

    first = start(store_url, thread, runs, "first")
    try:
        assert read_line(first) == "interrupted"
        assert read_line(first) == "in-work"  # inside the node, after the resume was stored
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)
    assert first.returncode == -signal.SIGKILL

    second = start(store_url, thread, runs, "resume")
    assert json.loads(read_line(second)) == {"next": ["work"]}
    assert json.loads(read_line(second)) == {"log": ["intake", "approved:yes", "work", "done"]}
    _, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    # intake ran once; work ran twice (killed once, then completed): nothing was redone
    # that had been checkpointed, and the answer to the interrupt was not asked again.
    assert runs.read_text(encoding="utf-8").split() == ["intake", "work", "work"]

    saver = SessionStoreSaver.from_url(store_url)
    try:
        history = list(saver.list({"configurable": {"thread_id": thread, "checkpoint_ns": ""}}))
        ids = [item.config["configurable"]["checkpoint_id"] for item in history]
        assert ids == sorted(ids, reverse=True)
        parents = [
            item.parent_config["configurable"]["checkpoint_id"] if item.parent_config else None
            for item in history
        ]
        assert parents == [*ids[1:], None]  # one linear chain
    finally:
        saver.close()
