"""The obstore transport's own promises: selection, no worker thread, one request per
operation (counted at the emulator), no boto3 in the process, conditional deletes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from sessionstore import ConflictError, InvalidStoreUrl, open_store
from sessionstore.adapters.s3 import S3Persistence
from sessionstore.testing import make_snapshot
from support.s3_fixtures import collect, key_of, run, stored

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from support.s3_server import S3Emulator

pytest.importorskip("obstore")


def test_transport_is_chosen_per_store_and_by_url(s3_server: S3Emulator, aws_sandbox: None) -> None:
    store = open_store(f"s3://bucket-a/p?transport=obstore&endpoint_url={s3_server.endpoint_url}")
    assert isinstance(store, S3Persistence)
    assert store.transport == "obstore"
    assert "transport=obstore" in repr(store)
    assert S3Persistence("bucket-a").transport == "boto3"
    with pytest.raises(InvalidStoreUrl, match="transport"):
        open_store("s3://bucket-a/p?transport=curl")


def test_obstore_transport_refuses_what_it_cannot_honour(s3_client: S3Client) -> None:
    with pytest.raises(ValueError, match="client"):
        S3Persistence("bucket-a", client=s3_client, transport="obstore")
    with pytest.raises(ValueError, match="checksum"):
        S3Persistence("bucket-a", checksum="CRC32", transport="obstore")


def test_no_operation_hops_to_a_worker_thread(
    obstore_store: S3Persistence, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the obstore transport went through the worker pool")

    monkeypatch.setattr(obstore_store, "_run_sync", refuse)
    store = obstore_store
    version = run(store.save("a", make_snapshot(1)))
    assert run(store.load("a")) == make_snapshot(1)
    version = run(store.save("a", make_snapshot(2), expected_version=version))
    run(store.update("a", lambda s: make_snapshot(3)))
    lease = run(store.acquire("b", "owner"))
    run(lease.save(make_snapshot(1)))
    assert sorted(run(collect(store))) == ["a", "b"]
    run(store.delete("b"))
    current = run(store.load_versioned("a"))
    assert current is not None
    run(store.delete("a", expected_version=current.version))


def test_one_request_per_save_load_and_delete(
    obstore_store: S3Persistence, s3_server: S3Emulator
) -> None:
    store = obstore_store
    key = key_of(store, "a")

    def seen(action: Any) -> list[tuple[str, int | None]]:
        s3_server.reset_log()
        run(action)
        return [(r.method, r.status) for r in s3_server.requests()]

    assert seen(store.save("a", make_snapshot(1))) == [("PUT", 200)]
    assert seen(store.save("b", make_snapshot(1), expected_version=None)) == [("PUT", 200)]
    assert seen(store.load("a")) == [("GET", 200)]
    assert seen(store.load("nobody")) == [("GET", 404)]
    assert seen(store.update("a", lambda s: make_snapshot(2))) == [("GET", 200), ("PUT", 200)]
    current = run(store.load_versioned("a"))
    assert current is not None
    assert seen(store.delete("a", expected_version=current.version)) == [("DELETE", 204)]
    assert stored(s3_server, store, "a") is None
    run(store.save("a", make_snapshot(1)))
    assert seen(store.delete("a")) == [("DELETE", 204)]
    assert key not in [r.key for r in s3_server.requests() if r.method == "POST"]


def test_a_stale_conditional_delete_is_a_conflict_and_deletes_nothing(
    obstore_store: S3Persistence, s3_server: S3Emulator
) -> None:
    stale = run(obstore_store.save("a", make_snapshot(1)))
    run(obstore_store.save("a", make_snapshot(2)))
    with pytest.raises(ConflictError):
        run(obstore_store.delete("a", expected_version=stale))
    assert run(obstore_store.load("a")) == make_snapshot(2)
    with pytest.raises(ConflictError):
        run(obstore_store.delete("missing", expected_version=stale))


def test_the_obstore_transport_needs_and_imports_no_boto3(
    s3_server: S3Emulator, s3_bucket: str
) -> None:
    # boto3 and botocore are made uninstallable in the child: opening, saving and
    # loading must neither import them nor ask for them.
    code = (
        "import asyncio, json, sys\n"
        "class NotInstalled:\n"
        "    @staticmethod\n"
        "    def find_spec(name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('boto3', 'botocore', 's3transfer'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, NotInstalled)\n"
        "import sessionstore\n"
        "from sessionstore.testing import make_snapshot\n"
        "async def main():\n"
        f"    async with sessionstore.open_store('s3://{s3_bucket}/imports?transport=obstore"
        f"&endpoint_url={s3_server.endpoint_url}') as store:\n"
        "        await store.save('a', make_snapshot(1))\n"
        "        assert await store.load('a') == make_snapshot(1)\n"
        "asyncio.run(main())\n"
        "print(json.dumps(sorted(sys.modules)), flush=True)\n"
        # obstore 0.12.1: a process that made a request sometimes aborts (SIGABRT) in
        # interpreter teardown (its runtime threads meet Py_Finalize); not under test.
        "import os; os._exit(0)\n"
    )
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    modules = json.loads(result.stdout)
    assert "obstore" in modules
    assert [m for m in modules if m.split(".")[0] in ("boto3", "botocore", "s3transfer")] == []


def test_an_obstore_store_reads_history_through_a_lazily_built_boto3_transport(
    s3_server: S3Emulator, s3_prefix: str, aws_sandbox: None
) -> None:
    bucket = "obstore-history"
    s3_server.create_bucket(bucket)
    s3_server.admin.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    store = S3Persistence(
        bucket, s3_prefix, transport="obstore", endpoint_url=s3_server.endpoint_url
    )
    first = run(store.save("a", make_snapshot(1)))
    second = run(store.save("a", make_snapshot(2), expected_version=first))
    assert _boto3_of(store) is None  # saves and loads never build it

    async def histories() -> list[list[Any]]:
        return list(await asyncio.gather(*(store.history("a") for _ in range(8))))

    listed = run(histories())
    assert {tuple(v.version for v in h) for h in listed} == {(second, first)}
    built = _boto3_of(store)
    assert built is not None
    oldest = listed[0][-1].version_id
    assert b'"turn_count":1' in run(store.read_version("a", oldest))
    assert _boto3_of(store) is built  # built once, then kept
    run(store.aclose())


def _boto3_of(store: S3Persistence) -> object:
    return store._boto3
