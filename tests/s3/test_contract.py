"""The shared contract suite against S3 (moto behind the serialising emulator)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from sessionstore.testing import SessionPersistenceContract

if TYPE_CHECKING:
    from sessionstore.adapters.s3 import S3Persistence


class TestS3Contract(SessionPersistenceContract):
    @pytest.fixture
    def store(self, s3_store: S3Persistence) -> S3Persistence:
        return s3_store
