"""Fixtures shared by every suite: the S3 and GCS emulators, started once per run."""

from __future__ import annotations

pytest_plugins = ["support.s3_fixtures", "support.gcs_fixtures"]
