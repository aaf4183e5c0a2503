"""A bounded in-memory pipe between a producer thread and a consumer, with errors both ways.

The archive producer (walk → tar → gzip) writes into the pipe from a background thread while a
driver's ``save_stream`` reads from it. Memory stays bounded by ``capacity``: a writer blocks
while the pipe is full. A producer failure reaches the reader as :class:`PipeAbortedError` from
``read``; a reader that gives up (the upload failed) makes further writes raise
:class:`PipeClosedError`, so neither side can wait forever for the other.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from types import TracebackType
from typing import BinaryIO, cast

from artifacts.errors import ArtifactError, ErrorCode
from artifacts.settings import MIB

# Enough to keep compression running while the uploader waits for a free part buffer; the gzip
# writer's own queues buffer as much again, so a larger pipe only adds memory.
DEFAULT_CAPACITY = 2 * MIB
_PIECE = MIB  # writes are split so one large write cannot overshoot the capacity by much


class PipeClosedError(BrokenPipeError):
    """The reading side went away; the producer should stop."""


class PipeAbortedError(OSError):
    """The producing side failed; ``cause`` is its error."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"archive producer failed: {cause}")
        self.cause = cause


class BoundedPipe:
    """Single-producer, single-consumer byte pipe holding at most ``capacity`` bytes."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = max(capacity, _PIECE)
        self._chunks: collections.deque[bytes] = collections.deque()
        self._head = 0  # offset already consumed in _chunks[0]
        self._buffered = 0
        self._cond = threading.Condition()
        self._write_closed = False
        self._read_closed = False
        self._error: BaseException | None = None
        self.eof_seen = False
        self.bytes_written = 0

    # -- writing side -------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if isinstance(data, bytes) and len(data) <= _PIECE:
            # Immutable and small enough: queued as is (the gzip writer's compressed blocks).
            if data:
                self._put(data)
            return len(data)
        view = memoryview(data).cast("B")
        total = len(view)
        for start in range(0, total, _PIECE):
            self._put(bytes(view[start : start + _PIECE]))
        return total

    def _put(self, piece: bytes) -> None:
        with self._cond:
            while (
                not self._read_closed
                and self._buffered
                and self._buffered + len(piece) > self._capacity
            ):
                self._cond.wait()
            if self._read_closed:
                raise PipeClosedError("the reader of the archive stream has gone away")
            if self._write_closed:
                raise ValueError("write to a closed pipe")
            self._chunks.append(piece)
            self._buffered += len(piece)
            self.bytes_written += len(piece)
            self._cond.notify_all()

    def close_write(self, error: BaseException | None = None) -> None:
        """End of data; with ``error`` the reader raises :class:`PipeAbortedError` instead."""
        with self._cond:
            self._write_closed = True
            if error is not None and self._error is None:
                self._error = error
            self._cond.notify_all()

    # -- reading side -------------------------------------------------------------------------

    def read(self, n: int = -1, /) -> bytes:
        """Block until ``n`` bytes (or everything, for ``n < 0``) are available or EOF.

        Pieces are collected and joined once: growing one buffer chunk by chunk would briefly
        hold two copies of a multi-MiB read (an upload part) on every reallocation.
        """
        pieces: list[bytes | memoryview] = []
        got = 0
        want = n if n is not None and n >= 0 else None
        with self._cond:
            while want is None or got < want:
                if not self._chunks:
                    if self._error is not None:
                        raise PipeAbortedError(self._error)
                    if self._write_closed:
                        self.eof_seen = True
                        break
                    self._cond.wait()
                    continue
                piece = self._take(None if want is None else want - got)
                pieces.append(piece)
                got += len(piece)
                self._cond.notify_all()
        if len(pieces) == 1 and isinstance(pieces[0], bytes):
            return pieces[0]
        return b"".join(pieces)

    def _take(self, limit: int | None) -> bytes | memoryview:
        chunk = self._chunks[0]
        available = len(chunk) - self._head
        count = available if limit is None else min(available, limit)
        if self._head == 0 and count == len(chunk):
            piece: bytes | memoryview = chunk
        else:
            piece = memoryview(chunk)[self._head : self._head + count]
        self._head += count
        self._buffered -= count
        if self._head == len(chunk):
            self._chunks.popleft()
            self._head = 0
        return piece

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        """Fill ``buffer`` (copying once, straight from the queued pieces) unless EOF comes."""
        view = memoryview(buffer).cast("B")
        got = 0
        with self._cond:
            while got < len(view):
                if not self._chunks:
                    if self._error is not None:
                        raise PipeAbortedError(self._error)
                    if self._write_closed:
                        self.eof_seen = True
                        break
                    self._cond.wait()
                    continue
                piece = self._take(len(view) - got)
                view[got : got + len(piece)] = piece
                got += len(piece)
                self._cond.notify_all()
        return got

    def close_read(self) -> None:
        """The consumer is done (or gave up): wake and fail a blocked writer."""
        with self._cond:
            self._read_closed = True
            self._chunks.clear()
            self._buffered = 0
            self._cond.notify_all()


class PipeReader:
    """The file-like read end handed to ``driver.save_stream`` (non-seekable)."""

    def __init__(self, pipe: BoundedPipe) -> None:
        self._pipe = pipe
        self.size: int | None = None

    def read(self, n: int = -1, /) -> bytes:
        return self._pipe.read(n)

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        return self._pipe.readinto(buffer)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self._pipe.close_read()

    @property
    def closed(self) -> bool:
        return False


class PipeWriter:
    """The write end given to the producer: write-only and non-seekable, so ``zipfile`` writes a
    streaming archive (data descriptors) and ``tarfile``/gzip never try to seek."""

    def __init__(self, pipe: BoundedPipe) -> None:
        self._pipe = pipe

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._pipe.write(data)

    def flush(self) -> None:
        return None

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return False


class ProducedStream:
    """Runs ``produce(writer)`` in a background thread; the ``with`` block reads its output.

    On exit the producer is joined. The producer's own failure wins over whatever the consumer
    raised (the consumer usually only saw :class:`PipeAbortedError`); a consumer that returned
    without reading to EOF is an error, since the stored object would be truncated.
    """

    def __init__(
        self, produce: Callable[[BinaryIO], None], *, capacity: int = DEFAULT_CAPACITY
    ) -> None:
        self._produce = produce
        self._pipe = BoundedPipe(capacity)
        self._thread = threading.Thread(target=self._run, name="argoexec-archive", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self._produce(cast(BinaryIO, PipeWriter(self._pipe)))
        except BaseException as exc:  # re-raised in the consumer's thread by __exit__
            self._error = exc
            self._pipe.close_write(exc)
        else:
            self._pipe.close_write()

    @property
    def bytes_produced(self) -> int:
        return self._pipe.bytes_written

    def __enter__(self) -> BinaryIO:
        self._thread.start()
        return cast(BinaryIO, PipeReader(self._pipe))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pipe.close_read()
        self._thread.join()
        producer_error = self._error
        if producer_error is not None and not isinstance(producer_error, PipeClosedError):
            raise producer_error
        if exc is None and not self._pipe.eof_seen:
            raise ArtifactError(
                "the upload ended before the whole archive stream was read",
                code=ErrorCode.INTERNAL,
            )
