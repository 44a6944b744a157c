"""``python -m sessionstore``: the ``sessionstore`` command."""

from __future__ import annotations

import sys

from sessionstore.cli import main

sys.exit(main())
