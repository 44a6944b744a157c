"""LangGraph's own conformance suite against the saver on every backend.

``langgraph-checkpoint-conformance`` exercises the async methods capability by
capability, each on a fresh saver from the factory; here every fresh saver gets a
fresh, empty store (a new memory store, directory, S3 prefix or GCS prefix).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.conformance import checkpointer_test, validate

from sessionstore import open_store
from sessionstore.adapters.gcs import GcsPersistence
from sessionstore.adapters.langgraph import SessionStoreSaver
from sessionstore.adapters.s3 import S3Persistence
from support.gcs_fixtures import FAST_RETRY, TEST_TIMEOUT

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable
    from pathlib import Path

    from langgraph.checkpoint.conformance.report import CapabilityReport
    from mypy_boto3_s3 import S3Client

    from sessionstore.contract import SessionPersistence
    from support.gcs_server import GcsEmulator
    from support.s3_servers import S3Server

#: What every backend must report: every base capability, plus copy_thread.
EXPECTED = {
    "put": True,
    "put_writes": True,
    "get_tuple": True,
    "list": True,
    "delete_thread": True,
    "copy_thread": True,
    "delete_for_runs": None,  # not implemented (see the README)
    "prune": None,  # not implemented (see the README)
}


def conformance(name: str, new_store: Callable[[], SessionPersistence]) -> CapabilityReport:
    async def factory() -> AsyncGenerator[SessionStoreSaver, None]:
        store = new_store()
        yield SessionStoreSaver(store)

    registered = checkpointer_test(name=name)(factory)
    return asyncio.run(validate(registered))


def check(report: CapabilityReport) -> None:
    failures: dict[str, Any] = {
        name: result.failures for name, result in report.results.items() if result.failures
    }
    assert failures == {}
    assert report.passed_all_base()
    assert {name: result.passed for name, result in report.results.items()} == EXPECTED
    assert report.conformance_level() == "FULL"


def test_memory() -> None:
    check(conformance("sessionstore memory://", lambda: open_store("memory://")))


def test_filesystem(tmp_path: Path) -> None:
    check(
        conformance(
            "sessionstore file://",
            lambda: open_store(f"file://{tmp_path / uuid.uuid4().hex}"),
        )
    )


def test_s3_on_moto(s3_bucket: str, s3_client: S3Client) -> None:
    check(
        conformance(
            "sessionstore s3:// (moto)",
            lambda: S3Persistence(s3_bucket, f"lg-{uuid.uuid4().hex[:12]}", client=s3_client),
        )
    )


def test_s3_on_seaweedfs(seaweedfs: S3Server) -> None:
    """An independent S3 implementation, so moto's serialising shim is not the only S3."""
    client = seaweedfs.client()
    check(
        conformance(
            "sessionstore s3:// (SeaweedFS)",
            lambda: S3Persistence(seaweedfs.bucket, f"lg-{uuid.uuid4().hex[:12]}", client=client),
        )
    )


def test_gcs_on_fake_gcs_server(gcs_server: GcsEmulator, gcs_bucket: str, gcs_client: Any) -> None:
    check(
        conformance(
            "sessionstore gs:// (fake-gcs-server)",
            lambda: GcsPersistence(
                gcs_bucket,
                f"lg-{uuid.uuid4().hex[:12]}",
                client=gcs_client,
                timeout=TEST_TIMEOUT,
                **FAST_RETRY,
            ),
        )
    )


def test_a_broken_saver_fails_the_suite() -> None:
    """The suite can fail: a saver that forgets pending writes does not pass put_writes."""

    class Forgetful(SessionStoreSaver):
        async def aput_writes(self, *args: Any, **kwargs: Any) -> None:
            return None

    async def factory() -> AsyncGenerator[SessionStoreSaver, None]:
        yield Forgetful(open_store("memory://"))

    registered = checkpointer_test(name="forgetful")(factory)
    report = asyncio.run(validate(registered, capabilities={"put_writes"}))
    assert report.results["put_writes"].passed is False
    assert not report.passed_all_base()
