"""Fixtures shared by the LangGraph tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from support.s3_server import REGION

if TYPE_CHECKING:
    from pathlib import Path

    from support.s3_server import S3Emulator


@pytest.fixture(params=["file", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL a subprocess can open: a fresh directory, or a fresh prefix on moto."""
    if request.param == "file":
        return f"file://{tmp_path / 'store'}"
    server: S3Emulator = request.getfixturevalue("s3_server")
    bucket: str = request.getfixturevalue("s3_bucket")
    request.getfixturevalue("aws_sandbox")  # dummy credentials in the environment
    prefix: str = request.getfixturevalue("s3_prefix")
    return f"s3://{bucket}/{prefix}?endpoint_url={server.endpoint_url}&region={REGION}"
