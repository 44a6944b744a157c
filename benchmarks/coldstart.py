"""Cold start in fresh interpreters: what ``sessionstore`` adds to a serverless first turn.

Every sample is a new ``python -c`` process (same interpreter, loopback environment,
bytecode caches warm for every module after one unrecorded warm-up round).
Each child times itself with ``perf_counter`` from its first line, so interpreter
start-up (identical for all variants) is excluded; the parent also records the whole
process's wall time. Variants are interleaved round-robin, the order rotating every
round. Medians are reported.

* ``import pydantic`` against ``import sessionstore``;
* first use: ``from sessionstore import SessionSnapshot, open_store``, open
  ``memory://``, one save and one load in ``asyncio.run``, against ``import pydantic``
  plus defining an equivalent ``BaseModel`` (same fields, config and validators), one
  ``model_dump_json`` into a dict and one ``model_validate_json`` back, also in
  ``asyncio.run``;
* cloud SDK isolation: which cloud-SDK modules are in ``sys.modules`` after each of the
  above, and what opening ``s3://`` / ``gs://`` costs (``open_store``, which imports
  the SDK) and the first save on it (client construction + one request).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from benchmarks.common import median
from benchmarks.sandbox import REPO, loopback_environment
from benchmarks.serve import BUCKET

if TYPE_CHECKING:
    from benchmarks.common import Settings
    from benchmarks.serve import Endpoints

__all__ = ["SDK_ROOTS", "ColdRow", "run"]

#: Top-level packages of the cloud SDKs and their transports.
SDK_ROOTS = (
    "boto3",
    "botocore",
    "s3transfer",
    "google",
    "google_crc32c",
    "requests",
    "urllib3",
    "grpc",
    "proto",
)

_REPORT = f"""
import sys as _sys
_sdk = sorted(m for m in _sys.modules if m.split(".")[0] in {SDK_ROOTS!r})
print(repr({{"phases": _phases, "modules": len(_sys.modules), "sdk": _sdk}}))
"""

_MODEL = """
class SessionSnapshot(BaseModel):
    model_config = ConfigDict(strict=True, validate_assignment=True, extra="ignore")
    state: dict[str, JsonValue] = Field(default_factory=dict)
    phase: str
    turn_count: int = Field(default=0, ge=0, le=2**32 - 1)
    transcript_summary: str = ""
    resume_handle: str | None = None
    saved_at: str = Field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="milliseconds")
    )
"""

_SNAPSHOT = 'SessionSnapshot(phase="greeting", state={"caller": "Alice"}, turn_count=1)'

VARIANTS: dict[str, str] = {
    "import pydantic": """
import time
_t0 = time.perf_counter()
import pydantic
_phases = {"import": time.perf_counter() - _t0}
""",
    "import sessionstore": """
import time
_t0 = time.perf_counter()
import sessionstore
_phases = {"import": time.perf_counter() - _t0}
""",
    "pydantic: import, define model, dump + validate": f"""
import time
_t0 = time.perf_counter()
import asyncio
from datetime import datetime, timezone
from pydantic import BaseModel, ConfigDict, Field, JsonValue
_t1 = time.perf_counter()
{_MODEL}
_bodies = {{}}
async def _main():
    _bodies["call-1"] = {_SNAPSHOT}.model_dump_json().encode()
    return SessionSnapshot.model_validate_json(_bodies["call-1"])
_loaded = asyncio.run(_main())
_t2 = time.perf_counter()
_phases = {{"import": _t1 - _t0, "use": _t2 - _t1, "total": _t2 - _t0}}
""",
    "sessionstore: import, open memory://, save + load": f"""
import time
_t0 = time.perf_counter()
import asyncio
from sessionstore import SessionSnapshot, open_store
_t1 = time.perf_counter()
async def _main():
    async with open_store("memory://") as store:
        await store.save("call-1", {_SNAPSHOT})
        return await store.load("call-1")
_loaded = asyncio.run(_main())
_t2 = time.perf_counter()
_phases = {{"import": _t1 - _t0, "use": _t2 - _t1, "total": _t2 - _t0}}
""",
}

_CLOUD = """
import time
_t0 = time.perf_counter()
import asyncio
from sessionstore import SessionSnapshot, open_store
_t1 = time.perf_counter()
import sys as _sys
_before = sorted(m for m in _sys.modules if m.split(".")[0] in {roots!r})
store = open_store({url!r})
_t2 = time.perf_counter()
asyncio.run(store.save("cold", {snapshot}))
_t3 = time.perf_counter()
asyncio.run(store.aclose())
_phases = {{"import": _t1 - _t0, "open_store": _t2 - _t1, "first save": _t3 - _t2,
            "sdk before open": len(_before)}}
"""

PAIRS = (
    ("import pydantic", "import sessionstore"),
    (
        "pydantic: import, define model, dump + validate",
        "sessionstore: import, open memory://, save + load",
    ),
)


@dataclass
class ColdRow:
    variant: str
    runs: int
    phases: dict[str, float]  # median seconds per phase, in the child
    process: float  # median wall seconds of the whole process, seen by the parent
    modules: int  # len(sys.modules) at the end
    sdk_modules: list[str] = field(default_factory=list)  # cloud-SDK modules loaded

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _child(code: str, env: dict[str, str]) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code + _REPORT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"cold-start child failed:\n{done.stderr[-3000:]}")
    report: dict[str, Any] = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    return report, elapsed


def _cloud_variants(endpoints: Endpoints) -> dict[str, tuple[str, dict[str, str]]]:
    s3_url = f"s3://{BUCKET}/coldstart?endpoint_url={endpoints.s3}"
    snapshot = _SNAPSHOT
    s3 = _CLOUD.format(roots=SDK_ROOTS, url=s3_url, snapshot=snapshot)
    gcs = _CLOUD.format(roots=SDK_ROOTS, url=f"gs://{BUCKET}/coldstart", snapshot=snapshot)
    # google-cloud-storage honours STORAGE_EMULATOR_HOST (anonymous credentials, no lookup).
    gcs_env = {"STORAGE_EMULATOR_HOST": endpoints.gcs}
    return {
        "sessionstore: open s3://, first save": (s3, {}),
        "sessionstore: open gs://, first save": (gcs, gcs_env),
    }


def _summarise(variant: str, samples: list[tuple[dict[str, Any], float]]) -> ColdRow:
    names = samples[0][0]["phases"].keys()
    phases = {name: median([s[0]["phases"][name] for s in samples]) for name in names}
    last = samples[-1][0]
    return ColdRow(
        variant=variant,
        runs=len(samples),
        phases=phases,
        process=median([s[1] for s in samples]),
        modules=int(last["modules"]),
        sdk_modules=list(last["sdk"]),
    )


def run(endpoints: Endpoints, settings: Settings) -> list[ColdRow]:
    with tempfile.TemporaryDirectory(prefix="sessionstore-bench-pycache-") as cache:
        return _run(endpoints, settings, _bytecode_environment(cache))


def _bytecode_environment(cache: str) -> dict[str, str]:
    """Children that read (and on first run write) bytecode caches, as an installed package.

    ``PYTHONDONTWRITEBYTECODE`` may be set on developer machines and CI; then an editable
    install's sources would be compiled on every start while pydantic's wheel came with
    bytecode. A private ``PYTHONPYCACHEPREFIX`` gives every module (sessionstore, pydantic,
    the SDKs) the same treatment, and a warm-up round fills it; the working tree is not
    written to.
    """
    env = loopback_environment()
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = cache
    return env


def _run(endpoints: Endpoints, settings: Settings, base_env: dict[str, str]) -> list[ColdRow]:
    jobs: dict[str, tuple[str, dict[str, str]]] = {
        name: (code, {}) for name, code in VARIANTS.items()
    }
    cloud = _cloud_variants(endpoints)
    samples: dict[str, list[tuple[dict[str, Any], float]]] = {name: [] for name in jobs}
    samples.update({name: [] for name in cloud})
    names = list(jobs)
    for code, extra in [*jobs.values(), *cloud.values()]:  # warm-up: fills the bytecode cache
        _child(code, {**base_env, **extra})
    for round_index in range(settings.coldstart_runs):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            code, extra = jobs[name]
            samples[name].append(_child(code, {**base_env, **extra}))
    cloud_runs = max(2, settings.coldstart_runs // 4)
    for _ in range(cloud_runs):
        for name, (code, extra) in cloud.items():
            samples[name].append(_child(code, {**base_env, **extra}))
    return [_summarise(name, found) for name, found in samples.items()]
