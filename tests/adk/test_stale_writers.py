"""Two appends from copies of one revision: exactly one StaleSessionError per round, and
the loser writes nothing; in one process on every backend, and across real processes on
the filesystem store and both emulators."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from google.adk.errors._stale_session_error import StaleSessionError
from google.adk.events.event import Event
from google.genai import types

from sessionstore.adapters.adk import StoreSessionService
from support.processes import spawn_module

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from support.gcs_server import GcsEmulator
    from support.s3_server import S3Emulator

ROUNDS = 8
APP, USER, SESSION = "stale app", "u 1", "race"


def _event(text: str) -> Event:
    return Event(
        author="w",
        invocation_id="i",
        content=types.Content(role="user", parts=[types.Part(text=text)]),
    )


def _texts(service: StoreSessionService) -> list[str]:
    got = asyncio.run(service.get_session(app_name=APP, user_id=USER, session_id=SESSION))
    assert got is not None
    return [
        e.content.parts[0].text
        for e in got.events
        if e.content and e.content.parts and e.content.parts[0].text
    ]


def test_two_appends_from_one_revision_in_process(service: StoreSessionService) -> None:
    async def go() -> None:
        await service.create_session(app_name=APP, user_id=USER, session_id=SESSION)
        for round_ in range(ROUNDS):
            first = await service.get_session(app_name=APP, user_id=USER, session_id=SESSION)
            second = await service.get_session(app_name=APP, user_id=USER, session_id=SESSION)
            assert first is not None
            assert second is not None
            results = await asyncio.gather(
                service.append_event(first, _event(f"a{round_}")),
                service.append_event(second, _event(f"b{round_}")),
                return_exceptions=True,
            )
            stale = [r for r in results if isinstance(r, StaleSessionError)]
            assert len(stale) == 1, results
            assert not [r for r in results if isinstance(r, BaseException) and r not in stale]

    asyncio.run(go())
    texts = _texts(service)
    assert len(texts) == ROUNDS  # one winner per round, nothing from a loser
    assert all(t[1:] == str(i) for i, t in enumerate(texts))


def _race_across_processes(url: str) -> list[str]:
    service = StoreSessionService.from_url(url)
    asyncio.run(service.create_session(app_name=APP, user_id=USER, session_id=SESSION))
    workers = [
        spawn_module("adk.adk_worker", url, APP, USER, SESSION, name, stdin=True) for name in "ab"
    ]

    def ask(worker: subprocess.Popen[str], line: str) -> str:
        assert worker.stdin is not None
        assert worker.stdout is not None
        worker.stdin.write(line + "\n")
        worker.stdin.flush()
        return worker.stdout.readline().strip()

    try:
        for round_ in range(ROUNDS):
            # both load the same revision before either appends
            assert [ask(w, "load") for w in workers] == [f"loaded {round_}"] * 2
            for worker, name in zip(workers, "ab", strict=False):
                assert worker.stdin is not None
                worker.stdin.write(f"append {name}{round_}\n")
                worker.stdin.flush()
            answers = sorted(w.stdout.readline().strip() for w in workers if w.stdout)
            assert answers == ["ok", "stale"], answers
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("quit\n")
            worker.stdin.flush()
            worker.wait(timeout=60)
            assert worker.returncode == 0, worker.stderr.read() if worker.stderr else ""
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    texts = _texts(service)
    asyncio.run(service.aclose())
    return texts


def _check(texts: list[str]) -> None:
    assert len(texts) == ROUNDS
    assert all(t[0] in "ab" and t[1:] == str(i) for i, t in enumerate(texts))


@pytest.mark.slow
def test_across_processes_filesystem(tmp_path: Path) -> None:
    _check(_race_across_processes(f"file://{tmp_path}/store"))


@pytest.mark.slow
def test_across_processes_s3(
    s3_server: S3Emulator,
    s3_bucket: str,
    s3_prefix: str,
    aws_sandbox: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    _check(_race_across_processes(f"s3://{s3_bucket}/{s3_prefix}"))


@pytest.mark.slow
def test_across_processes_gcs(
    gcs_server: GcsEmulator, gcs_bucket: str, gcs_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.url)
    _check(_race_across_processes(f"gs://{gcs_bucket}/{gcs_prefix}"))
