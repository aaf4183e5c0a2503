"""Downloads: one object to a file (parallel ranged GETs for large ones) and object streams.

A large object is fetched as ``download_chunk_size`` ranges by ``download_threads`` workers that
``os.pwrite`` into the destination, so memory stays at one reused 1 MiB read buffer per worker.
The first range to fail stops the others at their next piece, and the file is removed. The first
range comes from the initial GET's own body (no extra HEAD request); later ranges carry
``If-Match`` with the first response's ETag so an object replaced mid-download fails instead of
mixing versions.
"""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from argoexec.lifecycle import Stop
from artifacts.driver import ProgressCallback
from artifacts.errors import ArtifactError
from artifacts.memory import BufferPool
from artifacts.settings import TransferSettings

from .client import S3Connection

if TYPE_CHECKING:
    from botocore.response import StreamingBody

# Each read from a body allocates about twice this much for a moment (http.client reads into a
# fresh bytearray, then copies it to bytes), in every worker thread at once: 256 KiB pieces kept
# a streamed load's peak 3.6 MiB lower than 1 MiB pieces at the same speed.
READ_PIECE = 256 * 1024
T = TypeVar("T")


def short_read(key: str, got: int, expected: int) -> ArtifactError:
    return ArtifactError(
        f"connection closed early while reading {key}: got {got} of {expected} bytes",
        transient=True,
    )


def get_object(
    conn: S3Connection, key: str, byte_range: str | None = None, etag: str | None = None
) -> Any:
    args: dict[str, Any] = dict(conn.encryption.read_args(conn.bucket, key))
    if byte_range:
        args["Range"] = byte_range
    if etag:
        args["IfMatch"] = etag
    return conn.client.get_object(Bucket=conn.bucket, Key=key, **args)


@dataclass(frozen=True)
class _Sink:
    """Where fetched bytes go: positional writes into one open file, through ``pieces`` (one
    reused buffer per concurrent range). ``failed`` is set by the first range that fails, and
    makes every other range stop at its next piece."""

    fd: int
    key: str
    progress: ProgressCallback | None
    pieces: BufferPool
    failed: threading.Event = field(default_factory=threading.Event)

    def copy(self, body: StreamingBody, offset: int, length: int) -> None:
        """Write exactly ``length`` bytes of ``body`` at ``offset``; a shorter body is transient."""
        buffer = self.pieces.acquire()
        try:
            view = memoryview(buffer)
            done = 0
            while done < length:
                if self.failed.is_set():
                    raise ArtifactError(f"download of {self.key} abandoned: another range failed")
                count = _body_readinto(body, view[: min(len(view), length - done)])
                if not count:
                    raise short_read(self.key, done, length)
                written = 0
                while written < count:
                    written += os.pwrite(self.fd, view[written:count], offset + done + written)
                done += count
                if self.progress is not None:
                    self.progress(count)
        except BaseException:
            self.failed.set()
            raise
        finally:
            self.pieces.release(buffer)


def _body_readinto(body: StreamingBody, view: memoryview) -> int:
    # botocore-stubs type the argument as a file; botocore takes any writable buffer.
    return int(body.readinto(view))  # type: ignore[arg-type]


def read_into(body: StreamingBody, view: memoryview) -> int:
    """Fill ``view`` from ``body`` in ``READ_PIECE`` steps; the count read (short at EOF)."""
    done = 0
    while done < len(view):
        count = _body_readinto(body, view[done : done + READ_PIECE])
        if not count:
            break
        done += count
    return done


def _ranges(start: int, size: int, chunk: int) -> list[tuple[int, int]]:
    return [(offset, min(chunk, size - offset)) for offset in range(start, size, chunk)]


def _fetch_range(
    conn: S3Connection, sink: _Sink, etag: str | None, span: tuple[int, int], stop: Stop
) -> None:
    offset, length = span
    if stop.is_set():
        raise ArtifactError(f"stopped: {stop.reason}")
    if sink.failed.is_set():
        raise ArtifactError(f"download of {sink.key} abandoned: another range failed")
    try:
        resp = get_object(conn, sink.key, f"bytes={offset}-{offset + length - 1}", etag)
    except BaseException:
        sink.failed.set()
        raise
    try:
        sink.copy(resp["Body"], offset, length)
    finally:
        resp["Body"].close()


def _parallel_ranges(
    conn: S3Connection, resp: Any, sink: _Sink, settings: TransferSettings, stop: Stop
) -> None:
    """The first chunk from the open GET body, the rest as concurrent ranged GETs."""
    size, chunk = int(resp["ContentLength"]), settings.download_chunk_size
    os.ftruncate(sink.fd, size)
    etag = resp.get("ETag")
    with ThreadPoolExecutor(settings.download_threads, "s3-range") as pool:
        futures = [
            pool.submit(_fetch_range, conn, sink, etag, span, stop)
            for span in _ranges(chunk, size, chunk)
        ]
        try:
            sink.copy(resp["Body"], 0, chunk)
            resp["Body"].close()  # drops that connection: the rest of its body is not needed
            for future in futures:
                future.result()
        finally:
            for future in futures:
                future.cancel()


def download_object(
    conn: S3Connection,
    key: str,
    path: Path,
    *,
    settings: TransferSettings,
    stop: Stop,
    progress: ProgressCallback | None = None,
) -> int:
    """Fetch ``key`` into the file ``path`` (parents created); returns its size."""
    resp = get_object(conn, key)
    size = int(resp.get("ContentLength", 0))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            serial = size < max(
                settings.parallel_download_threshold, settings.download_chunk_size + 1
            )
            pieces = BufferPool(READ_PIECE, 1 if serial else settings.download_threads + 1)
            sink = _Sink(fd, key, progress, pieces)
            if serial:
                sink.copy(resp["Body"], 0, size)
            else:
                _parallel_ranges(conn, resp, sink, settings, stop)
        except BaseException:
            path.unlink(missing_ok=True)  # never leave a half-written file behind
            raise
        finally:
            os.close(fd)
    finally:
        resp["Body"].close()
    return size


class S3ObjectStream:
    """An ``ObjectStream`` delivering bytes in order with bounded memory.

    Small objects are read straight from the GET body. For large ones the body serves the first
    chunk while up to ``threads`` later ranges are fetched into pooled chunk buffers
    (:class:`artifacts.memory.BufferPool`): at most ``threads + 1`` chunks are held at once and
    the same buffers are reused for the whole object. ``readinto`` copies straight from those
    buffers. A body or range shorter than promised raises a transient ``ArtifactError``.
    """

    def __init__(
        self,
        body: StreamingBody,
        size: int,
        key: str,
        *,
        fetch_into: Callable[[int, memoryview], None] | None,
        chunk: int,
        threads: int,
        on_close: Callable[[], None],
        wrap_error: Callable[[BaseException], ArtifactError],
    ) -> None:
        self.size: int | None = size
        self._key = key
        self._body: StreamingBody | None = body
        self._body_left = min(size, chunk) if fetch_into else size
        self._fetch_into = fetch_into
        self._pending = collections.deque(_ranges(self._body_left, size, chunk))
        self._futures: collections.deque[Future[tuple[bytearray, int]]] = collections.deque()
        self._pool = ThreadPoolExecutor(threads, "s3-stream") if fetch_into else None
        self._buffers = BufferPool(chunk, threads + 1)
        self._window = threads
        self._current: bytearray | None = None
        self._view = memoryview(b"")
        self._delivered = 0
        self._on_close: Callable[[], None] | None = on_close
        self._wrap_error = wrap_error
        self._fill_window()

    def _fill_window(self) -> None:
        while self._pool and self._pending and len(self._futures) < self._window:
            offset, length = self._pending.popleft()
            self._futures.append(self._pool.submit(self._fetch_chunk, offset, length))

    def _fetch_chunk(self, offset: int, length: int) -> tuple[bytearray, int]:
        assert self._fetch_into is not None
        buffer = self._buffers.acquire()
        try:
            self._fetch_into(offset, memoryview(buffer)[:length])
        except BaseException:
            self._buffers.release(buffer)
            raise
        return buffer, length

    def _guarded(self, step: Callable[[], T]) -> T:
        try:
            return step()
        except ArtifactError:
            raise
        except Exception as exc:
            raise self._wrap_error(exc) from exc

    def _next_view(self) -> bool:
        """Make the next fetched chunk current; False at the end of the object."""
        self._view.release()
        self._view = memoryview(b"")
        if self._current is not None:
            self._buffers.release(self._current)
            self._current = None
        if self._body is not None:
            self._body.close()
            self._body = None
        if not self._futures:
            return False
        buffer, length = self._futures.popleft().result()
        self._current = buffer
        self._view = memoryview(buffer)[:length]
        self._fill_window()
        return True

    def _body_piece(self, n: int) -> bytes:
        assert self._body is not None
        piece = self._body.read(min(n, READ_PIECE, self._body_left))
        if not piece:
            raise short_read(self._key, self._delivered, self.size or 0)
        self._body_left -= len(piece)
        self._delivered += len(piece)
        return bytes(piece)

    def _read(self, n: int) -> bytes:
        if self._body_left > 0:
            return self._body_piece(n)
        if not self._view and not self._next_view():
            return b""
        count = min(n, len(self._view))
        data = bytes(self._view[:count])
        self._view = self._view[count:]
        self._delivered += count
        return data

    def _into(self, view: memoryview) -> int:
        if self._body_left > 0:
            assert self._body is not None
            count = _body_readinto(self._body, view[: min(READ_PIECE, self._body_left)])
            if not count:
                raise short_read(self._key, self._delivered, self.size or 0)
            self._body_left -= count
        else:
            if not self._view and not self._next_view():
                return 0
            count = min(len(view), len(self._view))
            view[:count] = self._view[:count]
            self._view = self._view[count:]
        self._delivered += count
        return count

    def read(self, n: int = -1, /) -> bytes:
        if n is None or n < 0:
            parts = []
            while piece := self.read(READ_PIECE):
                parts.append(piece)
            return b"".join(parts)
        if n == 0:
            return b""
        return self._guarded(lambda: self._read(n))

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        """Copy the next bytes straight into ``buffer`` (no intermediate ``bytes``)."""
        view = memoryview(buffer).cast("B")
        if not view:
            return 0
        return self._guarded(lambda: self._into(view))

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._view.release()
        self._view = memoryview(b"")
        self._current = None
        self._buffers.clear()
        if self._body is not None:
            self._body.close()
            self._body = None
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> S3ObjectStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
