"""Loopback only: an environment with no route to a cloud, and a guard that enforces it.

:func:`loopback_environment` gives every SDK dummy credentials and points every
default lookup (instance metadata, config files, endpoints, proxies) at nothing, so
an accidental default-credential or endpoint lookup fails locally. :func:`guard`
installs the test suite's audit hook (:mod:`support.loopback`) that refuses any
``socket.connect`` to a non-loopback address in this process, so the claim "nothing
left this machine" is checked, not hoped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["REPO", "guard", "loopback_environment", "use_support"]

REPO = Path(__file__).resolve().parent.parent

_SET = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/sessionstore-bench/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/sessionstore-bench/credentials",
    "GCE_METADATA_HOST": "127.0.0.1:9",
    "GCE_METADATA_IP": "127.0.0.1:9",
    "NO_GCE_CHECK": "True",
    "CLOUDSDK_CONFIG": "/nonexistent/sessionstore-bench/gcloud",
    "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/sessionstore-bench/key.json",
    # google-cloud-storage's default: its Blob/Bucket methods queue a background bucket
    # metadata GET; the adapter never calls them, the raw-SDK arm is warmed up past it.
    "DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA": "false",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
_UNSET = (
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "STORAGE_EMULATOR_HOST",
    "API_ENDPOINT_OVERRIDE",
    "GOOGLE_CLOUD_PROJECT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


def loopback_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) made safe for the benchmarks."""
    env = dict(os.environ if base is None else base)
    for name in _UNSET:
        env.pop(name, None)
    env.update(_SET)
    return env


_guarded = False


def guard() -> None:
    """Apply :func:`loopback_environment` to this process and refuse non-loopback connects."""
    global _guarded
    env = loopback_environment()
    for name in _UNSET:
        os.environ.pop(name, None)
    os.environ.update({name: env[name] for name in _SET})
    if not _guarded:
        use_support()
        from support.loopback import refuse_non_loopback_connections

        refuse_non_loopback_connections()
        _guarded = True


def use_support() -> None:
    """Make the test suite's emulators importable (``support.s3_server`` etc.)."""
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
