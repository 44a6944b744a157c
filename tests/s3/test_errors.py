"""Bad input and refusals: invalid ids, corrupt bodies, missing buckets, bad credentials."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from sessionstore import (
    AccessDenied,
    BackendUnavailable,
    CorruptSnapshot,
    InvalidSessionId,
    SessionStoreError,
    SnapshotTooLarge,
    StoreNotFound,
)
from sessionstore.adapters.s3 import S3Persistence
from sessionstore.testing import make_snapshot
from support.s3_fixtures import calls, collect, key_of, run, stored

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from mypy_boto3_s3 import S3Client

    from support.s3_server import S3Emulator


def _operations(store: S3Persistence, session_id: Any) -> list[Coroutine[Any, Any, object]]:
    snapshot = make_snapshot(1)
    return [
        store.save(session_id, snapshot),
        store.save(session_id, snapshot, expected_version=None),
        store.save(session_id, snapshot, expected_version='"etag"'),
        store.load(session_id),
        store.load_versioned(session_id),
        store.delete(session_id),
        store.delete(session_id, expected_version='"etag"'),
        store.update(session_id, lambda current: snapshot),
    ]


@pytest.mark.parametrize("bad_id", ["", "../x", "a/b", ".hidden", "a b", "ü", "a" * 201, None])
def test_invalid_ids_send_no_request(
    s3_store: S3Persistence, s3_server: S3Emulator, bad_id: Any
) -> None:
    for operation in _operations(s3_store, bad_id):
        with pytest.raises(InvalidSessionId):
            run(operation)
    with pytest.raises(InvalidSessionId):
        run(collect(s3_store, "a/b"))
    assert s3_server.requests() == []


def test_oversized_snapshot_sends_no_request(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    s3_store.max_bytes = 2048
    with pytest.raises(SnapshotTooLarge) as caught:
        run(s3_store.save("s-1", make_snapshot(1, padding=4096)))
    assert caught.value.limit == 2048
    assert s3_server.requests() == []


def test_oversized_stored_object_is_refused_from_its_length_in_one_get(
    s3_store: S3Persistence, s3_server: S3Emulator
) -> None:
    run(s3_store.save("s-1", make_snapshot(1, padding=8192)))
    s3_store.max_bytes = 4096
    s3_server.reset_log()
    with pytest.raises(SnapshotTooLarge) as caught:
        run(s3_store.load("s-1"))
    assert caught.value.session_id == "s-1"
    assert caught.value.size > 8192
    assert calls(s3_server) == [("GET", key_of(s3_store, "s-1"), 200)]


def test_corrupt_object_planted_by_another_program_is_corrupt_snapshot(
    s3_store: S3Persistence, s3_client: S3Client
) -> None:
    s3_client.put_object(
        Bucket=s3_store.bucket, Key=key_of(s3_store, "s-1"), Body=b'{"state": "not a dict"'
    )
    with pytest.raises(CorruptSnapshot) as caught:
        run(s3_store.load("s-1"))
    assert caught.value.session_id == "s-1"
    assert "'s-1'" in str(caught.value)


def test_body_that_fails_its_stored_checksum_is_refused(
    s3_store: S3Persistence, s3_client: S3Client
) -> None:
    # Real S3 would refuse this upload; moto stores the wrong checksum, which lets
    # the test show that downloads are verified against it.
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    s3_client.put_object(
        Bucket=s3_store.bucket,
        Key=key_of(s3_store, "s-1"),
        Body=b"{}",
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=wrong,
    )
    with pytest.raises(BackendUnavailable) as caught:
        run(s3_store.load("s-1"))
    assert "checksum" in str(caught.value)


def test_missing_bucket_is_store_not_found_naming_the_bucket(
    s3_client: S3Client, s3_server: S3Emulator
) -> None:
    store = S3Persistence("no-such-bucket-here", "p", client=s3_client)
    operations: list[Coroutine[Any, Any, object]] = [
        store.load("s-1"),
        store.save("s-1", make_snapshot(1)),
        store.save("s-1", make_snapshot(1), expected_version=None),
        store.delete("s-1"),
        store.delete("s-1", expected_version='"etag"'),
        collect(store),
    ]
    for operation in operations:
        with pytest.raises(StoreNotFound) as caught:
            run(operation)
        assert "'no-such-bucket-here'" in str(caught.value)
        assert isinstance(caught.value.__cause__, ClientError)


def test_errors_never_leak_botocore_exceptions(s3_client: S3Client) -> None:
    store = S3Persistence("no-such-bucket-here", "p", client=s3_client)
    with pytest.raises(SessionStoreError) as caught:
        run(store.save("s-1", make_snapshot(1)))
    assert not isinstance(caught.value, (ClientError, BotoCoreError))
    assert isinstance(caught.value.__cause__, ClientError)


# ---------------------------------------------------------------- credentials


@pytest.fixture
def iam_keys(s3_server: S3Emulator, s3_bucket: str) -> dict[str, tuple[str, str]]:
    """Users in moto's IAM: one allowed to use the bucket, one with no permissions."""
    from uuid import uuid4

    suffix = uuid4().hex[:8]
    allow = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{s3_bucket}", f"arn:aws:s3:::{s3_bucket}/*"],
            }
        ],
    }
    return {
        "allowed": s3_server.iam_user(f"allowed-{suffix}", allow),
        "powerless": s3_server.iam_user(f"powerless-{suffix}", None),
    }


@pytest.mark.parametrize(
    ("who", "secret_ok", "code"),
    [
        ("stranger", False, "InvalidAccessKeyId"),
        ("allowed", False, "SignatureDoesNotMatch"),
        ("powerless", True, "AccessDenied"),
    ],
)
def test_refused_credentials_are_access_denied(
    s3_server: S3Emulator,
    s3_bucket: str,
    s3_prefix: str,
    iam_keys: dict[str, tuple[str, str]],
    who: str,
    secret_ok: bool,
    code: str,
) -> None:
    key_id, secret = iam_keys.get(who, ("AKIAUNKNOWNUNKNOWN00", "x" * 40))
    client = s3_server.client(credentials=(key_id, secret if secret_ok else "wrong" * 8))
    store = S3Persistence(s3_bucket, s3_prefix, client=client)
    with s3_server.iam_authentication():
        for operation in (
            store.load("s-1"),
            store.save("s-1", make_snapshot(1)),
            store.delete("s-1"),
            collect(store),
        ):
            with pytest.raises(AccessDenied) as caught:
                run(operation)
            assert code in str(caught.value)
            assert s3_bucket in str(caught.value)
    client.close()


def test_valid_credentials_pass_the_same_checks(
    s3_server: S3Emulator, s3_bucket: str, s3_prefix: str, iam_keys: dict[str, tuple[str, str]]
) -> None:
    """The control for the test above: moto really checks, and lets good keys through."""
    client = s3_server.client(credentials=iam_keys["allowed"])
    store = S3Persistence(s3_bucket, s3_prefix, client=client)
    with s3_server.iam_authentication():
        version = run(store.save("s-1", make_snapshot(1), expected_version=None))
        assert run(store.load_versioned("s-1")) is not None
        assert run(collect(store)) == ["s-1"]
        run(store.delete("s-1", expected_version=version))
    assert stored(s3_server, store, "s-1") is None
    client.close()
