"""The google-cloud-storage client behind a GCS store: injected, or built lazily on first use.

Only two things are taken from the client: its authorized ``requests`` session
(credentials, token refresh, mTLS) and the API root it was configured with
(``client_options.api_endpoint``, ``STORAGE_EMULATOR_HOST``, universe domain,
mTLS endpoint). Both are private attributes of the SDK, read here and nowhere
else, so an SDK change breaks one small function with a clear message.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import requests.adapters

from sessionstore.adapters.gcs._http import Transport

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ClientHolder", "build_client", "transport_of"]


def build_client(
    *,
    project: str | None,
    credentials: Any,
    api_endpoint: str | None,
    pool_size: int,
) -> Any:
    """A ``google.cloud.storage.Client`` for this store (runs in a worker thread: may do I/O).

    ``STORAGE_EMULATOR_HOST`` is honoured by the SDK itself (it then uses
    anonymous credentials). ``project=None`` is passed through, which tells the
    SDK not to look a project up: objects need none.
    """
    from google.cloud import storage

    options = {"api_endpoint": api_endpoint} if api_endpoint else None
    client = storage.Client(project=project, credentials=credentials, client_options=options)
    session = client._http
    if not getattr(session, "is_mtls", False):
        # requests keeps 10 connections per host by default; the store runs up to
        # max_workers requests at once, and would otherwise reconnect for each extra one.
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
    return client


def transport_of(client: Any) -> Transport:
    """The authorized session and API root of a google-cloud-storage client."""
    try:
        session = client._http
        connection = client._connection
        base_url = str(connection.get_api_base_url_for_mtls())
    except AttributeError as exc:  # pragma: no cover - only if the SDK's internals move
        raise TypeError(
            f"{type(client).__name__} is not a google.cloud.storage.Client this adapter can use"
        ) from exc
    if "://" not in base_url:  # STORAGE_EMULATOR_HOST is sometimes given as host:port
        base_url = "http://" + base_url
    return Transport(session, base_url.rstrip("/"))


class ClientHolder:
    """The store's client and transport, created once on first use (thread-safe)."""

    def __init__(self, client: Any, factory: Callable[[], Any]) -> None:
        self._client = client
        self._owned = client is None  # close only what this store built
        self._factory = factory
        self._transport: Transport | None = None
        self._lock = threading.Lock()

    def transport(self) -> Transport:
        transport = self._transport
        if transport is not None:
            return transport
        with self._lock:
            if self._transport is None:
                if self._client is None:
                    self._client = self._factory()
                self._transport = transport_of(self._client)
            return self._transport

    @property
    def client(self) -> Any:
        """The client, building it if needed."""
        self.transport()
        return self._client

    def forget_after_fork(self) -> None:
        """In a forked child: never reuse (or close) the parent's connections."""
        self._lock = threading.Lock()
        if self._owned:
            self._client = None
            self._transport = None

    def close(self) -> None:
        """Close the client if this store built it; an injected client is the caller's."""
        with self._lock:
            if self._owned and self._client is not None:
                client, self._client, self._transport = self._client, None, None
                client.close()
