"""What goes over the wire: exact request counts, conditional headers, checksums, paging."""

from __future__ import annotations

import base64
import hashlib
import math
from typing import TYPE_CHECKING

from sessionstore.adapters.s3 import S3Persistence
from sessionstore.testing import make_snapshot
from support.s3_fixtures import calls, collect, key_of, run, stored

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sessionstore.model import SessionSnapshot
    from support.s3_server import S3Emulator


def test_each_operation_is_one_request_when_nothing_fails(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    key = key_of(s3_store, "s-1")

    def measured(operation: object) -> list[tuple[str, str, int | None]]:
        s3_server.reset_log()
        run(operation)  # type: ignore[arg-type]
        return calls(s3_server)

    assert measured(s3_store.load("s-1")) == [("GET", key, 404)]
    assert measured(s3_store.save("s-1", make_snapshot(1), expected_version=None)) == [
        ("PUT", key, 200)
    ]
    assert measured(s3_store.save("s-1", make_snapshot(2))) == [("PUT", key, 200)]
    version = run(s3_store.load_versioned("s-1"))
    assert version is not None
    assert measured(s3_store.save("s-1", make_snapshot(3), expected_version=version.version)) == [
        ("PUT", key, 200)
    ]
    assert measured(s3_store.load("s-1")) == [("GET", key, 200)]
    assert measured(s3_store.load_versioned("s-1")) == [("GET", key, 200)]
    assert measured(s3_store.update("s-1", _bump)) == [("GET", key, 200), ("PUT", key, 200)]
    current = run(s3_store.load_versioned("s-1"))
    assert current is not None
    assert measured(s3_store.delete("s-1", expected_version=current.version)) == [
        ("DELETE", key, 204)
    ]
    assert measured(s3_store.delete("s-1")) == [("DELETE", key, 204)]


def test_blocking_form_makes_the_same_requests(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    key = key_of(s3_store, "b-1")
    version = s3_store.blocking.save("b-1", make_snapshot(1), expected_version=None)
    assert s3_store.blocking.load("b-1") == make_snapshot(1)
    assert calls(s3_server) == [("PUT", key, 200), ("GET", key, 200)]
    assert stored(s3_server, s3_store, "b-1") is not None
    assert version == stored(s3_server, s3_store, "b-1")[1]  # type: ignore[index]


def test_puts_carry_the_condition_checksum_and_content_type(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    first = run(s3_store.save("s-1", make_snapshot(1), expected_version=None))
    run(s3_store.save("s-1", make_snapshot(2), expected_version=first))
    run(s3_store.save("s-1", make_snapshot(3)))
    create, match, overwrite = (request.headers for request in s3_server.requests())
    assert create["if-none-match"] == "*"
    assert "if-match" not in create
    assert match["if-match"] == first
    assert "if-none-match" not in match
    assert "if-match" not in overwrite
    assert "if-none-match" not in overwrite
    body = stored(s3_server, s3_store, "s-1")
    assert body is not None
    assert (
        overwrite["x-amz-checksum-sha256"]
        == base64.b64encode(hashlib.sha256(body[0]).digest()).decode()
    )
    assert overwrite["content-type"] == "application/json"


def test_version_is_the_etag_exactly_as_s3_returns_it(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    version = run(s3_store.save("s-1", make_snapshot(1)))
    assert version.startswith('"')
    assert version.endswith('"')
    held = stored(s3_server, s3_store, "s-1")
    assert held is not None
    assert held[1] == version


def test_empty_prefix_puts_sessions_at_the_bucket_root(
    s3_bucket: str, s3_client: S3Client, s3_server: S3Emulator
) -> None:
    store = S3Persistence(s3_bucket, "", client=s3_client)
    s3_server.reset_log()
    run(store.save("root-level-session", make_snapshot(1)))
    run(store.delete("root-level-session"))
    assert [key for _, key, _ in calls(s3_server)] == ["root-level-session.json"] * 2


def test_listing_walks_every_page_and_skips_foreign_objects(
    s3_bucket: str, s3_client: S3Client, s3_server: S3Emulator, s3_prefix: str
) -> None:
    page_size = 3
    store = S3Persistence(s3_bucket, s3_prefix, client=s3_client, page_size=page_size)
    ids = {f"chat-{n:02d}" for n in range(10)}
    for session_id in ids:
        run(store.save(session_id, make_snapshot(1)))
    foreign = [
        "notes.txt",  # not .json
        "bad id.json",  # breaks the id rule
        ".json",  # no id at all
        "nested/deeper.json",  # not directly under the prefix
    ]
    for name in foreign:
        s3_client.put_object(Bucket=s3_bucket, Key=f"{s3_prefix}/{name}", Body=b"{}")
    s3_client.put_object(Bucket=s3_bucket, Key=f"{s3_prefix}-sibling/chat-99.json", Body=b"{}")
    s3_server.reset_log()

    assert sorted(run(collect(store))) == sorted(ids)

    lists = [r for r in s3_server.requests() if "list-type=2" in r.query]
    assert len(lists) == len(s3_server.requests())
    # 10 sessions + 3 foreign keys + 1 common prefix ("nested/") = 14 entries.
    assert len(lists) == math.ceil(14 / page_size)
    assert all(f"max-keys={page_size}" in r.query for r in lists)
    assert sum("continuation-token=" in r.query for r in lists) == len(lists) - 1


def test_listing_with_a_prefix_and_listing_is_lazy(
    s3_bucket: str, s3_client: S3Client, s3_server: S3Emulator, s3_prefix: str
) -> None:
    store = S3Persistence(s3_bucket, s3_prefix, client=s3_client, page_size=2)
    for session_id in ("a-1", "a-2", "a-3", "a-4", "b-1"):
        run(store.save(session_id, make_snapshot(1)))
    assert sorted(run(collect(store, "a-"))) == ["a-1", "a-2", "a-3", "a-4"]
    assert run(collect(store, "b")) == ["b-1"]
    assert run(collect(store, "c")) == []

    async def first_only() -> str:
        sessions = store.list_sessions()
        try:
            return await sessions.__anext__()
        finally:
            await sessions.aclose()

    s3_server.reset_log()
    assert run(first_only()) == "a-1"
    assert len(s3_server.requests()) == 1, "a listing stopped early must fetch no more pages"


def _bump(current: SessionSnapshot | None) -> SessionSnapshot:
    assert current is not None
    return current.model_copy(update={"turn_count": current.turn_count + 1})
