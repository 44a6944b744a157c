"""Shared by every suite: loopback-only networking, and the S3 and GCS emulators."""

from __future__ import annotations

from support.loopback import refuse_non_loopback_connections

pytest_plugins = ["support.s3_fixtures", "support.gcs_fixtures", "support.s3_servers"]

refuse_non_loopback_connections()
