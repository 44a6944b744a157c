"""The one place where Cloud Storage, google-auth and network exceptions become sessionstore errors.

Every message names the operation, bucket and object (or listing prefix), and
every translated error chains the original (the caller raises ``... from exc``).
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests
import urllib3
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions

from sessionstore.adapters.gcs._http import BadResponse, ChecksumMismatch, mentions_missing_bucket
from sessionstore.adapters.gcs._retry import describe, transient
from sessionstore.errors import (
    AccessDenied,
    BackendError,
    BackendUnavailable,
    ConflictError,
    OutcomeUnknown,
    StoreNotFound,
)

if TYPE_CHECKING:
    from sessionstore.adapters.gcs._retry import Attempts

__all__ = ["TRANSLATABLE", "Where", "delete_failure", "translate", "write_failure"]

#: What the adapter's calls may raise that must never reach a caller as is.
TRANSLATABLE: tuple[type[Exception], ...] = (
    api_exceptions.GoogleAPIError,
    auth_exceptions.GoogleAuthError,
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
    ChecksumMismatch,
    BadResponse,
)


@dataclass(frozen=True)
class Where:
    """What was being done, for messages: ``save of gs://bucket/prefix/id.json``."""

    op: str
    bucket: str
    name: str
    session_id: str | None = None

    def __str__(self) -> str:
        return f"{self.op} of gs://{self.bucket}/{self.name}"


def translate(
    exc: Exception, where: Where, attempts: Attempts, *, nothing: str = ""
) -> BackendError:
    """The error-tree exception for a failure that is not a conflict or an unknown outcome.

    ``nothing``: for a write none of whose attempts can have been applied, what to
    say about it ("nothing was written").
    """
    detail = f"{where}: {describe(exc)}{_after(attempts)}"
    if isinstance(exc, api_exceptions.NotFound):
        return StoreNotFound(f"bucket {where.bucket!r} does not exist ({detail})")
    if isinstance(exc, (api_exceptions.Unauthorized, api_exceptions.Forbidden)):
        return AccessDenied(f"access denied for {detail}")
    if isinstance(exc, auth_exceptions.GoogleAuthError) and not isinstance(
        exc, auth_exceptions.TransportError
    ):
        return AccessDenied(f"credentials failed for {detail}")
    if isinstance(exc, ChecksumMismatch):
        return BackendError(f"corrupted in transit on every attempt: {detail}")
    suffix = f"; {nothing}" if nothing else ""
    if transient(exc):
        return BackendUnavailable(f"GCS unavailable for {detail}{suffix}")
    return BackendError(f"GCS failed {detail}{suffix}")


def write_failure(
    exc: Exception, where: Where, attempts: Attempts, *, conditional: bool
) -> Exception:
    """What a failed upload means: unknown outcome, conflict, or a backend error."""
    session_id = where.session_id or where.name
    if attempts.may_have_applied(exc):
        return OutcomeUnknown(
            session_id, f"{where}: {describe(exc)}{_after(attempts)}; the upload may have landed"
        )
    return _not_applied(exc, where, attempts, conditional=conditional, nothing="written")


def delete_failure(
    exc: Exception, where: Where, attempts: Attempts, *, conditional: bool
) -> Exception | None:
    """What a failed delete means; None when the delete's effect holds anyway."""
    session_id = where.session_id or where.name
    object_missing = isinstance(exc, api_exceptions.NotFound) and not mentions_missing_bucket(exc)
    if object_missing and not conditional:
        return None  # nothing stored: an unconditional delete has nothing left to do
    if attempts.may_have_applied(exc):
        return OutcomeUnknown(
            session_id, f"{where}: {describe(exc)}{_after(attempts)}; the delete may have landed"
        )
    if object_missing:
        return ConflictError(session_id, "expected a stored version, found no stored session")
    return _not_applied(exc, where, attempts, conditional=conditional, nothing="deleted")


def _not_applied(
    exc: Exception, where: Where, attempts: Attempts, *, conditional: bool, nothing: str
) -> Exception:
    """A mutation none of whose attempts was carried out."""
    if isinstance(exc, api_exceptions.PreconditionFailed):
        if conditional:
            session_id = where.session_id or where.name
            return ConflictError(
                session_id, "the stored generation does not match the expected one"
            )
        # No precondition was sent, so this is no conflict (GCS's testbench, for
        # one, answers 412 to a body damaged in transit).
        return BackendError(
            f"GCS failed {where}: {describe(exc)} to a request that carried no "
            f"precondition; nothing was {nothing}"
        )
    return translate(exc, where, attempts, nothing=f"nothing was {nothing}")


def _after(attempts: Attempts) -> str:
    return f" (after {attempts.count} attempts)" if attempts.count > 1 else ""
