"""Classifying google-cloud-storage failures (Argo's ``IsTransientGCSErr``, argo-contract.md §12.2).

A failure is transient when any link of its cause chain is: a Google API error with status 429 or
500-599 (Argo checks the code "also when wrapped"), a retryable google-auth error, a network
failure (refused/reset/aborted connection, timeout, incomplete read), or its text contains one of
Argo's transient phrases (the generic classifier of §10.1 plus ``Received 504``/``Received 500``)
or matches ``TRANSIENT_ERROR_PATTERN``. 404 means NOT_FOUND; 401/403 and unusable credentials
mean FORBIDDEN; a checksum mismatch is INTEGRITY (and transient: a fresh transfer may succeed).
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator

from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.cloud.storage.exceptions import DataCorruption, InvalidResponse

from artifacts.errors import ArtifactError, ErrorCode

# Compared case-insensitively with the text of every link of the cause chain.
TRANSIENT_MESSAGES: tuple[str, ...] = (
    # IsTransientGCSErr's own phrases.
    "connection refused",
    "connection reset",
    "received 504",
    "received 500",
    "tls handshake timeout",
    "unexpected eof",
    # Argo's generic classifier (§10.1).
    "unexpected error when reading response body",
    "stream error when reading response body",
    "connection closed by foreign host",
    "i/o timeout",
    "connection timed out",
    "http2: client connection lost",
    "http2: server sent goaway and closed the connection",
    "request did not complete within requested timeout",
    "invalid connection",
    # Python's spelling of the same network failures (requests/urllib3/http.client texts).
    "connection aborted",
    "connection broken",
    "remotedisconnected",
    "incompleteread",
    "read timed out",
)

# requests/urllib3 failures are recognised by class name: the import contract reserves the
# ``requests`` package to the HTTP driver, and google-cloud-storage raises them unwrapped.
_TRANSIENT_TYPE_NAMES = frozenset(
    {
        "requests.exceptions.ConnectionError",
        "requests.exceptions.ChunkedEncodingError",
        "requests.exceptions.Timeout",
        "urllib3.exceptions.ProtocolError",
        "urllib3.exceptions.TimeoutError",
        "urllib3.exceptions.NewConnectionError",
    }
)
_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    EOFError,
    http.client.IncompleteRead,
    http.client.BadStatusLine,
    DataCorruption,
    auth_exceptions.TransportError,
)
_MAX_CHAIN = 32


def cause_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: ``__cause__``, ``__context__``, urllib3's ``reason`` and
    exceptions passed as arguments (google-auth and requests wrap errors that way)."""
    stack, seen = [exc], set[int]()
    while stack and len(seen) < _MAX_CHAIN:
        current = stack.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked.extend(current.args)
        stack.extend(link for link in linked if isinstance(link, BaseException))


def http_status(exc: BaseException) -> int | None:
    """The first HTTP status found along the cause chain, if any."""
    for link in cause_chain(exc):
        if isinstance(link, api_exceptions.GoogleAPICallError) and link.code:
            return int(link.code)
        if isinstance(link, InvalidResponse):
            status = getattr(link.response, "status_code", None)
            if isinstance(status, int):
                return status
    return None


def _type_names(exc: BaseException) -> set[str]:
    return {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__}


def _link_is_transient(link: BaseException) -> bool:
    if isinstance(link, ArtifactError):
        return link.transient
    status: int | None = None
    if isinstance(link, api_exceptions.GoogleAPICallError) and link.code:
        status = int(link.code)
    elif isinstance(link, InvalidResponse):
        status = getattr(link.response, "status_code", None)
    if isinstance(status, int) and (status == 429 or 500 <= status <= 599):
        return True
    if isinstance(link, auth_exceptions.GoogleAuthError) and link.retryable:
        return True
    if isinstance(link, _TRANSIENT_TYPES) or _type_names(link) & _TRANSIENT_TYPE_NAMES:
        return True
    text = str(link).lower()
    return any(phrase in text for phrase in TRANSIENT_MESSAGES)


def is_transient_gcs_error(exc: BaseException, pattern: str | None = None) -> bool:
    """Argo's ``IsTransientGCSErr`` re-expressed for google-cloud-storage's exceptions."""
    if isinstance(exc, ArtifactError) and exc.code is ErrorCode.NOT_FOUND:
        return False
    if pattern and any(re.search(pattern, str(link)) for link in cause_chain(exc)):
        return True
    return any(_link_is_transient(link) for link in cause_chain(exc))


_STATUS_CODES = {
    404: ErrorCode.NOT_FOUND,
    401: ErrorCode.FORBIDDEN,
    403: ErrorCode.FORBIDDEN,
    400: ErrorCode.BAD_REQUEST,
}


def error_code(exc: BaseException) -> ErrorCode:
    if isinstance(exc, ArtifactError):
        return exc.code
    if any(isinstance(link, DataCorruption) for link in cause_chain(exc)):
        return ErrorCode.INTEGRITY
    status = http_status(exc)
    if status is not None:
        return _STATUS_CODES.get(status, ErrorCode.INTERNAL)
    unusable = (auth_exceptions.DefaultCredentialsError, auth_exceptions.RefreshError)
    if isinstance(exc, unusable) and not exc.retryable:
        return ErrorCode.FORBIDDEN
    return ErrorCode.INTERNAL


def to_artifact_error(
    exc: BaseException,
    action: str,
    *,
    artifact: str,
    location: str,
    credentials: str | None,
    pattern: str | None,
) -> ArtifactError:
    """``exc`` as an ``ArtifactError`` naming the artifact, ``gs://bucket/key`` and the cause.

    A FORBIDDEN error also names the credential source (never a secret value), which answers the
    first question anyone asks about a 403.
    """
    if isinstance(exc, ArtifactError):
        return exc.with_context(artifact=artifact, driver="gcs", location=location)
    code = error_code(exc)
    cause = str(exc) or type(exc).__name__
    message = f"{action}: {cause}"
    if code is ErrorCode.FORBIDDEN and credentials:
        message += f" (credentials: {credentials})"
    return ArtifactError(
        message,
        code=code,
        transient=is_transient_gcs_error(exc, pattern),
        artifact=artifact,
        driver="gcs",
        location=location,
    )
