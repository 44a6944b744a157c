"""GCS tests never touch Google: default-credential lookups point at nothing."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_route_to_google(gcs_sandbox: None) -> None:
    """Every GCS test runs inside the ``gcs_sandbox`` environment."""
