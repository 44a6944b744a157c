"""Requests per ADK session-service call: ours on the S3 and GCS emulators (counted at the
emulator), ADK's ``DatabaseSessionService`` on SQLite for reference (SQL statements,
counted with SQLAlchemy's ``before_cursor_execute`` hook).

``python -m benchmarks.adk_requests`` prints the table (loopback only, about a minute).
``tests/adk/test_request_counts.py`` runs the same scenario and asserts the counts.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from google.adk.sessions.base_session_service import BaseSessionService

__all__ = ["ROWS", "count_service", "main", "sqlite_service"]

APP, USER = "bench app", "bench user"

#: The rows of the table, in order.
ROWS = [
    "create_session, no state",
    "create_session, app:/user:/session state",
    "append_event, session-scoped delta",
    "append_event, user: delta",
    "append_event, app: and user: deltas",
    "append_event, the 64th (folds the head)",
    "append_event, mean of 1,000 (x1000)",
    "get_session, 1,000 events",
    "get_session, 1,000 events, num_recent_events=10",
    "get_user_state",
    "list_sessions, 1,000 sessions",
    "delete_session, 1,000 events",
]


def _event(i: int, delta: dict[str, Any] | None = None) -> Any:
    from google.adk.events.event import Event
    from google.adk.events.event_actions import EventActions
    from google.genai import types

    return Event(
        author="agent",
        invocation_id=f"inv-{i}",
        content=types.Content(role="model", parts=[types.Part(text=f"turn {i}")]),
        actions=EventActions(state_delta=delta if delta is not None else {"turn": i}),
    )


async def count_service(
    service: BaseSessionService,
    counter: Callable[[], int],
    *,
    sessions: int = 1000,
    events: int = 1000,
    concurrency: int = 16,
) -> dict[str, int]:
    """Run the scenario on ``service``; ``counter()`` is the number of requests so far."""
    counts: dict[str, int] = {}

    async def measure(row: str, call: Any, scale: int = 1) -> Any:
        before = counter()
        result = await call
        counts[row] = (counter() - before) * scale
        return result

    await measure(
        "create_session, no state",
        service.create_session(app_name=APP, user_id=USER, session_id="plain"),
    )
    session = await measure(
        "create_session, app:/user:/session state",
        service.create_session(
            app_name=APP, user_id=USER, session_id="long", state={"app:a": 1, "user:u": 1, "s": 1}
        ),
    )
    first_append = counter()
    await measure("append_event, session-scoped delta", service.append_event(session, _event(0)))
    await measure(
        "append_event, user: delta", service.append_event(session, _event(1, {"user:u": 2}))
    )
    await measure(
        "append_event, app: and user: deltas",
        service.append_event(session, _event(2, {"app:a": 2, "user:u": 3})),
    )
    for i in range(3, 63):
        await service.append_event(session, _event(i))
    await measure(
        "append_event, the 64th (folds the head)", service.append_event(session, _event(63))
    )
    for i in range(64, events):
        await service.append_event(session, _event(i))
    counts["append_event, mean of 1,000 (x1000)"] = round(
        1000 * (counter() - first_append) / events
    )
    await measure(
        "get_session, 1,000 events",
        service.get_session(app_name=APP, user_id=USER, session_id="long"),
    )
    from google.adk.sessions.base_session_service import GetSessionConfig

    await measure(
        "get_session, 1,000 events, num_recent_events=10",
        service.get_session(
            app_name=APP,
            user_id=USER,
            session_id="long",
            config=GetSessionConfig(num_recent_events=10),
        ),
    )
    await measure("get_user_state", service.get_user_state(app_name=APP, user_id=USER))
    gate = asyncio.Semaphore(concurrency)  # SQLite takes one writer at a time

    async def create(n: int) -> None:
        async with gate:
            await service.create_session(app_name="list app", user_id=USER, session_id=f"s{n}")

    await asyncio.gather(*(create(n) for n in range(sessions)))
    listed = await measure(
        "list_sessions, 1,000 sessions", service.list_sessions(app_name="list app")
    )
    assert len(listed.sessions) == sessions
    await measure(
        "delete_session, 1,000 events",
        service.delete_session(app_name=APP, user_id=USER, session_id="long"),
    )
    return counts


def sqlite_service(path: str) -> tuple[BaseSessionService, Callable[[], int]]:
    """ADK's DatabaseSessionService on a SQLite file, and a counter of its SQL statements."""
    from google.adk.sessions.database_session_service import DatabaseSessionService
    from sqlalchemy import event

    service = DatabaseSessionService(db_url=f"sqlite+aiosqlite:///{path}")
    statements = [0]

    def count(*_: object) -> None:
        statements[0] += 1

    event.listen(service.db_engine.sync_engine, "before_cursor_execute", count)
    return service, lambda: statements[0]


# SQLite's fsyncs would dominate the run on a disk
_SHM = "/dev/shm" if Path("/dev/shm").is_dir() else None


async def _sqlite_counts() -> dict[str, int]:
    with tempfile.TemporaryDirectory(dir=_SHM) as directory:
        service, counter = sqlite_service(f"{directory}/adk.db")
        await service.list_sessions(app_name="warm-up")  # creates the tables, not counted
        counts = await count_service(service, counter, concurrency=1)
        await service.close()  # type: ignore[attr-defined]
        return counts


def _table(columns: dict[str, dict[str, int]]) -> str:
    names = list(columns)
    lines = [
        "| call | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for row in ROWS:
        cells = []
        for name in names:
            value = columns[name][row]
            cells.append(f"{value / 1000:.2f}" if "x1000" in row else str(value))
        lines.append(f"| {row.replace(' (x1000)', '')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    repo = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(repo / "tests"))
    from support.gcs_server import GcsEmulator
    from support.loopback import refuse_non_loopback_connections
    from support.s3_server import S3Emulator

    refuse_non_loopback_connections()
    from sessionstore.adapters.adk import StoreSessionService
    from sessionstore.adapters.gcs import GcsPersistence
    from sessionstore.adapters.s3 import S3Persistence

    columns: dict[str, dict[str, int]] = {}
    with S3Emulator() as s3:
        s3.create_bucket("adk-bench")
        client = s3.client(max_pool_connections=32)
        store = S3Persistence("adk-bench", "bench", client=client)
        s3.reset_log()
        columns["S3 (moto) requests"] = asyncio.run(
            count_service(StoreSessionService(store), lambda: len(s3.requests()))
        )
    with GcsEmulator() as gcs:
        gcs.create_bucket("adk-bench")
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        gclient = storage.Client(
            project="bench",
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": gcs.url},
        )
        gstore = GcsPersistence("adk-bench", "bench", client=gclient)
        gcs.reset_log()
        columns["GCS (fake-gcs-server) requests"] = asyncio.run(
            count_service(StoreSessionService(gstore), lambda: len(gcs.requests))
        )
    columns["DatabaseSessionService on SQLite, statements"] = asyncio.run(_sqlite_counts())
    print(_table(columns))


if __name__ == "__main__":
    main()
