"""Classification of botocore failures into ``ArtifactError`` (argo-contract.md §12.1, §10.1).

Argo's ``isTransientS3Err`` retries a fixed list of S3 error codes and any 5xx response, then falls
back to the generic classifier (network failures, ``TRANSIENT_ERROR_PATTERN``). We keep the same
lists; the network part is expressed with botocore's own exception types plus the Python spelling
of the same socket failures. Access errors name the credential source actually used, because the
useful question after a 403 is "which credentials did the executor pick?".
"""

from __future__ import annotations

import re
from typing import Any

from botocore import exceptions as boto_exc

from artifacts.errors import ArtifactError, ErrorCode

# Argo's list (workflow/artifacts/s3: s3TransientErrorCodes).
TRANSIENT_CODES = frozenset(
    {
        "RequestError",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "InternalError",
        "SlowDown",
        "ServiceUnavailable",
    }
)
FORBIDDEN_CODES = frozenset(
    {
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "TokenRefreshRequired",
        "InvalidClientTokenId",
        "AllAccessDisabled",
        "403",
        "Forbidden",
    }
)
MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})

_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    boto_exc.EndpointConnectionError,
    boto_exc.ConnectionClosedError,
    boto_exc.ReadTimeoutError,
    boto_exc.ConnectTimeoutError,
    boto_exc.IncompleteReadError,
    boto_exc.ResponseStreamingError,
    boto_exc.HTTPClientError,
    ConnectionError,
    TimeoutError,
)
# The generic classifier's network phrases (§10.1) as Python and urllib3 spell them.
_NETWORK_TEXT = re.compile(
    r"connection reset|connection refused|connection aborted|connection closed|broken pipe"
    r"|timed out|i/o timeout|unexpected eof|eof occurred|remote end closed|incomplete read"
    r"|temporarily unavailable|tls handshake timeout",
    re.IGNORECASE,
)


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of a service error (``NoSuchKey``, ``503`` for body-less replies)."""
    if isinstance(exc, boto_exc.ClientError):
        code = exc.response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def http_status(exc: BaseException) -> int | None:
    if isinstance(exc, boto_exc.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def error_message(exc: BaseException) -> str:
    """The server's own message (what minio-go's ``ErrorResponse.Error()`` shows in Argo)."""
    if isinstance(exc, ArtifactError):
        return exc.message
    if isinstance(exc, boto_exc.ClientError):
        error: dict[str, Any] = dict(exc.response.get("Error", {}))
        message = error.get("Message") or ""
        code = error.get("Code") or ""
        if message and code and not code.isdigit():
            return str(message)
        return " ".join(part for part in (str(code), str(message)) if part) or str(exc)
    return str(exc) or type(exc).__name__


def is_missing_key(exc: BaseException) -> bool:
    return error_code(exc) in MISSING_KEY_CODES


def is_transient(exc: BaseException, pattern: str | None = None) -> bool:
    """Argo's ``isTransientS3Err``: listed codes, any 5xx, network failures, or the pattern."""
    if isinstance(exc, ArtifactError):
        return exc.transient
    code = error_code(exc)
    if code is not None:
        status = http_status(exc) or 0
        if code in TRANSIENT_CODES or 500 <= status <= 599:
            return True
        if code[:1] == "5" and code[:3].isdigit() and 500 <= int(code[:3]) <= 599:
            return True
    elif isinstance(exc, _NETWORK_ERRORS) or _NETWORK_TEXT.search(str(exc)):
        return not isinstance(exc, boto_exc.SSLError)
    return _matches(pattern, exc)


def _matches(pattern: str | None, exc: BaseException) -> bool:
    if not pattern:
        return False
    texts = (str(exc), error_message(exc), error_code(exc) or "")
    try:
        regex = re.compile(pattern)
    except re.error:
        return False
    return any(regex.search(text) for text in texts if text)


def _code_for(exc: BaseException) -> ErrorCode:
    code = error_code(exc)
    if code in FORBIDDEN_CODES or isinstance(
        exc, boto_exc.NoCredentialsError | boto_exc.PartialCredentialsError
    ):
        return ErrorCode.FORBIDDEN
    if code == "NoSuchKey":
        return ErrorCode.NOT_FOUND
    if isinstance(exc, boto_exc.ParamValidationError):
        return ErrorCode.BAD_REQUEST
    return ErrorCode.INTERNAL


def classify(
    exc: BaseException,
    what: str | None,
    *,
    pattern: str | None,
    credentials: str | None = None,
) -> ArtifactError:
    """``exc`` as an ``ArtifactError`` whose message is ``"<what>: <server message>"``."""
    if isinstance(exc, ArtifactError):
        if not what:
            return exc
        return ArtifactError(f"{what}: {exc.message}", code=exc.code, transient=exc.transient)
    code = _code_for(exc)
    message = error_message(exc)
    if isinstance(exc, boto_exc.SSLError):
        message += " (TLS verification failed: check caSecret, or set insecure for plain HTTP)"
    if code is ErrorCode.FORBIDDEN and credentials:
        message += f" (credentials used: {credentials})"
    return ArtifactError(
        f"{what}: {message}" if what else message,
        code=code,
        transient=code is not ErrorCode.FORBIDDEN and is_transient(exc, pattern),
    )
