"""Stream adapters between our transfer code and google-cloud-storage's file-object APIs."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import IO, Any, BinaryIO

from artifacts.driver import ProgressCallback
from artifacts.errors import ArtifactError
from artifacts.streams import HashingReader


class TellingReader(HashingReader):
    """A ``HashingReader`` that also answers ``tell()``: google's resumable upload asks for the
    position before the first chunk and before each one. The library never seeks it back (a
    retried chunk re-sends the bytes it already holds), so the digest stays exact."""

    def tell(self) -> int:
        return self.size


class ProgressWriter:
    """A writable file object reporting each write to the progress callback."""

    def __init__(self, raw: IO[bytes], progress: ProgressCallback | None) -> None:
        self.raw = raw
        self.progress = progress

    def write(self, data: bytes) -> int:
        written = self.raw.write(data)
        if self.progress is not None:
            self.progress(len(data))
        return written

    def seek(self, offset: int, whence: int = 0) -> int:
        # Used by the library only to restart a transcoded download from the beginning.
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def flush(self) -> None:
        self.raw.flush()


class GCSObjectStream:
    """An ``ObjectStream`` over a ``BlobReader``: reads fetch ``chunk_size`` ranges of one pinned
    generation, so memory stays bounded. It owns the client and closes it on ``close``."""

    def __init__(
        self,
        reader: BinaryIO,
        size: int | None,
        *,
        translate: Callable[[BaseException], ArtifactError],
        on_close: Callable[[], None],
        progress: ProgressCallback | None = None,
    ) -> None:
        self.size = size
        self._reader = reader
        self._translate = translate
        self._on_close = on_close
        self._progress = progress
        self._pos = 0
        self._closed = False

    def read(self, n: int = -1, /) -> bytes:
        if n == 0 or (self.size is not None and self._pos >= self.size):
            return b""
        try:
            data = self._reader.read(n)
        except Exception as exc:  # any SDK/network failure, classified by the driver
            raise self._translate(exc) from exc
        if not data and self.size is not None and self._pos < self.size:
            raise self._translate(
                EOFError(f"unexpected EOF: stream ended after {self._pos} of {self.size} bytes")
            )
        self._pos += len(data)
        if self._progress is not None and data:
            self._progress(len(data))
        return data

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with contextlib.suppress(Exception):
                self._reader.close()
        finally:
            self._on_close()

    def __enter__(self) -> GCSObjectStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
