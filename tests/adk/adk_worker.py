"""A separate process appending to one ADK session, driven line by line on stdin.

Run as ``python -m adk.adk_worker URL APP USER SESSION NAME`` (``tests`` on ``sys.path``).
Commands: ``load`` (get_session; prints ``loaded <events>``), ``append <text>`` (append
through the session last loaded; prints ``ok`` or ``stale``), ``quit``.
"""

from __future__ import annotations

import asyncio
import sys

from google.adk.errors._stale_session_error import StaleSessionError
from google.adk.events.event import Event
from google.genai import types

from sessionstore.adapters.adk import StoreSessionService


async def main(url: str, app: str, user: str, session_id: str, name: str) -> None:
    service = StoreSessionService.from_url(url)
    session = None
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if not line or line == "quit":
            break
        if line == "load":
            session = await service.get_session(app_name=app, user_id=user, session_id=session_id)
            assert session is not None
            print(f"loaded {len(session.events)}", flush=True)
        elif line.startswith("append "):
            assert session is not None
            event = Event(
                author=name,
                invocation_id=name,
                content=types.Content(role="user", parts=[types.Part(text=line[len("append ") :])]),
            )
            try:
                await service.append_event(session, event)
            except StaleSessionError:
                print("stale", flush=True)
            else:
                print("ok", flush=True)
    await service.aclose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
