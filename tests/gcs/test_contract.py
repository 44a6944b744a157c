"""The shared contract suite against GCS (fake-gcs-server behind the enforcing proxy)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from sessionstore.testing import SessionPersistenceContract

if TYPE_CHECKING:
    from sessionstore.adapters.gcs import GcsPersistence


class TestGcsContract(SessionPersistenceContract):
    @pytest.fixture
    def store(self, gcs_store: GcsPersistence) -> GcsPersistence:
        return gcs_store
