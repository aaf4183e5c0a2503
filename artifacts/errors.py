"""The artifact error vocabulary: Argo's error codes plus a ``transient`` flag.

Drivers classify SDK errors into ``ArtifactError`` and never loop; ``artifacts.transfer`` is the one
owner of whole-operation retries and retries only errors marked transient. Every message is passed
through the secret redactor, so a credential can never leak through ``str(error)``.
"""

from __future__ import annotations

import enum

from artifacts.secrets import redact


class ErrorCode(enum.StrEnum):
    """Argo's ``argoerrs`` codes (the ones artifact drivers use)."""

    NOT_FOUND = "ERR_NOT_FOUND"
    FORBIDDEN = "ERR_FORBIDDEN"
    BAD_REQUEST = "ERR_BAD_REQUEST"
    NOT_IMPLEMENTED = "ERR_NOT_IMPLEMENTED"
    INTERNAL = "ERR_INTERNAL"
    TIMEOUT = "ERR_TIMEOUT"
    INTEGRITY = "ERR_INTEGRITY"  # ours: digest/size mismatch or corrupt archive


class ArtifactError(Exception):
    """A failed artifact operation.

    ``message`` is the cause; ``artifact``, ``driver`` and ``location`` (a URL-like string with no
    credentials, e.g. ``s3://bucket/key``) say what failed. They may be filled in by an outer layer
    through :meth:`with_context` when the driver did not know them.
    """

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode = ErrorCode.INTERNAL,
        transient: bool = False,
        artifact: str | None = None,
        driver: str | None = None,
        location: str | None = None,
    ) -> None:
        self.message = redact(message)
        self.code = code
        self.transient = transient
        self.artifact = artifact
        self.driver = driver
        self.location = redact(location) if location else location
        super().__init__(self.message)

    def with_context(
        self, *, artifact: str | None = None, driver: str | None = None, location: str | None = None
    ) -> ArtifactError:
        """Fill in context fields that are still empty; returns self for ``raise ... from``."""
        self.artifact = self.artifact or artifact
        self.driver = self.driver or driver
        if not self.location and location:
            self.location = redact(location)
        return self

    def __str__(self) -> str:
        parts = []
        if self.artifact:
            parts.append(f"artifact {self.artifact!r}")
        if self.driver:
            parts.append(f"({self.driver})")
        if self.location:
            parts.append(f"at {self.location}")
        where = " ".join(parts)
        return f"{where}: {self.message}" if where else self.message

    def __repr__(self) -> str:
        return f"ArtifactError({str(self)!r}, code={self.code.value}, transient={self.transient})"


def not_found(message: str) -> ArtifactError:
    return ArtifactError(message, code=ErrorCode.NOT_FOUND)


def unsupported(message: str) -> ArtifactError:
    return ArtifactError(message, code=ErrorCode.BAD_REQUEST)


def not_implemented(message: str) -> ArtifactError:
    return ArtifactError(message, code=ErrorCode.NOT_IMPLEMENTED)


def is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, ArtifactError) and exc.code is ErrorCode.NOT_FOUND
