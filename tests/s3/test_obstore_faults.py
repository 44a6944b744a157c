"""The S3 fault tests, on the obstore transport: same faults, same outcomes, same bucket.

Every test of ``test_faults.py`` that is about what the store decides (not about how
botocore retries) runs again here with ``s3_store`` and ``rival`` on obstore. The
emulator's faults are answered on the wire, so they reach obstore exactly as they
reach botocore.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from sessionstore import BackendUnavailable
from sessionstore.adapters.s3 import S3Persistence
from sessionstore.testing import make_snapshot
from support.s3_fixtures import calls, key_of, run

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_s3 import S3Client

    from support.s3_server import S3Emulator

pytest.importorskip("obstore")

#: Tests of the boto3 suites that are about botocore itself, not about the store.
NOT_APPLICABLE: dict[str, str] = {
    "test_a_re_read_after_corruption_has_botocores_retries_and_no_more_re_reads": (
        "counts botocore's own retries inside one re-read"
    ),
    "test_body_corrupted_on_every_read_is_bounded_and_unavailable": (
        "names botocore's FlexibleChecksumError; the obstore variant is below"
    ),
    "test_body_that_fails_its_stored_checksum_is_refused": (
        "plants S3's stored checksum, which obstore cannot read; the variant below "
        "plants the metadata checksum the obstore transport verifies"
    ),
    "test_own_client_retries_a_throttle_four_times_in_all": "about the boto3 client's config",
    "test_refused_credentials_are_access_denied": "builds boto3 clients with IAM users",
    "test_valid_credentials_pass_the_same_checks": "builds boto3 clients with IAM users",
}


def _load(name: str) -> object:
    spec = importlib.util.spec_from_file_location(f"_boto3_{name}", Path(__file__).with_name(name))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_SUITES = [_load(name) for name in ("test_faults.py", "test_retries.py", "test_errors.py")]


@pytest.fixture
def s3_store(obstore_store: S3Persistence) -> S3Persistence:
    return obstore_store


@pytest.fixture
def rival(s3_server: S3Emulator, obstore_store: S3Persistence) -> Iterator[S3Persistence]:
    store = S3Persistence(
        obstore_store.bucket,
        obstore_store.prefix,
        transport="obstore",
        endpoint_url=s3_server.endpoint_url,
    )
    yield store
    asyncio.run(store.aclose())


for _suite in _SUITES:
    for _name in dir(_suite):
        if _name.startswith("test_") and _name not in NOT_APPLICABLE:
            globals()[_name] = getattr(_suite, _name)


LOGGER = "sessionstore.adapters.s3"


def test_obstore_body_corrupted_on_every_read_is_bounded_and_unavailable(
    obstore_store: S3Persistence, s3_server: S3Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    run(obstore_store.save("s-1", make_snapshot(1)))
    key = key_of(obstore_store, "s-1")
    s3_server.reset_log()
    s3_server.inject("corrupt_body", method="GET", key=key, times=1000)
    caplog.set_level(logging.WARNING, logger=LOGGER)

    with pytest.raises(BackendUnavailable, match="SHA-256") as caught:
        run(obstore_store.load("s-1"))

    assert calls(s3_server) == [("GET", key, 200)] * 3, "as many reads as the attempt limit"
    assert key in str(caught.value)
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(messages) == 2
    assert ["attempt 2 of 3" in messages[0], "attempt 3 of 3" in messages[1]] == [True, True]


def test_obstore_body_that_fails_its_metadata_checksum_is_refused(
    obstore_store: S3Persistence, s3_client: S3Client
) -> None:
    from sessionstore.adapters.s3._obstore import SHA256_METADATA

    wrong = hashlib.sha256(b"something else").hexdigest()
    s3_client.put_object(
        Bucket=obstore_store.bucket,
        Key=key_of(obstore_store, "s-1"),
        Body=b"{}",
        Metadata={SHA256_METADATA: wrong},
    )
    with pytest.raises(BackendUnavailable, match="checksum"):
        run(obstore_store.load("s-1"))


def test_obstore_writes_the_checksums_it_verifies(
    obstore_store: S3Persistence, s3_client: S3Client
) -> None:
    run(obstore_store.save("s-1", make_snapshot(1)))
    head = s3_client.get_object(Bucket=obstore_store.bucket, Key=key_of(obstore_store, "s-1"))
    body = head["Body"].read()
    from sessionstore.adapters.s3._obstore import SHA256_METADATA

    assert head["Metadata"] == {SHA256_METADATA: hashlib.sha256(body).hexdigest()}
    assert head["ContentType"] == "application/json"
