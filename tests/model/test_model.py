"""Run the model (:mod:`model.machine`) against every backend.

Budget: the defaults below keep the whole model run (every backend) to a couple of
minutes on two cores. ``SESSIONSTORE_MODEL_SOAK=1`` multiplies examples and steps
for a long soak (``SESSIONSTORE_MODEL_SOAK=N`` multiplies by N). A failure prints
the shrunk steps and a ``@reproduce_failure`` blob; rerun with
``--hypothesis-seed=<seed>`` (hypothesis prints it) to replay the same search.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from model.backends import Backend, fs_backend, gcs_backend, memory_backend, s3_backend
from model.machine import machine_for

if TYPE_CHECKING:
    from pathlib import Path

    from support.gcs_server import GcsEmulator
    from support.s3_server import S3Emulator
    from support.s3_servers import S3Server

_soak = os.environ.get("SESSIONSTORE_MODEL_SOAK", "")
SOAK = int(_soak) if _soak.isdigit() and int(_soak) > 1 else (25 if _soak else 1)

#: (examples, steps per example) per backend in CI.
BUDGET = {
    "memory": (100, 15),
    "filesystem": (30, 12),
    "s3-moto": (12, 10),
    "s3-obstore": (12, 10),
    "s3-seaweedfs": (8, 8),
    "gcs": (12, 10),
}


def run_model(backend: Backend) -> None:
    examples, steps = BUDGET[backend.name]
    run_state_machine_as_test(
        machine_for(backend),
        settings=settings(
            max_examples=examples * SOAK,
            stateful_step_count=steps * (2 if SOAK > 1 else 1),
            deadline=None,
            print_blob=True,
            database=None,
            # CI replays one fixed search (a failure there is reproducible); a soak
            # (SESSIONSTORE_MODEL_SOAK) searches afresh every run.
            derandomize=SOAK == 1,
            suppress_health_check=list(HealthCheck),
        ),
    )


def test_model_memory() -> None:
    run_model(memory_backend())


def test_model_filesystem(tmp_path: Path) -> None:
    run_model(fs_backend(tmp_path))


def test_model_s3_moto(s3_server: S3Emulator, s3_bucket: str, aws_sandbox: None) -> None:
    run_model(s3_backend("s3-moto", s3_server, s3_server.endpoint_url, s3_bucket))


def test_model_s3_obstore(s3_server: S3Emulator, s3_bucket: str, aws_sandbox: None) -> None:
    pytest.importorskip("obstore")
    run_model(
        s3_backend("s3-obstore", s3_server, s3_server.endpoint_url, s3_bucket, transport="obstore")
    )


def test_model_s3_seaweedfs(seaweedfs: S3Server, aws_sandbox: None) -> None:
    run_model(s3_backend("s3-seaweedfs", None, seaweedfs.endpoint_url, seaweedfs.bucket))


@pytest.mark.usefixtures("gcs_sandbox")
def test_model_gcs(gcs_server: GcsEmulator, gcs_bucket: str) -> None:
    run_model(gcs_backend(gcs_server, gcs_bucket))
