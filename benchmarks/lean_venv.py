"""A deployment-like virtual environment for the cold-start section.

A process's start-up cost depends on its environment, not only on the code it runs:
the development venv holds some 300 distributions (test servers, frameworks, linters)
and an editable install, and every new interpreter pays for both (site's ``.pth``
finders; pydantic scans every installed distribution's entry points for plugins when
it builds its first model). A serverless image holds the library and its SDK only, so
cold start is measured in ``.venv-coldstart``: the working tree installed as a wheel
(not editable) with the runtime extras and nothing else. Every arm, bare SDK calls
included, runs in it.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

from benchmarks.sandbox import REPO

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["LEAN_VENV", "lean_python"]

LEAN_VENV = REPO / ".venv-coldstart"
_EXTRAS = "s3,obstore,gcs"


def lean_python() -> Path:
    """The lean venv's interpreter, with the working tree's code installed in it."""
    python = LEAN_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LEAN_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, f"{REPO}[{_EXTRAS}]"], check=True, capture_output=True)
    # Same version number, new code: reinstall the project itself every run.
    subprocess.run(
        [*pip, "--no-deps", "--force-reinstall", str(REPO)], check=True, capture_output=True
    )
    return python
