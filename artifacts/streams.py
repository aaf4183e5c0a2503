"""Small stream building blocks shared by drivers and the transfer pipeline."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

from artifacts.driver import ProgressCallback

CHUNK = 1024 * 1024


class HashingReader:
    """Wraps a binary reader; counts and SHA-256-hashes every byte read through it.

    Drivers upload from a ``HashingReader`` so the ``SaveResult`` digest is of exactly the bytes
    sent, with no second pass over the data.
    """

    def __init__(self, raw: BinaryIO, progress: ProgressCallback | None = None) -> None:
        self.raw = raw
        self.size = 0
        self._hash = hashlib.sha256()
        self._progress = progress

    def read(self, n: int = -1, /) -> bytes:
        data = self.raw.read(n)
        if data:
            self.size += len(data)
            self._hash.update(data)
            if self._progress is not None:
                self._progress(len(data))
        return data

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        """Read into the caller's buffer (a pooled part buffer), hashing the bytes in place:
        no intermediate ``bytes`` object on the upload path."""
        view = memoryview(buffer).cast("B")
        raw_into = getattr(self.raw, "readinto", None)
        if raw_into is None:
            data = self.raw.read(len(view))
            count = len(data)
            view[:count] = data
        else:
            count = raw_into(view) or 0
        if count:
            self.size += count
            self._hash.update(view[:count])
            if self._progress is not None:
                self._progress(count)
        return count

    def readable(self) -> bool:
        return True

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def sha256_file(path: Path) -> tuple[int, str]:
    """(size, sha256 hex) of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


def tree_digest(entries: list[tuple[str, str]]) -> str:
    """Digest of a directory saved object by object: SHA-256 of sorted ``sha256sum`` lines."""
    lines = "".join(f"{digest}  {rel}\n" for rel, digest in sorted(entries))
    return hashlib.sha256(lines.encode()).hexdigest()
