"""The fake Gemini Live server for tests, and clients that trust it.

The server itself lives in the package (``sessionstore.adapters.genai._fake_server``)
because ``sessionstore demo --live`` runs it too; this module is the tests' entry
point: a session-scoped fixture-friendly constructor and a client factory that
trusts the server's self-signed certificate and carries a dummy API key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from google import genai
from google.genai import types

from sessionstore.adapters.genai._fake_server import (
    ConnectionRecord,
    FakeLiveServer,
    client_ssl_context,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["DUMMY_API_KEY", "MODEL", "ConnectionRecord", "FakeLiveServer", "live_client"]

DUMMY_API_KEY = "dummy-key-never-sent-beyond-loopback"
MODEL = "gemini-live-fake"


def live_client(url: str, ca_file: str | Path) -> genai.Client:
    """A google-genai client for the fake server at ``url`` (TLS trusting ``ca_file``)."""
    options = types.HttpOptions(
        base_url=url, async_client_args={"ssl": client_ssl_context(ca_file)}
    )
    return genai.Client(api_key=DUMMY_API_KEY, http_options=options)
