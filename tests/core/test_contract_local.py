"""The contract suite on the two core stores: memory and the real filesystem."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from sessionstore import FsPersistence, MemoryPersistence
from sessionstore.testing import SessionPersistenceContract

if TYPE_CHECKING:
    from pathlib import Path


class TestMemoryContract(SessionPersistenceContract):
    @pytest.fixture
    def store(self) -> MemoryPersistence:
        return MemoryPersistence()


class TestFsContract(SessionPersistenceContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> FsPersistence:
        return FsPersistence(tmp_path / "sessions")
