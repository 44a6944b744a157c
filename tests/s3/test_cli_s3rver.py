"""``sessionstore check`` against an S3-compatible server that ignores preconditions.

npm's s3rver accepts every stale write: the check must report it unsafe and exit 1,
naming the probes that failed, and leave no scratch object behind.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from support.cli import run_cli

if TYPE_CHECKING:
    from support.s3_servers import S3Server


def test_check_reports_s3rver_unsafe(s3rver: S3Server) -> None:
    access_key, secret_key = s3rver.credentials
    prefix = f"check-{uuid.uuid4().hex[:10]}"
    env = {
        "AWS_ENDPOINT_URL_S3": s3rver.endpoint_url,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent/sessionstore-tests/config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/sessionstore-tests/creds",
    }
    result = run_cli("check", f"s3://{s3rver.bucket}/{prefix}", "--json", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["safe"] is False
    failed = [check for check in report["checks"] if check["ok"] is False]
    assert failed, report  # at least one precondition probe caught it ignoring conditions
    leftover = s3rver.client().list_objects_v2(Bucket=s3rver.bucket, Prefix=prefix)
    assert leftover.get("KeyCount", 0) == 0
