"""The stores the model drives, with their fault plans and foreign writers.

Every backend gives the model a fresh, empty store per run, a way to arm a fault
for the next batch of operations (where the emulator can inject one), a URL and
environment for worker processes, and a foreign writer: another program putting
raw bytes under a session's name, around the library.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sessionstore import FsPersistence, MemoryPersistence
from sessionstore.contract import ANY_VERSION

if TYPE_CHECKING:
    from collections.abc import Callable

    from sessionstore.contract import SessionPersistence
    from support.gcs_server import GcsEmulator
    from support.s3_server import S3Emulator

__all__ = ["FAULTS", "Backend", "FaultName"]

FaultName = Literal["lost_500", "drop", "refused_503", "conflict_409", "throttle", "stall"]
FAULTS: tuple[FaultName, ...] = (
    "lost_500",
    "drop",
    "refused_503",
    "conflict_409",
    "throttle",
    "stall",
)

#: Client read timeout on the emulators, and how long a stall holds a request (longer).
CLIENT_TIMEOUT = 2.0
STALL = 2.4


@dataclass
class Backend:
    """One kind of store under test."""

    name: str
    new_store: Callable[[], tuple[SessionPersistence, str | None]]
    """A fresh empty store and, where processes can reach it, its URL."""
    env: dict[str, str] = field(default_factory=dict)
    """Environment for worker processes."""
    arm: Callable[[FaultName, str, str], bool] | None = None
    """Arm a fault for (method, object key); False if this backend cannot inject it."""
    clear: Callable[[], None] | None = None
    wait_stalled: Callable[[float], bool] | None = None
    key_of: Callable[[SessionPersistence, str], str] = lambda store, session: session
    content_versions: bool = True
    """Versions derive from the body's bytes (a byte-exact restore brings one back)."""
    processes: bool = True
    forks: bool = True
    cancel_bounded: bool = False
    """A cancelled call never takes effect after its cancellation returned: true only where
    the store does its I/O on the caller's event loop (memory). Elsewhere the I/O runs on
    a worker thread, and a call cancelled after its worker began (its request on the
    wire) may still land later, as the README's *Cancellation* paragraph says."""

    def foreign_write(self, store: SessionPersistence, session: str, body: bytes) -> str:
        """Another program writes ``body`` (no library involved in deciding anything)."""
        return asyncio.run(store._write(session, body, ANY_VERSION))

    def raw_read(self, store: SessionPersistence, session: str) -> bytes | None:
        stored = asyncio.run(store._read(session))
        return None if stored is None else stored.body


def memory_backend() -> Backend:
    return Backend(
        "memory",
        lambda: (MemoryPersistence(), None),
        processes=False,
        forks=False,
        cancel_bounded=True,
    )


def fs_backend(root: Path) -> Backend:
    def new() -> tuple[SessionPersistence, str | None]:
        directory = Path(tempfile.mkdtemp(dir=root))
        return FsPersistence(directory), f"file://{directory}"

    return Backend("filesystem", new)


def s3_backend(
    name: str,
    server: S3Emulator | None,
    endpoint: str,
    bucket: str,
    *,
    transport: Literal["boto3", "obstore"] = "boto3",
) -> Backend:
    """S3 on ``endpoint``; faults only when ``server`` is the fault-injecting emulator.

    On ``transport="obstore"`` no process is forked: obstore's tokio runtime does not
    survive a fork of a process that used it (its worker processes are spawned afresh).
    """
    import boto3
    from botocore.config import Config

    from sessionstore.adapters.s3 import S3Persistence
    from support.s3_server import DUMMY_CREDENTIALS, REGION

    session = boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
        region_name=REGION,
    )
    client = session.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 3},
            connect_timeout=CLIENT_TIMEOUT,
            read_timeout=CLIENT_TIMEOUT,
            s3={"addressing_style": "path"},
            max_pool_connections=32,
        ),
    )

    def new() -> tuple[SessionPersistence, str | None]:
        prefix = f"m-{uuid.uuid4().hex[:10]}"
        url = f"s3://{bucket}/{prefix}?region={REGION}"
        if transport == "obstore":
            fast = S3Persistence(
                bucket,
                prefix,
                transport="obstore",
                endpoint_url=endpoint,
                region=REGION,
                max_attempts=3,
                connect_timeout=CLIENT_TIMEOUT,
                read_timeout=CLIENT_TIMEOUT,
            )
            return fast, f"{url}&transport=obstore"
        store = S3Persistence(bucket, prefix, client=client, max_workers=16)
        return store, url

    env = {
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent/sessionstore-tests/config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/sessionstore-tests/creds",
    }

    def key_of(store: SessionPersistence, session: str) -> str:
        return f"{store.prefix}/{session}.json"  # type: ignore[attr-defined]

    backend = Backend(name, new, env=env, key_of=key_of, forks=transport == "boto3")
    if server is not None:
        actions: dict[FaultName, tuple[Any, int]] = {
            "lost_500": ("apply_then_500", 1),
            "drop": ("apply_then_drop", 1),
            "refused_503": ("slowdown_503", 1),
            "conflict_409": ("conflict_409", 1),
            "throttle": ("slowdown_503", 8),
            "stall": ("stall_then_apply", 1),
        }

        def arm(fault: FaultName, method: str, key: str) -> bool:
            action, times = actions[fault]
            server.inject(action, method=method, key=key, times=times, delay=STALL)
            return True

        backend.arm = arm
        backend.clear = server.clear_faults
        backend.wait_stalled = server.wait_stalled
    return backend


def gcs_backend(server: GcsEmulator, bucket: str) -> Backend:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from sessionstore.adapters.gcs import GcsPersistence
    from support.gcs_server import Fault

    client = storage.Client(
        project="sessionstore-tests",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": server.url},
    )

    def new() -> tuple[SessionPersistence, str | None]:
        prefix = f"m-{uuid.uuid4().hex[:10]}"
        store = GcsPersistence(
            bucket,
            prefix,
            client=client,
            timeout=(CLIENT_TIMEOUT, CLIENT_TIMEOUT),
            retry_initial=0.001,
            retry_maximum=0.005,
            retry_deadline=1.5,
        )
        return store, f"gs://{bucket}/{prefix}"

    def arm(fault: FaultName, method: str, key: str) -> bool:
        # Uploads name the object in the query, so they are matched by path kind only.
        http_method = "POST" if method == "PUT" else method
        path = "/upload/" if http_method == "POST" else key
        plans: dict[FaultName, Fault] = {
            "lost_500": Fault("fail_after", http_method, path, status=500),
            "drop": Fault("drop_after", http_method, path),
            "refused_503": Fault("fail_before", http_method, path, status=503),
            "conflict_409": Fault("fail_before", http_method, path, status=429),
            # A burst, as on S3 (and as GCS's one-write-per-second limit is): a throttle
            # that lasted until cleared would refuse a caller's every retry.
            "throttle": Fault("fail_before", http_method, path, status=429, times=8),
            "stall": Fault("stall_before", http_method, path, delay=STALL),
        }
        server.add_fault(plans[fault])
        return True

    def key_of(store: SessionPersistence, session: str) -> str:
        return f"{store.prefix}/{session}.json"  # type: ignore[attr-defined]

    return Backend(
        "gcs",
        new,
        env={"STORAGE_EMULATOR_HOST": server.url},
        arm=arm,
        clear=server.clear_faults,
        wait_stalled=server.wait_stalled,
        key_of=key_of,
        content_versions=False,
    )
