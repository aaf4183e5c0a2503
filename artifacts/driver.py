"""The ``ArtifactDriver`` protocol: Argo's seven driver operations (argo-contract.md §11.1).

Drivers move *bytes as stored*: they neither archive nor unpack (that is ``artifacts.archive`` and
``artifacts.transfer``). They classify every failure into ``ArtifactError`` (code + transient flag)
and never retry whole operations themselves. They read no environment: everything comes from the
``DriverContext`` they were built with and the artifact passed to each call. Credentials are
resolved per call (not cached at construction), so a long-lived driver sees rotated secrets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from argoexec.lifecycle import Stop
from argoexec.models import Artifact
from artifacts.secrets import SecretResolver
from artifacts.settings import TransferSettings

# Called with the number of bytes moved since the last call (for progress display). Drivers
# report from load/save/save_stream; streams returned by open_stream must NOT report, because
# artifacts.transfer counts the bytes it reads from them (otherwise bytes count twice).
ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class SaveResult:
    """What a save stored: the key written, and the size and SHA-256 of the stored bytes.

    For a directory saved object by object (``archive: none``), ``size`` is the total and
    ``sha256`` is the digest of the sorted ``"<sha256>  <relative path>\\n"`` manifest lines
    (the format of ``sha256sum``), so it is still a stable fingerprint of the whole tree.
    """

    key: str
    size: int
    sha256: str
    objects: int = 1


@dataclass
class DriverContext:
    """Everything a driver may depend on. Built once per process by the caller."""

    secrets: SecretResolver
    settings: TransferSettings = field(default_factory=TransferSettings)
    stop: Stop = field(default_factory=Stop)
    progress: ProgressCallback | None = None


class ObjectStream(Protocol):
    """A readable stream over one stored object, as returned by ``open_stream``.

    ``size`` is the object's length when the store reports one. Closing releases the connection.
    A stream that ends before ``size`` bytes raises ``ArtifactError`` (transient) from ``read``
    rather than returning a short object.
    """

    size: int | None

    def read(self, n: int = -1, /) -> bytes: ...

    def readinto(self, buffer: bytearray | memoryview, /) -> int: ...

    def close(self) -> None: ...


class ArtifactDriver(Protocol):
    """One storage kind. Every method names the artifact in its errors."""

    kind: str

    def location(self, artifact: Artifact) -> str:
        """A credential-free, human-readable location, e.g. ``s3://bucket/key``."""
        ...

    def describe_credentials(self, artifact: Artifact) -> str:
        """Which credential source this artifact resolves to, without any secret value, e.g.
        ``static keys from secret 'my-s3' (accessKey/secretKey)``, ``web identity (role ...)``,
        ``anonymous``. Raises ``ArtifactError`` if the credentials cannot be resolved. Used by
        ``argoexec artifact check`` and in error messages instead of vague hints."""
        ...

    def load(self, artifact: Artifact, path: Path) -> None:
        """Download the object (or, for a "directory" key, every object under it, recursively)
        to ``path``. A single object becomes the file ``path``; a directory key becomes the
        directory ``path``. Missing key → ``ERR_NOT_FOUND``. The caller passes a temporary path
        and renames it into place, so a failed load never leaves a partial result behind."""
        ...

    def open_stream(self, artifact: Artifact) -> ObjectStream:
        """A stream over a single object. A directory key → ``ERR_NOT_IMPLEMENTED``;
        missing key → ``ERR_NOT_FOUND``."""
        ...

    def save(self, path: Path, artifact: Artifact) -> SaveResult:
        """Upload the file ``path`` to the artifact's key, or every regular file of the
        directory ``path`` to ``key/<relative path>`` with a bounded worker pool."""
        ...

    def save_stream(self, stream: BinaryIO, artifact: Artifact) -> SaveResult:
        """Upload a stream of unknown length to the artifact's key without a temporary copy,
        with bounded memory (multipart/resumable upload where the store has one)."""
        ...

    def delete(self, artifact: Artifact) -> None:
        """Delete the object (S3: a key ending in ``/`` deletes everything under it)."""
        ...

    def list_objects(self, artifact: Artifact) -> list[str]:
        """Keys under the artifact's key (recursive); ``ERR_NOT_FOUND`` if nothing is there."""
        ...

    def is_directory(self, artifact: Artifact) -> bool:
        """Whether the key is a "directory" (a prefix with objects under it)."""
        ...


DriverFactory = Callable[[DriverContext], ArtifactDriver]
