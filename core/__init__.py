"""sessionstore: crash-safe, compare-and-swap persistence for live agent sessions.

::

    from sessionstore import SessionSnapshot, open_store

    async with open_store("file:///var/lib/agent/sessions") as store:
        version = await store.save("call-42", SessionSnapshot(phase="greeting"))
        await store.save("call-42", snapshot, expected_version=version)  # CAS

``import sessionstore`` itself costs almost nothing: each public name is imported
on first use (PEP 562), so a cold start pays only for what it touches. Cloud SDKs
are imported when an ``s3://`` or ``gs://`` store is opened.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
        InvalidIdempotencyKey,
        InvalidSessionId,
        InvalidSnapshot,
        InvalidStoreUrl,
        MissingDependency,
        OutcomeUnknown,
        SessionBusy,
        SessionStoreError,
        SnapshotTooLarge,
        StoreNotFound,
    )
    from sessionstore.filesystem import FsPersistence
    from sessionstore.ids import decode_id, encode_id, is_valid_session_id, validate_session_id
    from sessionstore.memory import MemoryPersistence
    from sessionstore.model import SessionSnapshot, VersionedSnapshot, utc_now
    from sessionstore.ownership import BlockingSessionLease, SessionLease
    from sessionstore.registry import open_store, register_store
    from sessionstore.writer import SnapshotWriter

__version__ = "0.1.0"

# Where each public name lives: the module is imported on first access.
_LOCATIONS: dict[str, str] = {
    "ANY_VERSION": "contract",
    "DEFAULT_MAX_BYTES": "contract",
    "ExpectedVersion": "contract",
    "SessionPersistence": "contract",
    "AccessDenied": "errors",
    "BackendError": "errors",
    "BackendUnavailable": "errors",
    "ConflictError": "errors",
    "CorruptSnapshot": "errors",
    "FencedError": "errors",
    "InvalidIdempotencyKey": "errors",
    "InvalidSessionId": "errors",
    "InvalidSnapshot": "errors",
    "InvalidStoreUrl": "errors",
    "MissingDependency": "errors",
    "OutcomeUnknown": "errors",
    "SessionBusy": "errors",
    "SessionStoreError": "errors",
    "SnapshotTooLarge": "errors",
    "StoreNotFound": "errors",
    "FsPersistence": "filesystem",
    "decode_id": "ids",
    "encode_id": "ids",
    "is_valid_session_id": "ids",
    "validate_session_id": "ids",
    "MemoryPersistence": "memory",
    "SessionSnapshot": "model",
    "VersionedSnapshot": "model",
    "utc_now": "model",
    "BlockingSessionLease": "ownership",
    "SessionLease": "ownership",
    "open_store": "registry",
    "SnapshotWriter": "writer",
    "register_store": "registry",
}

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
    "InvalidIdempotencyKey",
    "InvalidSessionId",
    "InvalidSnapshot",
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
    "SnapshotWriter",
    "StoreNotFound",
    "VersionedSnapshot",
    "decode_id",
    "encode_id",
    "is_valid_session_id",
    "open_store",
    "register_store",
    "utc_now",
    "validate_session_id",
]


def __getattr__(name: str) -> Any:
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'sessionstore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"sessionstore.{module}"), name)
    globals()[name] = value  # later lookups no longer come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
