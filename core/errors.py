"""Every error sessionstore raises, as one small tree.

::

    SessionStoreError
     ├── InvalidSessionId        (also ValueError)   id breaks the id rule; no I/O was done
 ├── InvalidSnapshot         (also ValueError)   snapshot would not read back as given; no I/O
 ├── InvalidIdempotencyKey   (also ValueError)   key breaks the key rule; no I/O was done
     ├── InvalidStoreUrl         (also ValueError)   open_store() cannot parse or route the URL
     ├── MissingDependency       (also ImportError)  the backend's extra is not installed
     ├── SnapshotTooLarge        (also ValueError)   encoded body exceeds max_bytes; nothing written
     ├── CorruptSnapshot                             stored body is not a readable snapshot
     ├── ConflictError                               expected version did not match; nothing written
     ├── OutcomeUnknown                              a write whose result cannot be determined
     ├── SessionBusy                                 another owner holds the session's lease
     ├── FencedError                                 a newer owner (or outside writer) took over
     └── BackendError                                the storage service failed or refused
          ├── StoreNotFound                          bucket or directory does not exist
          ├── AccessDenied                           forbidden, or bad credentials
          └── BackendUnavailable                     throttled, 5xx or network failure after retries

Adapters translate SDK exceptions into this tree in one place each and always
chain the original (``raise ... from exc``), so ``__cause__`` holds the SDK's
own error for debugging while callers only ever catch these types.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "BackendError",
    "BackendUnavailable",
    "ConflictError",
    "CorruptSnapshot",
    "FencedError",
    "InvalidIdempotencyKey",
    "InvalidSessionId",
    "InvalidSnapshot",
    "InvalidStoreUrl",
    "MissingDependency",
    "OutcomeUnknown",
    "SessionBusy",
    "SessionStoreError",
    "SnapshotTooLarge",
    "StoreNotFound",
]


class SessionStoreError(Exception):
    """Root of every error raised by sessionstore."""


class InvalidSessionId(SessionStoreError, ValueError):
    """The session id breaks the id rule. Raised before any I/O."""

    def __init__(self, session_id: object, reason: str) -> None:
        self.session_id = session_id
        self.reason = reason
        super().__init__(f"invalid session id {session_id!r}: {reason}")


class InvalidSnapshot(SessionStoreError, ValueError):
    """The snapshot cannot be stored as given (a field is invalid, or would not read back
    equal). Raised before any I/O: nothing was written."""

    def __init__(self, session_id: str, field: str, reason: str) -> None:
        self.session_id = session_id
        self.field = field
        self.reason = reason
        super().__init__(
            f"snapshot for session {session_id!r} is invalid, nothing was written: "
            f"field {field!r}: {reason}"
        )


class InvalidIdempotencyKey(SessionStoreError, ValueError):
    """The idempotency key breaks the key rule (1 to 128 characters of the id alphabet).
    Raised before any I/O."""

    def __init__(self, key: object, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"invalid idempotency key {key!r}: {reason}")


class InvalidStoreUrl(SessionStoreError, ValueError):
    """``open_store`` could not parse the URL or knows no backend for its scheme."""


class MissingDependency(SessionStoreError, ImportError):
    """A backend needs an optional dependency that is not installed."""


class SnapshotTooLarge(SessionStoreError, ValueError):
    """The encoded snapshot is larger than the store's ``max_bytes``. Nothing was written."""

    def __init__(self, session_id: str, size: int, limit: int) -> None:
        self.session_id = session_id
        self.size = size
        self.limit = limit
        super().__init__(
            f"snapshot for session {session_id!r} is {size} bytes, over the store's limit of "
            f"{limit} bytes"
        )


class CorruptSnapshot(SessionStoreError):
    """The stored body of a session is not a snapshot this library can read."""

    def __init__(self, session_id: str, detail: str) -> None:
        self.session_id = session_id
        self.detail = detail
        super().__init__(f"stored snapshot for session {session_id!r} is unreadable: {detail}")


class ConflictError(SessionStoreError):
    """The stored version was not the expected one; nothing was written or deleted."""

    def __init__(self, session_id: str, detail: str = "stored version does not match") -> None:
        self.session_id = session_id
        super().__init__(f"conflict on session {session_id!r}: {detail}")


class OutcomeUnknown(SessionStoreError):
    """A write was sent but whether it took effect cannot be determined.

    Raised only after the library has tried to resolve the outcome by reading
    the stored write id. The caller must reload before deciding what to do.
    """

    def __init__(self, session_id: str, detail: str) -> None:
        self.session_id = session_id
        super().__init__(f"outcome of write to session {session_id!r} is unknown: {detail}")


class SessionBusy(SessionStoreError):
    """Another owner holds the session's lease and has not released it."""

    def __init__(self, session_id: str, owner: str, epoch: int) -> None:
        self.session_id = session_id
        self.owner = owner
        self.epoch = epoch
        super().__init__(f"session {session_id!r} is held by {owner!r} (epoch {epoch})")


class FencedError(SessionStoreError):
    """The lease was superseded: a newer owner or an outside writer changed the session."""

    def __init__(self, session_id: str, detail: str) -> None:
        self.session_id = session_id
        super().__init__(f"lease on session {session_id!r} is fenced: {detail}")


class BackendError(SessionStoreError):
    """The storage service failed or refused the request."""


class StoreNotFound(BackendError):
    """The bucket, container or directory behind the store does not exist."""


class AccessDenied(BackendError):
    """The service refused the credentials, or they lack a needed permission."""


class BackendUnavailable(BackendError):
    """Throttling, server errors or network failures outlasted the retries."""
