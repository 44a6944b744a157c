"""The shipped contract suite on independent S3 servers, and on one that must fail it.

moto is only trustworthy here behind the serialising shim of ``support.s3_server``
(alone it lets two conditional writers both win). So the whole contract suite also
runs against two S3 implementations that decide conditional writes themselves:

* SeaweedFS: passes. Where it differs from AWS (``If-Match`` on a missing key answers
  412 where AWS answers 404) both answers are a conflict to the library, and
  :func:`test_seaweedfs_answers_412_for_if_match_on_a_missing_key` pins the
  difference so the day it changes is noticed.
* MiniStack: passes; matches AWS on every conditional request probed here.

And against s3rver, which ignores ``If-Match`` and ``If-None-Match``: every
compare-and-swap clause must fail there, or the suite could not tell a safe server
from an unsafe one.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from sessionstore.adapters.s3 import S3Persistence
from sessionstore.testing import SessionPersistenceContract

if TYPE_CHECKING:
    from collections.abc import Iterator

    from support.s3_servers import S3Server


def _store(server: S3Server) -> Iterator[S3Persistence]:
    client = server.client(max_pool_connections=32)
    store = S3Persistence(server.bucket, f"c-{uuid.uuid4().hex[:12]}", client=client)
    yield store
    asyncio.run(store.aclose())


class TestSeaweedFsContract(SessionPersistenceContract):
    @pytest.fixture
    def store(self, seaweedfs: S3Server) -> Iterator[S3Persistence]:
        yield from _store(seaweedfs)


class TestMiniStackContract(SessionPersistenceContract):
    @pytest.fixture
    def store(self, ministack: S3Server) -> Iterator[S3Persistence]:
        yield from _store(ministack)


def _if_match_missing_status(server: S3Server) -> int:
    client = server.client()
    with pytest.raises(ClientError) as caught:
        client.put_object(
            Bucket=server.bucket, Key=f"missing-{uuid.uuid4().hex}", Body=b"x", IfMatch='"0"'
        )
    status: int = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return status


def test_seaweedfs_answers_412_for_if_match_on_a_missing_key(seaweedfs: S3Server) -> None:
    assert _if_match_missing_status(seaweedfs) == 412  # AWS: 404 NoSuchKey


def test_ministack_answers_404_for_if_match_on_a_missing_key(ministack: S3Server) -> None:
    assert _if_match_missing_status(ministack) == 404  # as AWS


# ------------------------------------------------------------------ s3rver

#: Contract clauses that only a server deciding preconditions can pass.
CAS_CLAUSES = [
    "test_create_only_conflicts_when_present_and_changes_nothing",
    "test_stale_version_conflicts_and_changes_nothing",
    "test_expected_version_on_missing_session_conflicts",
    "test_conditional_delete_with_stale_version_deletes_nothing",
    "test_concurrent_conditional_writers_exactly_one_wins",
    "test_concurrent_create_only_writers_exactly_one_wins",
    "test_two_owners_racing_for_a_new_session_only_one_can_save",
    "test_forced_takeover_fences_the_old_owner",
]


@pytest.fixture
def s3rver_store(s3rver: S3Server) -> Iterator[S3Persistence]:
    yield from _store(s3rver)


def _clause(name: str) -> Any:
    return getattr(SessionPersistenceContract(), name)


def test_s3rver_passes_a_clause_without_preconditions(s3rver_store: S3Persistence) -> None:
    """The control: the store works on s3rver, so the failures below are its preconditions."""
    _clause("test_round_trip_preserves_every_field")(s3rver_store)
    _clause("test_unconditional_save_overwrites")(s3rver_store)


@pytest.mark.parametrize("clause", CAS_CLAUSES)
def test_s3rver_ignoring_preconditions_fails_the_contract(
    s3rver_store: S3Persistence, clause: str
) -> None:
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        _clause(clause)(s3rver_store)
