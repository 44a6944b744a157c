"""The obstore transport passes the whole shared contract suite (moto, serialising emulator)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from sessionstore.testing import SessionPersistenceContract

if TYPE_CHECKING:
    from sessionstore.adapters.s3 import S3Persistence

pytest.importorskip("obstore")


class TestS3ObstoreContract(SessionPersistenceContract):
    @pytest.fixture
    def store(self, obstore_store: S3Persistence) -> S3Persistence:
        return obstore_store
