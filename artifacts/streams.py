"""Small stream building blocks shared by drivers and the transfer pipeline."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
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


class TreeDigest:
    """:func:`tree_digest` computed as entries arrive, in sorted order, holding none of them: a
    directory of 100,000 files costs no memory per file."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._last: str | None = None

    def add(self, rel: str, digest: str) -> None:
        if self._last is not None and rel <= self._last:
            raise ValueError(f"tree digest entries out of order: {rel!r} after {self._last!r}")
        self._last = rel
        self._hash.update(f"{digest}  {rel}\n".encode())

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def sorted_regular_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(posix relative path, path) of every regular file under ``root``, in the order of
    ``sorted`` on the relative paths, listing one directory at a time. Symlinks are skipped and
    symlinked directories never entered, like Argo's ``generatePutTasks``.

    A directory sorts among its siblings as ``name + "/"``: every path below it starts so, and
    no sibling's name contains ``/``, so depth-first order equals the order of full paths."""
    yield from _sorted_files(str(root), "")


def _sorted_files(folder: str, prefix: str) -> Iterator[tuple[str, Path]]:
    # Names only (not DirEntry objects): a flat directory of 100,000 files stays a few MiB.
    with os.scandir(folder) as it:
        keys = sorted(e.name + "/" if e.is_dir(follow_symlinks=False) else e.name for e in it)
    for key in keys:
        if key.endswith("/"):
            yield from _sorted_files(os.path.join(folder, key[:-1]), prefix + key)
            continue
        path = os.path.join(folder, key)
        if stat.S_ISREG(os.lstat(path).st_mode):
            yield prefix + key, Path(path)
