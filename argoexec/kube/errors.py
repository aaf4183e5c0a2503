"""Kubernetes API errors, parsed from the API server's ``Status`` bodies, and Argo's transient test.

Each failed request becomes a :class:`KubeError` subclass chosen the way apimachinery's
``errors.Is*`` helpers decide: by the ``Status`` reason when it is a known one, else by the HTTP
code (so an ``AlreadyExists`` 409 is never a ``Conflict``). Transport failures (refused, reset,
timed out, TLS) are :class:`KubeConnectionError` with status 0, chained to the socket error.

:func:`is_transient` is Argo's generic classifier (``errors.IsTransientErr``,
argo-contract.md §10.1) re-expressed for these types and Python's socket errors.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
from collections.abc import Iterator
from typing import Any, ClassVar


class KubeConfigError(Exception):
    """The kubeconfig or in-cluster files are missing, unreadable or name no usable cluster/user."""


class KubeError(Exception):
    """The API server refused or failed a request (``status`` 0: it could not be reached)."""

    reasons: ClassVar[tuple[str, ...]] = ()
    http_codes: ClassVar[tuple[int, ...]] = ()

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        transient: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or {}
        # None: decided by is_transient's rules; True/False: marked explicitly by the caller.
        self.transient = transient

    @property
    def code(self) -> int:
        """The HTTP status (the name ``metav1.Status`` uses)."""
        return self.status

    def with_context(self, context: str) -> KubeError:
        """The same error (same class, status, reason) with ``context`` before its message."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.message = f"{context}: {self.message}"
        clone.args = (clone.message,)
        return clone

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.reason!r}, {self.message!r})"


class KubeBadRequestError(KubeError):
    reasons = ("BadRequest",)
    http_codes = (400,)


class KubeUnauthorizedError(KubeError):
    reasons = ("Unauthorized",)
    http_codes = (401,)


class KubeForbiddenError(KubeError):
    reasons = ("Forbidden",)
    http_codes = (403,)


class KubeNotFoundError(KubeError):
    reasons = ("NotFound",)
    http_codes = (404,)


class KubeMethodNotAllowedError(KubeError):
    reasons = ("MethodNotAllowed",)
    http_codes = (405,)


class KubeAlreadyExistsError(KubeError):
    reasons = ("AlreadyExists",)


class KubeConflictError(KubeError):
    reasons = ("Conflict",)
    http_codes = (409,)


class KubeGoneError(KubeError):
    """410: e.g. a watch's resourceVersion was compacted (``Expired`` or ``Gone``)."""

    reasons = ("Gone", "Expired")
    http_codes = (410,)


class KubeInvalidError(KubeError):
    reasons = ("Invalid",)
    http_codes = (422,)


class KubeTooManyRequestsError(KubeError):
    reasons = ("TooManyRequests",)
    http_codes = (429,)


class KubeInternalError(KubeError):
    reasons = ("InternalError",)
    http_codes = (500,)


class KubeServerTimeoutError(KubeError):
    reasons = ("ServerTimeout",)


class KubeServiceUnavailableError(KubeError):
    reasons = ("ServiceUnavailable",)
    http_codes = (503,)


class KubeTimeoutError(KubeError):
    reasons = ("Timeout",)
    http_codes = (504,)


class KubeConnectionError(KubeError):
    """The request never got an HTTP answer; the socket/TLS error is ``__cause__``."""

    def __init__(self, message: str, *, transient: bool | None = None) -> None:
        super().__init__(0, "", message, transient=transient)


_CLASSES: tuple[type[KubeError], ...] = (
    KubeBadRequestError,
    KubeUnauthorizedError,
    KubeForbiddenError,
    KubeNotFoundError,
    KubeMethodNotAllowedError,
    KubeAlreadyExistsError,
    KubeConflictError,
    KubeGoneError,
    KubeInvalidError,
    KubeTooManyRequestsError,
    KubeInternalError,
    KubeServerTimeoutError,
    KubeServiceUnavailableError,
    KubeTimeoutError,
)
_BY_REASON = {reason: cls for cls in _CLASSES for reason in cls.reasons}
_BY_CODE = {code: cls for cls in _CLASSES for code in cls.http_codes}


def error_class(status: int, reason: str) -> type[KubeError]:
    """apimachinery's rule: a known reason decides; an unknown one falls back to the code."""
    return _BY_REASON.get(reason) or _BY_CODE.get(status) or KubeError


def error_from_response(status: int, body: bytes) -> KubeError:
    """The error for an HTTP answer ``status`` whose body is (usually) a ``metav1.Status``."""
    reason, message = "", ""
    details: dict[str, Any] = {}
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        reason = str(doc.get("reason") or "")
        message = str(doc.get("message") or "")
        found = doc.get("details")
        details = found if isinstance(found, dict) else {}
        status = int(doc.get("code") or status)
    elif body and doc is None:
        message = body.decode(errors="replace").strip()[:300]
    cls = error_class(status, reason)
    reason = reason or (cls.reasons[0] if cls.reasons else "")
    if not message:
        # client-go's wording when the server says nothing more.
        message = (
            f"the server responded with the status code {status} "
            "but did not return more information"
        )
    return cls(status, reason, message, details=details)


# Go error texts Argo treats as transient wherever they appear (including a process's stderr).
TRANSIENT_MESSAGES: tuple[str, ...] = (
    "unexpected error when reading response body",
    "stream error when reading response body",
    "Connection closed by foreign host",
    "net/http: TLS handshake timeout",
    "i/o timeout",
    "connection timed out",
    "connection reset by peer",
    "http2: client connection lost",
    "http2: server sent GOAWAY and closed the connection",
    "request did not complete within requested timeout",
    "connect: connection refused",
    "invalid connection",
    "etcdserver: leader changed",
    "etcdserver: request timed out",
    "etcdserver: too many requests",
    "client rate limiter Wait returned an error",
    "upper: no more rows in",
)

# Python's socket-level failures: Go's net.OpError, DNS errors and unexpected EOF.
_NETWORK_TYPES: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    EOFError,
    http.client.IncompleteRead,
    http.client.BadStatusLine,
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
)
_MAX_CHAIN = 32


def cause_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (``__cause__``/``__context__``), like Go's unwrapping."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < _MAX_CHAIN:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _api_error_is_transient(err: KubeError) -> bool:
    text = str(err)
    if isinstance(err, KubeForbiddenError):
        return "exceeded quota" in text
    if isinstance(err, KubeConflictError):
        return "Operation cannot be fulfilled on resourcequota" in text
    if isinstance(err, KubeInternalError):
        return "resource quota evaluation timed out" in text
    return isinstance(
        err,
        KubeTooManyRequestsError
        | KubeServerTimeoutError
        | KubeServiceUnavailableError
        | KubeTimeoutError,
    )


def _link_is_transient(link: BaseException) -> bool:
    if isinstance(link, KubeConnectionError):
        # A url.Error whose text contains EOF is transient in Argo; certificate failures are not.
        return "EOF" in str(link)
    if isinstance(link, KubeError) and _api_error_is_transient(link):
        return True
    if isinstance(link, ssl.SSLCertVerificationError):
        return False
    if isinstance(link, _NETWORK_TYPES):
        return True
    text = str(link)
    return any(phrase in text for phrase in TRANSIENT_MESSAGES)


def is_transient(exc: BaseException, pattern: str | None = None) -> bool:
    """Argo's ``IsTransientErr``: quota/throttling/unavailable API errors, network failures, the
    listed Go error texts, errors marked transient, or a match of ``TRANSIENT_ERROR_PATTERN``."""
    chain = list(cause_chain(exc))
    if pattern:
        try:
            regex = re.compile(pattern)
        except re.error:
            regex = None
        if regex is not None and any(regex.search(str(link)) for link in chain):
            return True
    for link in chain:
        explicit = getattr(link, "transient", None)
        if isinstance(explicit, bool):
            return explicit
        if _link_is_transient(link):
            return True
    return False
