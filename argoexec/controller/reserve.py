"""Room set aside on a disk for one last write.

A run's final state (and a pod's final status) must be recorded even when a container has
filled the disk they share. A small file of allocated blocks is kept next to them; the write
that must not be lost, failing with ENOSPC, removes it and tries once more.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class Reserve:
    """A file of `size` allocated bytes at `path`, given up for a write that must succeed."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size

    def keep(self) -> bool:
        """Set the room aside (if it is not already): whether it is there now. Best effort:
        on a disk that is already full there is none to set aside."""
        if self.path.exists():
            return True
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.size)
            finally:
                os.close(fd)
            os.replace(partial, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                partial.unlink()
            return False
        return True

    def spend(self) -> bool:
        """Give the room back to the disk: whether there was any."""
        try:
            self.path.unlink()
        except OSError:
            return False
        return True

    def write(self, write: Callable[[], T]) -> T:
        """`write()`; if the disk is full, once more with the reserved room given back."""
        try:
            return write()
        except Exception as exc:
            if not _no_space(exc) or not self.spend():
                raise
        return write()


def _no_space(exc: BaseException | None) -> bool:
    """Whether `exc` (or what caused it) is ENOSPC or EDQUOT."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc = exc.__cause__
    return False
