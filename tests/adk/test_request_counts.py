"""Requests per call, counted at the S3 and GCS emulators, and SQL statements of ADK's
DatabaseSessionService on SQLite for reference: the numbers in the README's table."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from benchmarks.adk_requests import ROWS, count_service, sqlite_service
from sessionstore.adapters.adk import StoreSessionService

if TYPE_CHECKING:
    from pathlib import Path

    from sessionstore.adapters.gcs import GcsPersistence
    from sessionstore.adapters.s3 import S3Persistence
    from support.gcs_server import GcsEmulator
    from support.s3_server import S3Emulator

#: Ours, identical on S3 and GCS (x1000: the mean, in thousandths).
OURS = {
    "create_session, no state": 3,  # PUT head, GET app:, GET user:
    "create_session, app:/user:/session state": 5,  # PUT head, GET+PUT app:, GET+PUT user:
    "append_event, session-scoped delta": 1,  # PUT the slot (create-only)
    "append_event, user: delta": 3,  # + GET+PUT user:
    "append_event, app: and user: deltas": 5,  # + GET+PUT app:
    "append_event, the 64th (folds the head)": 68,  # + GET head, 64 GET slots, PUT chunk, PUT head
    "append_event, mean of 1,000 (x1000)": 2011,  # 1,000 slots + 6 scope requests + 15 folds of 67
    "get_session, 1,000 events": 67,  # head, 15 chunks, 49 tail probes (40 found), app:, user:
    "get_session, 1,000 events, num_recent_events=10": 52,  # no chunk needed
    "get_user_state": 1,
    "list_sessions, 1,000 sessions": 2003,  # 1 LIST page, per session GET head + probe, app:, user:
    # head, 49 probes, the tombstone, DELETE head, 16 chunks, 1,000 slots overwritten
    "delete_session, 1,000 events": 1068,
}

#: ADK's DatabaseSessionService on SQLite: SQL statements per call.
SQLITE = {
    "create_session, no state": 10,
    "create_session, app:/user:/session state": 6,
    "append_event, session-scoped delta": 5,
    "append_event, user: delta": 6,
    "append_event, app: and user: deltas": 7,
    "append_event, the 64th (folds the head)": 5,
    "append_event, mean of 1,000 (x1000)": 5003,
    "get_session, 1,000 events": 4,
    "get_session, 1,000 events, num_recent_events=10": 4,
    "get_user_state": 1,
    "list_sessions, 1,000 sessions": 3,
    "delete_session, 1,000 events": 2,
}


def test_rows_are_the_tables_rows() -> None:
    assert list(OURS) == ROWS
    assert list(SQLITE) == ROWS


@pytest.mark.slow
def test_requests_on_s3(s3_server: S3Emulator, s3_store: S3Persistence) -> None:
    counts = asyncio.run(
        count_service(StoreSessionService(s3_store), lambda: len(s3_server.requests()))
    )
    assert counts == OURS


@pytest.mark.slow
def test_requests_on_gcs(gcs_server: GcsEmulator, gcs_store: GcsPersistence) -> None:
    counts = asyncio.run(
        count_service(StoreSessionService(gcs_store), lambda: len(gcs_server.requests))
    )
    assert counts == OURS


@pytest.mark.slow
def test_statements_of_database_session_service_on_sqlite(tmp_path: Path) -> None:
    async def go() -> dict[str, int]:
        service, counter = sqlite_service(str(tmp_path / "adk.db"))
        await service.list_sessions(app_name="warm-up")  # creates the tables
        try:
            return await count_service(service, counter, concurrency=1)
        finally:
            await service.close()  # type: ignore[attr-defined]

    assert asyncio.run(go()) == SQLITE
