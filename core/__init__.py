"""sessionstore: crash-safe, compare-and-swap persistence for live agent sessions.

::

    from sessionstore import SessionSnapshot, open_store

    async with open_store("file:///var/lib/agent/sessions") as store:
        version = await store.save("call-42", SessionSnapshot(phase="greeting"))
        await store.save("call-42", snapshot, expected_version=version)  # CAS

Importing this package loads pydantic and the standard library only; cloud SDKs
are imported when an ``s3://`` or ``gs://`` store is opened.
"""

from __future__ import annotations

from sessionstore.contract import (
    ANY_VERSION,
    DEFAULT_MAX_BYTES,
    ExpectedVersion,
    SessionPersistence,
)
from sessionstore.errors import (
    AccessDenied,
    BackendError,
    BackendUnavailable,
    ConflictError,
    CorruptSnapshot,
    FencedError,
    InvalidSessionId,
    InvalidStoreUrl,
    MissingDependency,
    OutcomeUnknown,
    SessionBusy,
    SessionStoreError,
    SnapshotTooLarge,
    StoreNotFound,
)
from sessionstore.filesystem import FsPersistence
from sessionstore.ids import is_valid_session_id, validate_session_id
from sessionstore.memory import MemoryPersistence
from sessionstore.model import SessionSnapshot, VersionedSnapshot, utc_now
from sessionstore.ownership import BlockingSessionLease, SessionLease
from sessionstore.registry import open_store, register_store

__version__ = "0.1.0"

__all__ = [
    "ANY_VERSION",
    "DEFAULT_MAX_BYTES",
    "AccessDenied",
    "BackendError",
    "BackendUnavailable",
    "BlockingSessionLease",
    "ConflictError",
    "CorruptSnapshot",
    "ExpectedVersion",
    "FencedError",
    "FsPersistence",
    "InvalidSessionId",
    "InvalidStoreUrl",
    "MemoryPersistence",
    "MissingDependency",
    "OutcomeUnknown",
    "SessionBusy",
    "SessionLease",
    "SessionPersistence",
    "SessionSnapshot",
    "SessionStoreError",
    "SnapshotTooLarge",
    "StoreNotFound",
    "VersionedSnapshot",
    "is_valid_session_id",
    "open_store",
    "register_store",
    "utc_now",
    "validate_session_id",
]
