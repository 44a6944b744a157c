"""S3 store settings: validation, URL query parsing, per-PUT parameters, the client.

Kept apart from the store so that constructing a store only validates settings: the
boto3 client is built by :func:`build_client` on first use.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sessionstore.errors import InvalidStoreUrl, MissingDependency

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from mypy_boto3_s3 import S3Client

__all__ = [
    "CHECKSUMS",
    "TRANSPORTS",
    "ClientSettings",
    "Encryption",
    "build_client",
    "check_bucket",
    "check_checksum",
    "checksum_params",
    "parse_query",
]

CHECKSUMS: Final = ("SHA256", "CRC32", "CRC32C")
KEY_SUFFIX: Final = ".json"  # every object is <prefix>/<name>.json

TRANSPORTS: Final = ("boto3", "obstore")
SSE_MODES: Final = ("AES256", "aws:kms")


@dataclass(frozen=True)
class ClientSettings:
    """How :func:`build_client` configures a client the store builds itself."""

    region: str | None = None
    endpoint_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    max_attempts: int = 4
    max_pool_connections: int = 32

    def __post_init__(self) -> None:
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("connect_timeout and read_timeout must be positive")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


@dataclass(frozen=True)
class Encryption:
    """Server-side encryption requested on every PUT."""

    sse: str | None = None
    kms_key_id: str | None = None
    bucket_key: bool | None = None

    def __post_init__(self) -> None:
        if self.sse is not None and self.sse not in SSE_MODES:
            raise ValueError(f"sse must be one of {SSE_MODES} or None, not {self.sse!r}")
        if self.sse != "aws:kms" and (self.kms_key_id is not None or self.bucket_key is not None):
            raise ValueError("kms_key_id and bucket_key need sse='aws:kms'")

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.sse is not None:
            params["ServerSideEncryption"] = self.sse
        if self.kms_key_id is not None:
            params["SSEKMSKeyId"] = self.kms_key_id
        if self.bucket_key is not None:
            params["BucketKeyEnabled"] = self.bucket_key
        return params


def check_bucket(bucket: str) -> None:
    """Refuse what cannot hold a store: empty names, paths, Multi-Region Access Points."""
    if not isinstance(bucket, str) or not bucket:
        raise ValueError("an S3 store needs a bucket name")
    if _is_multi_region_access_point(bucket):
        raise ValueError(
            f"{bucket!r} is a Multi-Region Access Point: conditional writes are decided "
            "by one bucket, and a Multi-Region Access Point (or replication between "
            "buckets) does not coordinate them across regions, so compare-and-swap would "
            "not hold. Use the bucket in one region (or a single-region access point)."
        )
    if "/" in bucket and not bucket.startswith("arn:"):
        raise ValueError(f"bucket {bucket!r} must not contain '/'; put key parts in prefix")


def _is_multi_region_access_point(bucket: str) -> bool:
    # arn:aws:s3::123456789012:accesspoint/mfzwi23gnjvgw.mrap: no region field.
    if bucket.startswith("arn:"):
        parts = bucket.split(":", 5)
        return (
            len(parts) == 6
            and parts[2] == "s3"
            and parts[3] == ""
            and parts[5].startswith("accesspoint")
        )
    return bucket.endswith(".mrap")  # a Multi-Region Access Point alias


def check_checksum(checksum: str | None) -> None:
    if checksum is not None and checksum not in CHECKSUMS:
        raise ValueError(f"checksum must be one of {CHECKSUMS} or None, not {checksum!r}")
    if checksum == "CRC32C" and not _has_crt():
        raise MissingDependency(
            "checksum='CRC32C' needs botocore's CRT extension: pip install 'botocore[crt]' "
            "(or use the default checksum='SHA256', which needs nothing extra)"
        )


def _has_crt() -> bool:
    from botocore.compat import HAS_CRT

    return bool(HAS_CRT)


def checksum_params(checksum: str | None, body: bytes) -> dict[str, Any]:
    """Upload-integrity parameters for one PUT of ``body``.

    SHA256 and CRC32 are computed here, from the exact bytes sent, and put in a header
    S3 verifies before storing; naming the algorithm too makes S3 keep the checksum, so
    later GETs return it and botocore verifies the body it downloads. CRC32C is left to
    botocore (it needs awscrt to compute).
    """
    if checksum == "SHA256":
        digest = hashlib.sha256(body).digest()
        return {"ChecksumAlgorithm": "SHA256", "ChecksumSHA256": base64.b64encode(digest).decode()}
    if checksum == "CRC32":
        crc = zlib.crc32(body).to_bytes(4, "big")
        return {"ChecksumAlgorithm": "CRC32", "ChecksumCRC32": base64.b64encode(crc).decode()}
    if checksum == "CRC32C":
        return {"ChecksumAlgorithm": "CRC32C"}
    return {}


def build_client(settings: ClientSettings) -> S3Client:
    """A client configured on purpose rather than by defaults.

    Standard retry mode with a bounded number of attempts (retries 5xx, throttling and
    connection errors; never 409 or 412), connect and read timeouts so a dead network
    fails instead of hanging an agent, a connection pool as large as the store's
    worker pool, and the region pinned when given. The endpoint comes from
    ``endpoint_url`` or, when that is None, boto3's own ``AWS_ENDPOINT_URL_S3`` /
    ``AWS_ENDPOINT_URL`` handling. A fresh boto3 session per store, because boto3's
    default session is not safe to use from several threads at once.
    """
    # Imported here, not at module level: a store on the obstore transport never
    # builds a boto3 client, so it never pays for importing boto3.
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=settings.region,
        retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_pool_connections=settings.max_pool_connections,
        tcp_keepalive=True,
        # We send our own checksum; with none chosen, send none (some S3-compatible
        # services refuse botocore's default CRC32 trailers).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_supported",
        user_agent_extra="sessionstore",
    )
    session = boto3.session.Session(region_name=settings.region)
    return session.client("s3", endpoint_url=settings.endpoint_url, config=config)


# ----------------------------------------------------------------- URL query


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _checksum(value: str) -> str | None:
    return None if value.strip().lower() in ("", "none", "off") else value.strip().upper()


_QUERY_OPTIONS: Final[Mapping[str, Callable[[str], Any]]] = {
    "region": str,
    "endpoint_url": str,
    "sse": str,
    "kms_key_id": str,
    "bucket_key": _bool,
    "checksum": _checksum,
    "max_bytes": int,
    "max_workers": int,
    "page_size": int,
    "max_attempts": int,
    "connect_timeout": float,
    "read_timeout": float,
    "transport": str,
}


def parse_query(raw_url: str, query: Mapping[str, str]) -> dict[str, Any]:
    """Store options from ``s3://bucket/prefix?region=eu-west-1&...`` query parameters."""
    options: dict[str, Any] = {}
    for name, value in query.items():
        convert = _QUERY_OPTIONS.get(name)
        if convert is None:
            known = ", ".join(sorted(_QUERY_OPTIONS))
            raise InvalidStoreUrl(
                f"unknown s3:// query parameter {name!r} in {raw_url!r}; known: {known}"
            )
        try:
            options[name] = convert(value)
        except ValueError as exc:
            raise InvalidStoreUrl(f"bad value for {name!r} in {raw_url!r}: {exc}") from exc
    return options
