"""Fixtures for the Gemini Live tests: the fake server, and one store per backend.

``backend`` runs a test on the filesystem store and on the S3 and GCS emulators.
Every store is opened by URL alone (``file://``, ``s3://``, ``gs://``), with the
emulators reached through the environment, so child processes open the very same
store from the same URL.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from sessionstore import open_store
from support.live_server import FakeLiveServer, live_client

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from google import genai

    from sessionstore.contract import SessionPersistence
    from support.gcs_server import GcsEmulator
    from support.s3_server import S3Emulator


@pytest.fixture(scope="session")
def live_server() -> Iterator[FakeLiveServer]:
    with FakeLiveServer() as server:
        yield server


@pytest.fixture
def client(live_server: FakeLiveServer) -> genai.Client:
    return live_client(live_server.url, live_server.ca_file)


@dataclass
class Backend:
    """A store URL, plus how to count writes to one session's object at the server."""

    name: str
    url: str
    writes: Callable[[str], int]
    env: dict[str, str] = field(default_factory=dict)
    stores: list[SessionPersistence] = field(default_factory=list)

    def open(self) -> SessionPersistence:
        store = open_store(self.url)
        self.stores.append(store)
        return store


@pytest.fixture(params=["fs", "s3", "gcs"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The filesystem store, and the S3 and GCS emulators, each on a fresh prefix."""
    prefix = f"live-{uuid.uuid4().hex[:10]}"
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "fs":
            saves: dict[str, int] = {}
            chosen = Backend("fs", f"file://{tmp_path}/sessions", lambda sid: saves.get(sid, 0))
            chosen.open = _counting_open(chosen, saves)  # type: ignore[method-assign]
        elif request.param == "s3":
            s3: S3Emulator = request.getfixturevalue("s3_server")
            request.getfixturevalue("aws_sandbox")
            bucket = request.getfixturevalue("s3_bucket")
            patch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint_url)
            key = f"{prefix}/{{}}.json"
            s3.reset_log()
            chosen = Backend(
                "s3",
                f"s3://{bucket}/{prefix}",
                lambda sid: sum(
                    1 for r in s3.requests() if r.method == "PUT" and r.key == key.format(sid)
                ),
                {"AWS_ENDPOINT_URL_S3": s3.endpoint_url},
            )
        else:
            gcs: GcsEmulator = request.getfixturevalue("gcs_server")
            bucket = request.getfixturevalue("gcs_bucket")
            patch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
            gcs.clear_faults()
            gcs.reset_log()
            # Upload URLs carry no object name; each test has its own prefix and session.
            chosen = Backend(
                "gcs",
                f"gs://{bucket}/{prefix}",
                lambda sid: sum(1 for r in gcs.requests if r.is_upload and r.status == 200),
                {"STORAGE_EMULATOR_HOST": gcs.url},
            )
        yield chosen
        for store in chosen.stores:
            asyncio.run(store.aclose())


def _counting_open(chosen: Backend, saves: dict[str, int]) -> Callable[[], SessionPersistence]:
    """On the filesystem there is no server to count at: count ``save`` calls instead."""

    def open_counting() -> SessionPersistence:
        store = open_store(chosen.url)
        original = store.save

        async def save(session_id: str, *args: Any, **kwargs: Any) -> str:
            saves[session_id] = saves.get(session_id, 0) + 1
            return await original(session_id, *args, **kwargs)

        store.save = save  # type: ignore[method-assign]
        chosen.stores.append(store)
        return store

    return open_counting
