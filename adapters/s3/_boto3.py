"""The boto3 transport: GET/PUT/DELETE/LIST of one bucket through a botocore client.

Every call here is blocking and runs on the store's worker threads. Only this module
(with ``_attempts``, ``_errors`` and ``_history``) imports botocore, so a store on the
obstore transport never pays for importing it.

The client is built on first use, once, thread-safely, or used as given (a given client
is never closed). On either, :func:`sessionstore.adapters.s3._attempts.install`
registers the handler that journals each HTTP attempt; it changes no request.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from sessionstore.adapters.s3 import _attempts as attempts
from sessionstore.adapters.s3._config import KEY_SUFFIX, build_client, checksum_params
from sessionstore.adapters.s3._errors import (
    SDK_ERRORS,
    Call,
    is_damaged_in_transit,
    is_missing_key,
    translate,
)
from sessionstore.contract import ANY_VERSION, ListedObject, StoredObject
from sessionstore.errors import SnapshotTooLarge

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sessionstore.adapters.s3._config import ClientSettings, Encryption
    from sessionstore.contract import ExpectedVersion, RemoveExpected

__all__ = ["Boto3Transport"]


class Boto3Transport:
    """Blocking object calls of one bucket (callers run them on worker threads)."""

    def __init__(
        self,
        bucket: str,
        *,
        client: S3Client | None,
        settings: ClientSettings,
        encryption: Encryption,
        checksum: str | None,
        max_bytes: int,
    ) -> None:
        self.bucket = bucket
        self._settings = settings
        self._encryption = encryption
        self._checksum = checksum
        self._max_bytes = max_bytes
        self._client: S3Client | None = client
        self._owns_client = client is None
        self._lock = threading.Lock()
        self._journal_installed = False

    def client(self) -> S3Client:
        """The client, built on first use (never on the event loop: callers run on workers)."""
        client = self._client
        if client is not None and self._journal_installed:
            return client
        with self._lock:
            if self._client is None:
                self._client = build_client(self._settings)
            if not self._journal_installed:
                attempts.install(self._client)
                self._journal_installed = True
            return self._client

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        if self._owns_client:
            # The parent's connections are not ours to use (or to close: a TLS close
            # would tear down the parent's session): build a fresh client on first use.
            self._client = None
            self._journal_installed = False

    def close(self) -> None:
        if not self._owns_client:
            return  # the caller's client: theirs to close
        with self._lock:
            client, self._client = self._client, None
            self._journal_installed = False
        if client is not None:
            client.close()

    # ------------------------------------------------------------------ calls

    def read(self, key: str, session_id: str) -> StoredObject | None:
        call = Call("GetObject", self.bucket, key, session_id)
        client = self.client()
        limit = attempts.max_attempts_of(client) or 1
        with attempts.journal(call.where, max_attempts=limit) as journal:
            while True:
                try:
                    return self._get(client, key, session_id)
                except SDK_ERRORS as exc:
                    if is_missing_key(exc):
                        return None
                    if not is_damaged_in_transit(exc) or len(journal.attempts) >= limit:
                        raise translate(exc, call) from exc
                    # The body failed its checksum as it was read, after botocore's own
                    # retries were over: read it again while the call's HTTP attempts
                    # stay within the client's limit (the retry is logged like botocore's).
                    journal.failed_while_reading(exc)
                attempts.backoff(len(journal.attempts))

    def _get(self, client: S3Client, key: str, session_id: str) -> StoredObject:
        response = client.get_object(Bucket=self.bucket, Key=key)
        stream = response["Body"]
        try:
            size = response.get("ContentLength")
            if size is not None and size > self._max_bytes:
                raise SnapshotTooLarge(session_id, size, self._max_bytes)
            # ContentLength is always sent by S3; the bound covers services that don't.
            body = stream.read() if size is not None else stream.read(self._max_bytes + 1)
        finally:
            stream.close()
        if len(body) > self._max_bytes:
            raise SnapshotTooLarge(session_id, len(body), self._max_bytes)
        return StoredObject(body, response["ETag"])

    def write(self, key: str, session_id: str, body: bytes, expected: ExpectedVersion) -> str:
        call = Call("PutObject", self.bucket, key, session_id)
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": body,
            "ContentType": "application/json",
            **self._encryption.params(),
            **checksum_params(self._checksum, body),
        }
        if expected is None:
            params["IfNoneMatch"] = "*"
        elif expected is not ANY_VERSION:
            params["IfMatch"] = expected
        client = self.client()
        # Never re-send a write that a held attempt could still apply after the retry:
        # an unconditional one (it would undo a later write), and a create-only one (a
        # held attempt lands again after a delete). If-Match writes are safe: a held
        # attempt meets a version that has moved on.
        blind = expected is ANY_VERSION
        limit = attempts.max_attempts_of(client)
        with attempts.journal(
            call.where, max_attempts=limit, blind=blind, create_only=expected is None
        ) as journal:
            try:
                response = client.put_object(**params)
            except (*SDK_ERRORS, attempts.ResendRefused) as exc:
                raise translate(exc, call, journal) from exc
        return response["ETag"]

    def remove(self, key: str, session_id: str, expected: RemoveExpected) -> None:
        call = Call("DeleteObject", self.bucket, key, session_id)
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if expected is not ANY_VERSION:
            params["IfMatch"] = expected
        client = self.client()
        blind = expected is ANY_VERSION
        limit = attempts.max_attempts_of(client)
        with attempts.journal(call.where, max_attempts=limit, blind=blind) as journal:
            try:
                client.delete_object(**params)
            except (*SDK_ERRORS, attempts.ResendRefused) as exc:
                raise translate(exc, call, journal) from exc

    def list_page(
        self, key_prefix: str, prefix: str, token: str | None, *, tree: bool, page_size: int
    ) -> tuple[list[ListedObject], str | None]:
        """One page of names under ``key_prefix + prefix``: sessions (one level) or, with
        ``tree``, all documents below it, each with its last-modified time."""
        full_prefix = key_prefix + prefix
        call = Call("ListObjectsV2", self.bucket, full_prefix)
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": full_prefix,
            "MaxKeys": page_size,
        }
        if not tree:
            # Ids never contain '/': keys deeper down are rolled up, not paged through.
            params["Delimiter"] = "/"
        if token is not None:
            params["ContinuationToken"] = token
        client = self.client()
        with attempts.journal(call.where, max_attempts=attempts.max_attempts_of(client)):
            try:
                page = client.list_objects_v2(**params)
            except SDK_ERRORS as exc:
                raise translate(exc, call) from exc
        start = len(key_prefix)
        found = [
            ListedObject(key[start : -len(_SUFFIX)], _timestamp(item.get("LastModified")))
            for item in page.get("Contents", [])
            for key in (item.get("Key", ""),)
            if key.endswith(_SUFFIX) and len(key) > start + len(_SUFFIX)
        ]
        next_token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
        return found, next_token


_SUFFIX = KEY_SUFFIX


def _timestamp(when: object) -> float | None:
    """A listing's LastModified (a datetime from botocore) as Unix seconds."""
    timestamp = getattr(when, "timestamp", None)
    return float(timestamp()) if callable(timestamp) else None
