"""The one place where ADK's errors are raised for what the store reported."""

from __future__ import annotations

from typing import NoReturn

from google.adk.errors._stale_session_error import StaleSessionError
from google.adk.errors.already_exists_error import AlreadyExistsError
from google.adk.errors.session_not_found_error import SessionNotFoundError

__all__ = ["already_exists", "not_found", "stale"]


def already_exists(session_id: str, cause: BaseException | None = None) -> NoReturn:
    raise AlreadyExistsError(f"Session with id {session_id} already exists.") from cause


def stale(session_id: str, cause: BaseException | None = None) -> NoReturn:
    raise StaleSessionError(
        f"Session {session_id} was modified in storage since it was loaded (another writer "
        "appended first); reload it with get_session and retry. Nothing was written."
    ) from cause


def not_found(session_id: str, cause: BaseException | None = None) -> NoReturn:
    raise SessionNotFoundError(f"Session {session_id} not found.") from cause
