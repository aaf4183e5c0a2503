"""Raw artifacts: inline ``data`` in the workflow itself, input only (argo-contract.md §12.5).

Load writes ``data`` to the file verbatim (UTF-8); there is nothing to save to, delete or list,
and a raw artifact has no key.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from argoexec.models import Artifact
from artifacts.driver import DriverContext, ObjectStream, SaveResult
from artifacts.errors import ArtifactError, ErrorCode

RAW_OUTPUT_UNSUPPORTED = "Raw output artifacts unsupported"


class _DataStream(io.BytesIO):
    """The inline data as an ``ObjectStream`` (its size is known up front)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.size: int | None = len(data)


class RawDriver:
    kind = "raw"

    def __init__(self, ctx: DriverContext) -> None:
        self.ctx = ctx

    def location(self, artifact: Artifact) -> str:
        return f"raw (inline data, {len(self._data(artifact))} bytes)"

    def describe_credentials(self, artifact: Artifact) -> str:
        return "none (inline data)"

    def load(self, artifact: Artifact, path: Path) -> None:
        data = self._data(artifact)
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise self._error(artifact, f"writing {path} failed: {exc}") from exc

    def open_stream(self, artifact: Artifact) -> ObjectStream:
        return _DataStream(self._data(artifact))

    def save(self, path: Path, artifact: Artifact) -> SaveResult:
        raise self._error(artifact, RAW_OUTPUT_UNSUPPORTED, ErrorCode.BAD_REQUEST)

    def save_stream(self, stream: BinaryIO, artifact: Artifact) -> SaveResult:
        raise self._error(artifact, RAW_OUTPUT_UNSUPPORTED, ErrorCode.BAD_REQUEST)

    def delete(self, artifact: Artifact) -> None:
        raise self._error(artifact, "delete not supported for raw artifacts", ErrorCode.BAD_REQUEST)

    def list_objects(self, artifact: Artifact) -> list[str]:
        raise self._error(
            artifact, "ListObjects is not supported for raw artifacts", ErrorCode.BAD_REQUEST
        )

    def is_directory(self, artifact: Artifact) -> bool:
        raise self._error(
            artifact, "IsDirectory currently unimplemented for raw", ErrorCode.NOT_IMPLEMENTED
        )

    def _data(self, artifact: Artifact) -> bytes:
        if artifact.raw is None:
            raise ArtifactError(
                "not a raw artifact: no raw location is set",
                code=ErrorCode.BAD_REQUEST,
                artifact=artifact.name,
                driver=self.kind,
            )
        return artifact.raw.data.encode("utf-8")

    def _error(
        self, artifact: Artifact, message: str, code: ErrorCode = ErrorCode.INTERNAL
    ) -> ArtifactError:
        location = self.location(artifact) if artifact.raw is not None else None
        return ArtifactError(
            message, code=code, artifact=artifact.name, driver=self.kind, location=location
        )
