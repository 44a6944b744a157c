"""The one session-id rule, shared by every backend and checked before any I/O.

An id is 1 to 200 characters from ``A-Z a-z 0-9 . _ : @ = + -`` and starts with
a letter or a digit. That excludes path separators, NUL, control characters,
``.`` and ``..`` and hidden-file names, so an id can never address anything
outside its store, and ``<id>.json`` plus a temp-file suffix stays inside the
255-byte file-name limit.

Only the plain ``str`` value of an id is ever used: a ``str`` subclass (a
``(str, Enum)`` member, or one that overrides ``__str__`` or ``__format__``) is
converted by :func:`validate_session_id` before it is checked, and every store
uses the returned value, so what was checked is exactly what names the object.

Text that breaks the rule (framework ids with spaces, accents or ``|``, ids of the
reference design that start with ``-``) has one public, reversible encoding into the
alphabet, :func:`encode_id` / :func:`decode_id`, so no integration invents its own.
"""

from __future__ import annotations

import re

from sessionstore.errors import InvalidIdempotencyKey, InvalidSessionId

__all__ = [
    "MAX_IDEMPOTENCY_KEY_LENGTH",
    "MAX_SESSION_ID_LENGTH",
    "decode_id",
    "encode_id",
    "is_valid_session_id",
    "validate_idempotency_key",
    "validate_prefix",
    "validate_session_id",
]

MAX_SESSION_ID_LENGTH = 200
MAX_IDEMPOTENCY_KEY_LENGTH = 128

_ALLOWED = "A-Za-z0-9._:@=+-"
_SESSION_ID = re.compile(rf"[A-Za-z0-9][{_ALLOWED}]{{0,{MAX_SESSION_ID_LENGTH - 1}}}")
_PREFIX = re.compile(rf"[{_ALLOWED}]{{0,{MAX_SESSION_ID_LENGTH}}}")
_KEY = re.compile(rf"[{_ALLOWED}]{{1,{MAX_IDEMPOTENCY_KEY_LENGTH}}}")


def is_valid_session_id(session_id: object) -> bool:
    """Whether ``session_id`` satisfies the id rule (no exception)."""
    return (
        isinstance(session_id, str) and _SESSION_ID.fullmatch(str.__str__(session_id)) is not None
    )


def validate_session_id(session_id: object) -> str:
    """Return ``session_id`` as a plain ``str``, or raise :class:`InvalidSessionId` saying why.

    Callers must use the returned value: for a ``str`` subclass it is the plain
    string that was checked, whatever the subclass's ``__str__`` or ``__format__`` say.
    """
    if isinstance(session_id, str):
        plain = str.__str__(session_id)  # the underlying characters, never an override
        if _SESSION_ID.fullmatch(plain):
            return plain
        raise InvalidSessionId(plain, _why(plain))
    raise InvalidSessionId(session_id, _why(session_id))


def validate_prefix(prefix: object) -> str:
    """A listing prefix as a plain ``str``: any leading part of a valid id, or ``""``."""
    if isinstance(prefix, str):
        plain = str.__str__(prefix)
        if _PREFIX.fullmatch(plain):
            return plain
    raise InvalidSessionId(prefix, f"a listing prefix may only use {_ALLOWED}")


def validate_idempotency_key(key: object) -> str:
    """An idempotency key as a plain ``str``: 1 to 128 characters of the id alphabet."""
    if isinstance(key, str):
        plain = str.__str__(key)
        if _KEY.fullmatch(plain):
            return plain
        reason = f"must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters of {_ALLOWED}"
    else:
        reason = f"must be a str, not {type(key).__name__}"
    raise InvalidIdempotencyKey(key, reason)


# ------------------------------------------------------------ reversible encoding

_ESCAPE = "="
# Characters that stand for themselves in an encoded id: the alphabet minus the escape.
_LITERAL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@+-")
_ESCAPED_START = "0" + _ESCAPE  # marks an encoding whose first character is escaped
_ENCODED_BYTE = re.compile(r"=([0-9A-F]{2})")


def encode_id(text: str) -> str:
    """Encode any non-empty string as a valid id, reversibly (see :func:`decode_id`).

    A valid id that contains no ``=`` encodes to itself, so ordinary ids keep their
    names. Every other character becomes ``=XX`` per UTF-8 byte (upper-case hex). An id
    must start with a letter or digit, so text that starts with anything else is
    escaped from its first character and marked with the prefix ``0=`` (``"-x"`` is
    ``"0==2Dx"``): ``==`` never occurs otherwise, so the prefix is unambiguous. Raises
    :class:`InvalidSessionId` for an empty string, a non-string, or text whose
    encoding is longer than :data:`MAX_SESSION_ID_LENGTH`.
    """
    if not isinstance(text, str) or not text:
        raise InvalidSessionId(text, "only a non-empty string can be encoded as an id")
    plain = str.__str__(text)
    parts: list[str] = []
    for index, char in enumerate(plain):
        if char in _LITERAL and (index > 0 or char.isalnum()):
            parts.append(char)
        else:
            parts.extend(f"{_ESCAPE}{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    encoded = "".join(parts)
    if encoded.startswith(_ESCAPE):
        encoded = _ESCAPED_START + encoded
    if len(encoded) > MAX_SESSION_ID_LENGTH:
        raise InvalidSessionId(
            plain, f"its id encoding is {len(encoded)} characters, over {MAX_SESSION_ID_LENGTH}"
        )
    return encoded


def decode_id(session_id: str) -> str:
    """The string that :func:`encode_id` encoded as ``session_id``.

    Raises :class:`InvalidSessionId` unless ``session_id`` is exactly what
    :func:`encode_id` produces for some string (so the mapping is one-to-one).
    """
    plain = validate_session_id(session_id)
    if _ESCAPE not in plain:
        return plain
    body = plain[len(_ESCAPED_START) :] if plain.startswith(_ESCAPED_START + _ESCAPE) else plain
    try:
        raw = _ENCODED_BYTE.sub(lambda m: chr(int(m.group(1), 16) + 0xDC00), body)
        if _ESCAPE in raw:
            raise ValueError("'=' must be followed by two upper-case hex digits")
        data = b"".join(
            bytes([ord(c) - 0xDC00]) if 0xDC00 <= ord(c) <= 0xDCFF else c.encode() for c in raw
        )
        text = data.decode("utf-8", "surrogatepass")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidSessionId(plain, f"not an encoded id: {exc}") from exc
    if encode_id(text) != plain:
        raise InvalidSessionId(plain, "not the canonical encoding of any string")
    return text


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
