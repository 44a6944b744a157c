"""Listing: pages fetched lazily with page tokens, foreign objects skipped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sessionstore.testing import make_snapshot
from support.gcs_fixtures import run

if TYPE_CHECKING:
    from collections.abc import Callable

    from sessionstore.adapters.gcs import GcsPersistence
    from support.gcs_server import GcsEmulator


async def _collect(store: GcsPersistence, prefix: str = "") -> list[str]:
    return [session_id async for session_id in store.list_sessions(prefix)]


def test_more_sessions_than_one_page_are_listed_page_by_page(
    make_gcs_store: Callable[..., GcsPersistence], gcs_server: GcsEmulator
) -> None:
    store = make_gcs_store(page_size=3)
    ids = {f"s-{n:02d}" for n in range(10)}
    for session_id in ids:
        run(store.save(session_id, make_snapshot(1)))
    gcs_server.reset_log()
    assert sorted(run(_collect(store))) == sorted(ids)
    pages = gcs_server.requests
    assert len(pages) == 4  # 3 + 3 + 3 + 1
    assert all(r.method == "GET" and r.query["maxResults"] == "3" for r in pages)
    assert "pageToken" not in pages[0].query
    tokens = [r.query.get("pageToken") for r in pages[1:]]
    assert all(tokens)
    assert len(set(tokens)) == 3


def test_pages_are_fetched_only_as_the_caller_iterates(
    make_gcs_store: Callable[..., GcsPersistence], gcs_server: GcsEmulator
) -> None:
    store = make_gcs_store(page_size=2)
    for n in range(5):
        run(store.save(f"s-{n}", make_snapshot(1)))
    gcs_server.reset_log()

    async def first_two() -> list[str]:
        sessions = store.list_sessions()
        try:
            return [await sessions.__anext__(), await sessions.__anext__()]
        finally:
            await sessions.aclose()

    assert len(run(first_two())) == 2
    assert len(gcs_server.requests) == 1


def test_foreign_objects_under_the_prefix_are_skipped(
    gcs_store: GcsPersistence, gcs_server: GcsEmulator
) -> None:
    run(gcs_store.save("real-1", make_snapshot(1)))
    run(gcs_store.save("real-2", make_snapshot(1)))
    base = gcs_store.prefix
    foreign = [
        f"{base}/notes.txt",
        f"{base}/real-3.json.bak",
        f"{base}/.hidden.json",
        f"{base}/bad id.json",
        f"{base}/nested/real-4.json",
        f"{base}/.json",
        f"{base}-sibling/real-5.json",
        f"{base}real-6.json",
    ]
    for name in foreign:
        gcs_server.put_object(gcs_store.bucket, name, b"{}")
    assert sorted(run(_collect(gcs_store))) == ["real-1", "real-2"]
    assert run(_collect(gcs_store, "real-2")) == ["real-2"]


def test_store_at_bucket_root_lists_only_root_sessions(
    make_gcs_store: Callable[..., GcsPersistence],
    gcs_server: GcsEmulator,
    gcs_prefix: str,
    gcs_client: Any,
) -> None:
    from sessionstore.adapters.gcs import GcsPersistence

    bucket = f"root-{gcs_prefix}"
    gcs_server.create_bucket(bucket)
    store = make_gcs_store(bucket=bucket)
    root = GcsPersistence(bucket, client=gcs_client, retry_deadline=0)
    try:
        run(root.save("top", make_snapshot(1)))
        run(store.save("nested", make_snapshot(1)))
        assert run(_collect(root)) == ["top"]
        assert gcs_server.generation(bucket, "top.json") is not None
    finally:
        run(root.aclose())
