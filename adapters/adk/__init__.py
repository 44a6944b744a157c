"""Google ADK on sessionstore: a ``BaseSessionService`` and a Live resumption plugin.

Needs the ``adk`` extra (``google-adk``). ``import sessionstore`` never imports this.
"""

from __future__ import annotations

from sessionstore.adapters.adk._live import LiveResumptionPlugin, ResumeHandle
from sessionstore.adapters.adk._sessions import StoreSessionService

__all__ = ["LiveResumptionPlugin", "ResumeHandle", "StoreSessionService"]
