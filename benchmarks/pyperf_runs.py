"""Run the pyperf suites (:mod:`benchmarks.bench_ops`, ``pyperf command``) and read them.

The servers run outside the measured processes: ``support.fast_s3`` in a child
process, fake-gcs-server (a Go binary) directly. pyperf spawns its own workers; the
servers' URLs and the loopback-only environment reach them via ``--inherit-environ``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyperf

from benchmarks.lean_venv import lean_python
from benchmarks.sandbox import REPO, use_support

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

__all__ = ["Servers", "run"]

BUCKET = "sessionstore-bench"
_INHERIT = [
    "SESSIONSTORE_BENCH_S3",
    "SESSIONSTORE_BENCH_GCS",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "GCE_METADATA_HOST",
    "GCE_METADATA_IP",
    "NO_GCE_CHECK",
    "CLOUDSDK_CONFIG",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA",
    "NO_PROXY",
    "no_proxy",
    "PYTHONPATH",
]


class Servers:
    """fast_s3 in a child process and fake-gcs-server, for the lifetime of the block."""

    def __init__(self) -> None:
        self.s3 = ""
        self.gcs = ""
        self._s3_process: subprocess.Popen[str] | None = None
        self._gcs: Any = None

    def __enter__(self) -> Servers:
        use_support()
        from support.gcs_server import GcsEmulator

        self._s3_process = subprocess.Popen(
            [sys.executable, "-m", "support.fast_s3", BUCKET],
            cwd=REPO / "tests",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._s3_process.stdout is not None
        self.s3 = f"http://127.0.0.1:{int(self._s3_process.stdout.readline())}"
        self._gcs = GcsEmulator().__enter__()
        self._gcs.create_bucket(BUCKET)
        self.gcs = self._gcs.direct_url
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._gcs is not None:
            self._gcs.__exit__(kind, exc, tb)
        if self._s3_process is not None:
            assert self._s3_process.stdin is not None
            self._s3_process.stdin.close()
            self._s3_process.wait(10)

    def environment(self) -> dict[str, str]:
        from benchmarks.__main__ import child_environment

        return child_environment(
            {"SESSIONSTORE_BENCH_S3": self.s3, "SESSIONSTORE_BENCH_GCS": self.gcs}
        )


def _pyperf_options(rigorous: bool) -> list[str]:
    # The default is lean (4 worker processes x 3 values, 1 warm-up, 0.1 s per value),
    # so the whole run fits in minutes on 2 shared cores; --rigorous is pyperf's own.
    spread = ["--rigorous"] if rigorous else ["-p", "4", "-n", "3", "-w", "1", "--min-time", "0.1"]
    return [*spread, "--quiet", f"--inherit-environ={','.join(_INHERIT)}"]


def _load(path: Path) -> list[dict[str, Any]]:
    suite = pyperf.BenchmarkSuite.load(str(path))
    rows = []
    for bench in suite.get_benchmarks():
        rows.append(
            {
                "name": bench.get_name(),
                "mean_s": bench.mean(),
                "stdev_s": bench.stdev() if bench.get_nvalue() > 1 else 0.0,
                "median_s": bench.median(),
                "values": bench.get_nvalue(),
            }
        )
    return rows


# Ends with os._exit(0) right after the first resume: the measure is process start to
# first resume (interpreter teardown excluded, for every variant alike). It also keeps
# the run alive past an obstore 0.12.1 defect seen here: a process that made a request
# sometimes aborts (SIGABRT) during interpreter teardown, bare obstore included.
_RESUME = (
    "import asyncio, os, sessionstore{extra}; "
    "store = sessionstore.open_store({url!r}{options}); "
    "assert asyncio.run(store.load('resume')) is not None; os._exit(0)"
)


# The SDKs' own first read, for reference: what a hand-written resume would cost.
_BARE_OBSTORE = (
    "import os, obstore; from obstore.store import S3Store; "
    "store = S3Store({bucket!r}, endpoint={endpoint!r}, region='us-east-1', "
    "virtual_hosted_style_request=False, client_options={{'allow_http': True}}); "
    "obstore.get(store, 'coldstart/resume.json').bytes(); os._exit(0)"
)
_BARE_BOTO3 = (
    "import os, boto3; "
    "client = boto3.client('s3', endpoint_url={endpoint!r}, region_name='us-east-1'); "
    "client.get_object(Bucket={bucket!r}, Key='coldstart/resume.json')['Body'].read(); "
    "os._exit(0)"
)


def _coldstart_commands(servers: Servers) -> dict[str, str]:
    """One line each (pyperf keeps the command in its metadata, which refuses newlines)."""
    s3 = f"s3://{BUCKET}/coldstart?endpoint_url={servers.s3}"
    gcs_options = (
        f", project='bench', credentials=AnonymousCredentials(), api_endpoint={servers.gcs!r}"
    )
    return {
        "python -c pass (interpreter floor)": "import os; os._exit(0)",
        "bare obstore: build a store, one get (reference)": _BARE_OBSTORE.format(
            bucket=BUCKET, endpoint=servers.s3
        ),
        "bare boto3: build a client, one get_object (reference)": _BARE_BOTO3.format(
            bucket=BUCKET, endpoint=servers.s3
        ),
        "import sessionstore": "import os, sessionstore; os._exit(0)",
        "memory://: open, first load (the library's floor, no I/O)": (
            "import asyncio, os, sessionstore; store = sessionstore.open_store('memory://'); "
            "asyncio.run(store.load('resume')); os._exit(0)"
        ),
        "s3 boto3: open, first resume (load)": _RESUME.format(extra="", url=s3, options=""),
        "s3 obstore: open, first resume (load)": _RESUME.format(
            extra="", url=f"{s3}&transport=obstore", options=""
        ),
        "gcs: open, first resume (load)": _RESUME.format(
            extra="; from google.auth.credentials import AnonymousCredentials",
            url=f"gs://{BUCKET}/coldstart",
            options=gcs_options,
        ),
    }


def _seed_coldstart(servers: Servers) -> None:
    """Store the session the cold-start commands resume."""
    import asyncio

    from benchmarks.bench_ops import open_store
    from benchmarks.common import KIB, make_snapshot

    async def seed() -> None:
        for arm in ("store-s3-boto3", "store-gcs"):
            store = open_store(arm, "coldstart")
            await store.save("resume", make_snapshot(64 * KIB))
            await store.aclose()

    import os

    os.environ["SESSIONSTORE_BENCH_S3"] = servers.s3
    os.environ["SESSIONSTORE_BENCH_GCS"] = servers.gcs
    asyncio.run(seed())


def run(
    section: str, servers: Servers, *, rigorous: bool, say: Callable[[str], None]
) -> list[dict[str, Any]]:
    from benchmarks.__main__ import run_child

    env = servers.environment()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if section in ("cpu", "throughput"):
            out = Path(tmp) / f"{section}.json"
            run_child(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.bench_ops",
                    "--suite",
                    section,
                    *_pyperf_options(rigorous),
                    "-o",
                    str(out),
                ],
                env,
            )
            return _load(out)
        _seed_coldstart(servers)
        say("cold start: installing the working tree into .venv-coldstart")
        python = lean_python()
        # Not PYTHONPATH: the lean venv imports the installed wheel only.
        cold_options = [
            option
            if not option.startswith("--inherit-environ=")
            else "--inherit-environ=" + ",".join(n for n in _INHERIT if n != "PYTHONPATH")
            for option in _pyperf_options(rigorous)
        ]
        for name, code in _coldstart_commands(servers).items():
            say(f"cold start: {name}")
            out = Path(tmp) / "cold.json"
            out.unlink(missing_ok=True)
            run_child(
                [
                    sys.executable,
                    "-m",
                    "pyperf",
                    "command",
                    *cold_options,
                    "-o",
                    str(out),
                    "--name",
                    name,
                    "--",
                    str(python),
                    "-c",
                    code,
                ],
                env,
            )
            rows += _load(out)
    return rows
