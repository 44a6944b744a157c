"""A contract test suite any :class:`~sessionstore.SessionPersistence` can run.

Subclass it in a test module and provide a ``store`` fixture that returns a
fresh, empty store; every clause of the contract then runs against that backend::

    import pytest
    from sessionstore import FsPersistence
    from sessionstore.testing import SessionPersistenceContract

    class TestFsContract(SessionPersistenceContract):
        @pytest.fixture
        def store(self, tmp_path):
            return FsPersistence(tmp_path)

The tests are plain synchronous pytest functions that drive the async API with
``asyncio.run``, so no async plugin is needed. Requires pytest.
"""

from __future__ import annotations

import importlib.util

from sessionstore.errors import MissingDependency

if importlib.util.find_spec("pytest") is None:
    raise MissingDependency("sessionstore.testing needs pytest: pip install pytest")

from sessionstore.testing.contract_suite import SessionPersistenceContract
from sessionstore.testing.exactly_once_suite import increment
from sessionstore.testing.snapshots import make_snapshot

__all__ = ["SessionPersistenceContract", "increment", "make_snapshot"]
