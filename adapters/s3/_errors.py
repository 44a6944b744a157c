"""The one place where botocore exceptions become sessionstore errors.

Every S3 call in the adapter is wrapped as ``except SDK_ERRORS as exc: raise
translate(...) from exc``, so no botocore exception escapes and ``__cause__`` keeps
the SDK's own error. Writes (PutObject, DeleteObject) are decided with the call's
attempt journal: if any attempt may have been applied, the outcome is unknown,
whatever the final attempt said. Otherwise nothing was applied, and what the final
answer means depends on what was sent: 412 and 409 are a conflict only for a
request that carried a precondition; for one without, they are a backend error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    FlexibleChecksumError,
    MissingDependencyException,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)

from sessionstore.errors import (
    AccessDenied,
    BackendError,
    BackendUnavailable,
    ConflictError,
    MissingDependency,
    OutcomeUnknown,
    SessionStoreError,
    StoreNotFound,
)

if TYPE_CHECKING:
    from sessionstore.adapters.s3._attempts import Journal

__all__ = ["SDK_ERRORS", "Call", "is_damaged_in_transit", "is_missing_key", "translate"]

SDK_ERRORS = (ClientError, BotoCoreError)

Operation = Literal["GetObject", "PutObject", "DeleteObject", "ListObjectsV2"]

_AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "InvalidSecurity",
        "AccountProblem",
    }
)
_CREDENTIAL_ERRORS = (NoCredentialsError, PartialCredentialsError)
_NEVER_SENT = (EndpointConnectionError, ConnectTimeoutError)


@dataclass(frozen=True)
class Call:
    """Which request failed, for messages that name bucket and key."""

    operation: Operation
    bucket: str
    key: str
    session_id: str | None = None

    @property
    def where(self) -> str:
        return f"{self.operation} s3://{self.bucket}/{self.key}"


def is_missing_key(exc: BaseException) -> bool:
    """A GetObject answer meaning "no such object" (not "no such bucket")."""
    return isinstance(exc, ClientError) and _code(exc) in ("NoSuchKey", "404")


def is_damaged_in_transit(exc: BaseException) -> bool:
    """A downloaded body that failed its checksum (worth reading again)."""
    return isinstance(exc, FlexibleChecksumError)


def translate(exc: BaseException, call: Call, journal: Journal | None = None) -> SessionStoreError:
    """The sessionstore error for ``exc``; pass the call's ``journal`` for
    PutObject/DeleteObject (``journal.blind``: the request carried no precondition)."""
    if journal is not None and call.session_id is not None:
        return _translate_write(exc, call, journal, call.session_id)
    return _translate_common(exc, call)


def _translate_write(
    exc: BaseException, call: Call, journal: Journal, session_id: str
) -> SessionStoreError:
    if journal.may_have_landed(exc):
        return OutcomeUnknown(session_id, f"{call.where}: {_describe(exc)}")
    # From here on, no attempt applied anything.
    nothing = "nothing was deleted" if call.operation == "DeleteObject" else "nothing was written"
    if isinstance(exc, ClientError):
        status, code = _status(exc), _code(exc)
        if not journal.blind and (status in (409, 412) or code == "NoSuchKey"):
            # 412: the condition failed. 409 ConditionalRequestConflict: a concurrent
            # conditional write won the race. 404 NoSuchKey: If-Match on a missing object.
            return ConflictError(session_id, f"{call.where} refused: {code} (HTTP {status})")
        if status in (409, 412):
            # No precondition was sent, so this is no conflict: a proxy or an
            # S3-compatible service refused the request.
            return BackendError(
                f"{call.where}: {code} (HTTP {status}) to a request that carried no "
                f"precondition; {nothing}"
            )
        if journal.throttled_throughout:
            return BackendUnavailable(
                f"{call.where}: throttled (SlowDown, HTTP 503) on all "
                f"{len(journal.attempts)} attempts; {nothing}"
            )
    return _translate_common(exc, call)


def _translate_common(exc: BaseException, call: Call) -> SessionStoreError:
    where = call.where
    if isinstance(exc, ClientError):
        status, code = _status(exc), _code(exc)
        message = f"{where}: {code} (HTTP {status}): {_message(exc)}"
        if code == "NoSuchBucket":
            return StoreNotFound(f"S3 bucket {call.bucket!r} does not exist ({where})")
        if code in _AUTH_CODES or status == 403:
            return AccessDenied(message)
        if status in (301, 307) or code in ("PermanentRedirect", "AuthorizationHeaderMalformed"):
            return BackendError(f"{message} (the bucket is in another region: pass region=)")
        if status == 501 or code == "NotImplemented":
            return BackendError(
                f"{message} (this service does not implement a request the store needs, "
                "such as conditional writes with If-Match / If-None-Match)"
            )
        if status is None or status >= 500 or code in ("SlowDown", "RequestTimeout"):
            return BackendUnavailable(f"{message}{_retries(exc)}")
        return BackendError(message)
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return AccessDenied(f"{where}: no usable AWS credentials: {exc}")
    if isinstance(exc, MissingDependencyException):
        return MissingDependency(f"{where}: {exc}")
    if isinstance(exc, ParamValidationError):
        return BackendError(f"{where}: request refused by botocore: {exc}")
    if isinstance(exc, FlexibleChecksumError):
        return BackendUnavailable(f"{where}: body failed its checksum in transit: {exc}")
    if isinstance(exc, _NEVER_SENT):
        return BackendUnavailable(f"{where}: cannot reach S3 (nothing was sent): {exc}")
    return BackendUnavailable(f"{where}: {type(exc).__name__}: {exc}")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return f"{_code(exc)} (HTTP {_status(exc)}) after an attempt that may have landed"
    return f"{type(exc).__name__}: {exc}"


def _status(exc: ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or "no message"


def _retries(exc: ClientError) -> str:
    retries = exc.response.get("ResponseMetadata", {}).get("RetryAttempts")
    return f" after {retries} retries" if retries else ""
