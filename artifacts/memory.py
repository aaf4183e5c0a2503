"""Bounded, reused transfer buffers, so a worker's memory does not grow with artifact size.

Uploads and downloads move data in multi-MiB parts. Allocating a fresh buffer per part lets the
C allocator keep freed parts around (glibc raises its mmap threshold after the first large free
and then serves parts from per-thread arenas that fragment), so the resident size drifts upwards
with every GiB transferred. Instead each transfer takes its part buffers from a
:class:`BufferPool`: at most ``count`` buffers, allocated on first use and handed back after each
part, and data is copied into them with ``readinto`` — no per-part allocation, no join.

Tuning glibc itself (``mallopt`` of ``M_ARENA_MAX``/``M_MMAP_THRESHOLD``) was measured with the
benchmark and left out: with pooled buffers fewer arenas saved nothing, and a fixed mmap threshold
made every 256 KiB-1 MiB block of the tar/gzip pipeline an ``mmap`` and cost the save about
60 % more CPU.
"""

from __future__ import annotations

import threading
from typing import Protocol


class _Reader(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class BufferPool:
    """At most ``count`` bytearrays of ``size`` bytes, created lazily and reused.

    :meth:`acquire` blocks while every buffer is out, which is what bounds a producer that runs
    ahead of its consumers. A buffer handed back with a different length (shrunk to the size of a
    short last part, or from before :meth:`resize`) is dropped and replaced on demand.
    """

    def __init__(self, size: int, count: int) -> None:
        if size < 1 or count < 1:
            raise ValueError("a buffer pool needs a positive size and count")
        self._size = size
        self.count = count
        self._idle: list[bytearray] = []
        self._out = 0
        self._cond = threading.Condition()
        self.allocated = 0  # buffers created so far (a test and diagnostics counter)

    @property
    def size(self) -> int:
        return self._size

    @property
    def outstanding(self) -> int:
        with self._cond:
            return self._out

    def acquire(self, timeout: float | None = None) -> bytearray:
        """A buffer of exactly :attr:`size` bytes; ``TimeoutError`` if none came in time."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._out < self.count, timeout):
                raise TimeoutError("no transfer buffer became free")
            self._out += 1
            if self._idle:
                return self._idle.pop()
            self.allocated += 1
        # Allocated outside the lock; zero-filled pages are only touched when data arrives.
        return bytearray(self._size)

    def release(self, buffer: bytearray) -> None:
        with self._cond:
            self._out -= 1
            if len(buffer) == self._size:
                self._idle.append(buffer)
            self._cond.notify()

    def resize(self, size: int) -> None:
        """Hand out ``size``-byte buffers from now on (idle ones of the old size are freed)."""
        with self._cond:
            if size != self._size:
                self._size = size
                self._idle.clear()

    def clear(self) -> None:
        """Drop the idle buffers (the pool stays usable)."""
        with self._cond:
            self._idle.clear()


def fill(reader: _Reader, buffer: bytearray | memoryview) -> int:
    """Read into ``buffer`` until it is full or the reader is at EOF; the count filled."""
    view = memoryview(buffer).cast("B")
    readinto = getattr(reader, "readinto", None)
    got = 0
    while got < len(view):
        if readinto is not None:
            count = readinto(view[got:]) or 0
        else:
            data = reader.read(len(view) - got)
            count = len(data)
            view[got : got + count] = data
        if count == 0:
            break
        got += count
    return got
