"""Uploads: one stream (single PUT or our own multipart upload) and whole directories.

Parts are read in order through a ``HashingReader`` (so the digest covers exactly the bytes sent)
and uploaded by at most ``upload_threads`` workers: memory stays at ``threads * part size``,
in buffers reused from part to part (:class:`artifacts.memory.BufferPool`). Any failure, or the
stop token, aborts the multipart upload, so nothing half-written and no pending upload is left
behind.

Integrity of each request body: over plain HTTP botocore always signs the payload (the SHA-256 in
``x-amz-content-sha256`` is part of the signature and the server checks it), so Content-MD5 would
be a second, slower hash of the same bytes and is not sent. Over HTTPS botocore sends
``UNSIGNED-PAYLOAD`` when Content-MD5 is present, so there we send it, as Argo's client does.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import os
import posixpath
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argoexec.lifecycle import Stop
from artifacts.driver import ProgressCallback
from artifacts.errors import ArtifactError
from artifacts.memory import BufferPool, fill
from artifacts.settings import MIB, TransferSettings
from artifacts.streams import HashingReader, TreeDigest, sorted_regular_files
from artifacts.windowed import run_windowed

from .client import S3Connection
from .options import clean_key

# S3's minimum part size is also our default: with ``upload_threads`` parts held, every MiB of
# part size costs four of peak memory, and on loopback 5 MiB parts upload as fast as 8 MiB.
DEFAULT_PART_SIZE = 5 * MIB
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_PARTS = 10_000
# A stream of unknown length doubles its part size every this many parts, so the 10,000-part
# limit is never reached (5 MiB parts cover ~5 GiB before the first doubling).
PARTS_PER_SIZE_STEP = 1_000


def part_size_of(settings: TransferSettings, total: int | None = None) -> int:
    """The configured part size clamped to S3's limits (and grown to fit ``total`` in 10,000)."""
    size = min(max(settings.part_size or DEFAULT_PART_SIZE, MIN_PART_SIZE), MAX_PART_SIZE)
    if total is not None:
        size = max(size, -(-total // MAX_PARTS))
    return size


def _md5(data: bytes | bytearray) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


class PartBody:
    """A read-only, seekable file over one part's buffer, handed to botocore as ``Body``.

    botocore turns a ``bytes`` body into a ``BytesIO`` anyway (and then sends
    ``Expect: 100-continue``, so a server can refuse a part before it is sent); this keeps that
    behaviour while ``read`` hands out slices of the pooled buffer instead of copies, both to the
    SigV4 payload hash and to the socket.
    """

    def __init__(self, data: bytes | bytearray) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def __len__(self) -> int:
        return len(self._view)

    def read(self, n: int = -1, /) -> memoryview:
        end = len(self._view) if n is None or n < 0 else min(self._pos + n, len(self._view))
        start, self._pos = self._pos, max(end, self._pos)
        return self._view[start:end]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: len(self._view)}[whence]
        self._pos = min(max(base + offset, 0), len(self._view))
        return self._pos

    def tell(self) -> int:
        return self._pos


def body_args(conn: S3Connection, data: bytes | bytearray) -> dict[str, Any]:
    """``Body`` as a :class:`PartBody`, plus Content-MD5 where the payload is not signed."""
    args: dict[str, Any] = {"Body": PartBody(data)}
    if conn.payload_unsigned:
        args["ContentMD5"] = _md5(data)
    return args


class ByteBudget:
    """Caps bytes held in memory by concurrent uploads of one operation."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._available = limit
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def hold(self, n: int) -> Iterator[None]:
        n = min(n, self.limit)
        with self._cond:
            self._cond.wait_for(lambda: self._available >= n)
            self._available -= n
        try:
            yield
        finally:
            with self._cond:
                self._available += n
                self._cond.notify_all()


def _check_stop(stop: Stop) -> None:
    if stop.is_set():
        raise ArtifactError(f"upload stopped: {stop.reason}")


@dataclass
class StreamUpload:
    """Upload of one object from a reader of (possibly) unknown length.

    Parts are read straight into at most ``threads`` pooled buffers; the next part is read as
    soon as one of them is free again (while the others are still being sent), so memory is
    bounded whatever the object's size and the pipe keeps compression running meanwhile.
    """

    conn: S3Connection
    key: str
    part_size: int
    threads: int
    stop: Stop

    def run(self, reader: HashingReader) -> None:
        pool = BufferPool(self.part_size, self.threads)
        first = _next_part(reader, pool)
        if first is None or len(first) < self.part_size:
            self._put(first or bytearray())
            return
        upload_id = self._create()
        try:
            parts = self._upload_parts(reader, upload_id, pool, first)
            _check_stop(self.stop)
            self.conn.client.complete_multipart_upload(
                Bucket=self.conn.bucket,
                Key=self.key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
            )
        except BaseException:
            self._abort(upload_id)
            raise
        finally:
            pool.clear()

    def _body(self, data: bytearray) -> dict[str, Any]:
        return body_args(self.conn, data)

    def _put(self, data: bytearray) -> None:
        _check_stop(self.stop)
        self.conn.client.put_object(
            Bucket=self.conn.bucket,
            Key=self.key,
            **self._body(data),
            **self.conn.encryption.write_args(self.conn.bucket, self.key),
        )

    def _create(self) -> str:
        _check_stop(self.stop)
        resp = self.conn.client.create_multipart_upload(
            Bucket=self.conn.bucket,
            Key=self.key,
            **self.conn.encryption.write_args(self.conn.bucket, self.key),
        )
        return resp["UploadId"]

    def _abort(self, upload_id: str) -> None:
        with contextlib.suppress(Exception):
            self.conn.client.abort_multipart_upload(
                Bucket=self.conn.bucket, Key=self.key, UploadId=upload_id
            )

    def _send_part(
        self, upload_id: str, number: int, data: bytearray, pool: BufferPool
    ) -> dict[str, Any]:
        try:
            _check_stop(self.stop)
            resp = self.conn.client.upload_part(
                Bucket=self.conn.bucket,
                Key=self.key,
                UploadId=upload_id,
                PartNumber=number,
                **self._body(data),
                **self.conn.encryption.read_args(self.conn.bucket, self.key),
            )
        finally:
            pool.release(data)
        return {"PartNumber": number, "ETag": resp["ETag"]}

    def _upload_parts(
        self, reader: HashingReader, upload_id: str, pool: BufferPool, first: bytearray
    ) -> list[dict[str, Any]]:
        done: list[dict[str, Any]] = []
        in_flight: set[Future[dict[str, Any]]] = set()
        data: bytearray | None = first
        number = 1
        with ThreadPoolExecutor(self.threads, "s3-part") as workers:
            try:
                while data is not None:
                    while len(in_flight) >= self.threads:
                        finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                        done.extend(f.result() for f in finished)
                    in_flight.add(workers.submit(self._send_part, upload_id, number, data, pool))
                    finished = {f for f in in_flight if f.done()}
                    in_flight -= finished
                    done.extend(f.result() for f in finished)  # a failed part ends the upload
                    # Unknown length: the part size doubles every PARTS_PER_SIZE_STEP parts.
                    size = self.part_size << (number // PARTS_PER_SIZE_STEP)
                    pool.resize(min(size, MAX_PART_SIZE))
                    number += 1
                    data = _next_part(reader, pool)  # waits for a part to finish if all are out
                done.extend(f.result() for f in in_flight)
            finally:
                for future in in_flight:
                    future.cancel()
        return sorted(done, key=lambda part: int(part["PartNumber"]))


def _next_part(reader: HashingReader, pool: BufferPool) -> bytearray | None:
    """The next part in a pooled buffer (shrunk to its length if short); None at EOF."""
    buffer = pool.acquire()
    try:
        count = fill(reader, buffer)
    except BaseException:
        pool.release(buffer)
        raise
    if count == 0:
        pool.release(buffer)
        return None
    if count < len(buffer):
        del buffer[count:]  # the last part: this buffer is not reused
    return buffer


def upload_reader(
    conn: S3Connection,
    key: str,
    reader: HashingReader,
    *,
    settings: TransferSettings,
    stop: Stop,
    total: int | None = None,
) -> None:
    StreamUpload(conn, key, part_size_of(settings, total), settings.upload_threads, stop).run(
        reader
    )


def upload_file(
    conn: S3Connection,
    key: str,
    path: Path,
    *,
    settings: TransferSettings,
    stop: Stop,
    progress: ProgressCallback | None = None,
) -> tuple[int, str]:
    """(size, sha256) of the file ``path`` uploaded to ``key``."""
    with path.open("rb") as f:
        reader = HashingReader(f, progress)
        size = os.fstat(f.fileno()).st_size
        upload_reader(conn, key, reader, settings=settings, stop=stop, total=size)
    return reader.size, reader.hexdigest()


def upload_small(
    conn: S3Connection, key: str, path: Path, stop: Stop, progress: ProgressCallback | None
) -> tuple[int, str]:
    """One PUT for a file below the part size: read once, hash, send."""
    data = path.read_bytes()
    _check_stop(stop)
    conn.client.put_object(
        Bucket=conn.bucket,
        Key=key,
        **body_args(conn, data),
        **conn.encryption.write_args(conn.bucket, key),
    )
    if progress is not None:
        progress(len(data))
    return len(data), hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class DirectoryUpload:
    """What a directory upload stored: object count, bytes and :func:`tree_digest` of it."""

    objects: int
    size: int
    sha256: str


class _InOrder:
    """Feeds per-file results, finishing in any order, to a :class:`TreeDigest` in walk order.

    Only results ahead of the oldest unfinished file are held, and the caller keeps at most a
    window of files in flight, so memory does not grow with the number of files."""

    def __init__(self) -> None:
        self.digest = TreeDigest()
        self.objects = 0
        self.size = 0
        self._waiting: dict[int, tuple[str, str, int]] = {}

    def done(self, index: int, result: tuple[str, str, int]) -> None:
        self._waiting[index] = result
        while self.objects in self._waiting:
            rel, digest, size = self._waiting.pop(self.objects)
            self.digest.add(rel, digest)
            self.objects += 1
            self.size += size

    def result(self) -> DirectoryUpload:
        return DirectoryUpload(self.objects, self.size, self.digest.hexdigest())


def upload_directory(
    conn: S3Connection,
    prefix: str,
    root: Path,
    *,
    settings: TransferSettings,
    stop: Stop,
    progress: ProgressCallback | None = None,
) -> DirectoryUpload:
    """Upload every regular file under ``root`` to ``prefix/<rel>`` with ``dir_workers`` threads,
    at most ``4 * dir_workers`` files queued at once (the walk runs just ahead of the uploads)."""
    part = part_size_of(settings)
    budget = ByteBudget((settings.upload_threads + 1) * part)
    one_at_a_time = TransferSettings(part_size=part, upload_threads=1)

    def put(rel: str, path: Path) -> tuple[str, str, int]:
        key = clean_key(posixpath.join(prefix, rel))  # Go's path.Join
        size = path.lstat().st_size
        with budget.hold(min(size, part) if size < part else 2 * part):
            if size < part:
                n, digest = upload_small(conn, key, path, stop, progress)
            else:
                n, digest = upload_file(
                    conn, key, path, settings=one_at_a_time, stop=stop, progress=progress
                )
        return rel, digest, n

    def calls() -> Iterator[tuple[int, Callable[[], tuple[str, str, int]]]]:
        for index, (rel, path) in enumerate(sorted_regular_files(root)):
            _check_stop(stop)
            yield index, functools.partial(put, rel, path)

    ordered = _InOrder()
    with ThreadPoolExecutor(settings.dir_workers, "s3-dir") as pool:
        run_windowed(pool, calls(), 4 * settings.dir_workers, ordered.done)
    return ordered.result()
