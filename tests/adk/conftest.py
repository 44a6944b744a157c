"""Fixtures for the ADK adapter: the service on every backend."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

from sessionstore import FsPersistence, MemoryPersistence
from sessionstore.adapters.adk import StoreSessionService
from sessionstore.adapters.s3 import S3Persistence

if TYPE_CHECKING:
    from pathlib import Path

    from sessionstore.contract import SessionPersistence
    from support.s3_servers import S3Server

BACKENDS = ["memory", "filesystem", "s3", "s3-seaweedfs", "gcs"]


@pytest.fixture(params=BACKENDS)
def backend_store(request: pytest.FixtureRequest, tmp_path: Path) -> SessionPersistence:
    """An empty store on each backend (S3 = moto, GCS = fake-gcs-server, both on loopback)."""
    if request.param == "memory":
        return MemoryPersistence()
    if request.param == "filesystem":
        return FsPersistence(tmp_path / "sessions", create=True)
    if request.param == "s3":
        store: SessionPersistence = request.getfixturevalue("s3_store")
        return store
    if request.param == "s3-seaweedfs":  # an independent S3 implementation
        seaweedfs: S3Server = request.getfixturevalue("seaweedfs")
        prefix = f"adk-{uuid.uuid4().hex[:12]}"
        return S3Persistence(seaweedfs.bucket, prefix, client=seaweedfs.client())
    gcs: SessionPersistence = request.getfixturevalue("gcs_store")
    return gcs


@pytest.fixture
def service(backend_store: SessionPersistence) -> StoreSessionService:
    return StoreSessionService(backend_store)
