"""The one session-id rule, shared by every backend and checked before any I/O.

An id is 1 to 200 characters from ``A-Z a-z 0-9 . _ : @ = + -`` and starts with
a letter or a digit. That excludes path separators, NUL, control characters,
``.`` and ``..`` and hidden-file names, so an id can never address anything
outside its store, and ``<id>.json`` plus a temp-file suffix stays inside the
255-byte file-name limit.
"""

from __future__ import annotations

import re

from sessionstore.errors import InvalidSessionId

__all__ = ["MAX_SESSION_ID_LENGTH", "is_valid_session_id", "validate_prefix", "validate_session_id"]

MAX_SESSION_ID_LENGTH = 200

_ALLOWED = "A-Za-z0-9._:@=+-"
_SESSION_ID = re.compile(rf"[A-Za-z0-9][{_ALLOWED}]{{0,{MAX_SESSION_ID_LENGTH - 1}}}")
_PREFIX = re.compile(rf"[{_ALLOWED}]{{0,{MAX_SESSION_ID_LENGTH}}}")


def is_valid_session_id(session_id: object) -> bool:
    """Whether ``session_id`` satisfies the id rule (no exception)."""
    return isinstance(session_id, str) and _SESSION_ID.fullmatch(session_id) is not None


def validate_session_id(session_id: object) -> str:
    """Return ``session_id`` unchanged, or raise :class:`InvalidSessionId` saying why."""
    if is_valid_session_id(session_id):
        return session_id  # type: ignore[return-value]  # narrowed by is_valid_session_id
    raise InvalidSessionId(session_id, _why(session_id))


def validate_prefix(prefix: object) -> str:
    """A listing prefix: any leading part of a valid id, including the empty string."""
    if isinstance(prefix, str) and _PREFIX.fullmatch(prefix):
        return prefix
    raise InvalidSessionId(prefix, f"a listing prefix may only use {_ALLOWED}")


def _why(session_id: object) -> str:
    if not isinstance(session_id, str):
        return f"must be a str, not {type(session_id).__name__}"
    if not session_id:
        return "must not be empty"
    if len(session_id) > MAX_SESSION_ID_LENGTH:
        return f"longer than {MAX_SESSION_ID_LENGTH} characters"
    if not session_id[0].isascii() or not session_id[0].isalnum():
        return "must start with an ASCII letter or digit"
    bad = next(c for c in session_id if not (c.isascii() and (c.isalnum() or c in "._:@=+-")))
    return f"character {bad!r} is not allowed (use {_ALLOWED})"
