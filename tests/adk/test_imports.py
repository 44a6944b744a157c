"""``import sessionstore`` (every public name, the document layer) loads no ADK module;
importing the adapter does, and only then."""

from __future__ import annotations

import json
import subprocess
import sys


def _modules(code: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    modules: list[str] = json.loads(result.stdout)
    return modules


def test_sessionstore_loads_no_adk() -> None:
    modules = _modules(
        "import sessionstore\n"
        "for name in sessionstore.__all__: getattr(sessionstore, name)\n"
        "sessionstore.open_store('memory://').documents(sessionstore.SessionSnapshot)"
    )
    assert [m for m in modules if m.startswith(("google.adk", "sessionstore.adapters.adk"))] == []


def test_the_adapter_loads_adk() -> None:
    modules = _modules("import sessionstore.adapters.adk")
    assert "google.adk.sessions.base_session_service" in modules
