"""Cloud adapters: S3 (``sessionstore[s3]``) and GCS (``sessionstore[gcs]``), imported lazily."""

from __future__ import annotations
