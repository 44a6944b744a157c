"""Where the ADK session service keeps things, and the documents it keeps there.

Every ADK string (app name, user id, session id) is turned into a key segment with the
public :func:`sessionstore.ids.encode_id`, so any id ADK accepts that encodes within 200
characters has exactly one place. Under the namespace segment (``adk`` by default)::

    adk/<app>/app.json                                  app: state          (AppState)
    adk/<app>/user/<user>.json                          user: state         (UserState)
    adk/<app>/session/<user>/<session>.json             the head            (Head)
    adk/<app>/event/<user>/<session>/<inc>/<n>.json     event slot n        (Slot, create-only)
    adk/<app>/chunk/<user>/<session>/<inc>/<c>.json     events 64c..64c+63  (Chunk, create-only)

``<inc>`` is the session's incarnation (random, chosen at create), so a session deleted
and created again under the same id never meets the old one's objects.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sessionstore.ids import encode_id

__all__ = [
    "CHUNK",
    "AppState",
    "Chunk",
    "Head",
    "Layout",
    "Slot",
    "UserState",
]

#: Events per chunk: the head is folded up (and one chunk written) every CHUNK events.
CHUNK = 64


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppState(_Doc):
    state: dict[str, Any] = Field(default_factory=dict)


class UserState(_Doc):
    state: dict[str, Any] = Field(default_factory=dict)


class Head(_Doc):
    """The session record: who it is, its incarnation, and everything folded up so far."""

    app_name: str
    user_id: str
    id: str
    incarnation: str
    created: float
    state: dict[str, Any] = Field(default_factory=dict)
    """Session-scoped state after the first ``folded`` events."""
    folded: int = 0
    """How many events are folded into ``state`` and stored as chunks (a multiple of CHUNK)."""
    last_update_time: float
    """The last folded event's timestamp (the creation time before any fold)."""


class Slot(_Doc):
    """Event ``seq`` of the log, or a tombstone left by ``delete_session``."""

    seq: int
    event: dict[str, Any] | None = None
    """The event as ADK's JSON (``Event.model_dump(mode="json")``); None for a tombstone."""


class Chunk(_Doc):
    """Events ``CHUNK * c`` to ``CHUNK * c + CHUNK - 1``, copied from their slots."""

    first: int
    events: list[dict[str, Any]]


def seq_segment(n: int) -> str:
    return f"{n:010d}"


class Layout:
    """Keys of one namespace."""

    def __init__(self, namespace: str = "adk") -> None:
        self.namespace = encode_id(namespace)

    def app_root(self, app_name: str) -> tuple[str, ...]:
        return (self.namespace, encode_id(app_name))

    def app(self, app_name: str) -> tuple[str, ...]:
        return (*self.app_root(app_name), "app")

    def users(self, app_name: str) -> tuple[str, ...]:
        return (*self.app_root(app_name), "user")

    def user(self, app_name: str, user_id: str) -> tuple[str, ...]:
        return (*self.users(app_name), encode_id(user_id))

    def heads(self, app_name: str, user_id: str | None = None) -> tuple[str, ...]:
        root = (*self.app_root(app_name), "session")
        return root if user_id is None else (*root, encode_id(user_id))

    def head(self, app_name: str, user_id: str, session_id: str) -> tuple[str, ...]:
        return (*self.heads(app_name, user_id), encode_id(session_id))

    def slot(self, head: Head, n: int) -> tuple[str, ...]:
        return (*self._log(head, "event"), seq_segment(n))

    def chunk(self, head: Head, c: int) -> tuple[str, ...]:
        return (*self._log(head, "chunk"), seq_segment(c))

    def _log(self, head: Head, kind: str) -> tuple[str, ...]:
        return (
            *self.app_root(head.app_name),
            kind,
            encode_id(head.user_id),
            encode_id(head.id),
            head.incarnation,
        )
