"""Uploads: one stream (single PUT or our own multipart upload) and whole directories.

Parts are read in order through a ``HashingReader`` (so the digest covers exactly the bytes sent)
and uploaded by at most ``upload_threads`` workers: memory stays at ``(threads + 1) * part size``.
Any failure, or the stop token, aborts the multipart upload, so nothing half-written and no
pending upload is left behind. Content-MD5 is sent with every part, as Argo's client does.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import posixpath
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argoexec.lifecycle import Stop
from artifacts.driver import ProgressCallback
from artifacts.errors import ArtifactError
from artifacts.settings import MIB, TransferSettings
from artifacts.streams import HashingReader

from .client import S3Connection
from .options import clean_key

DEFAULT_PART_SIZE = 8 * MIB
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_PARTS = 10_000
# A stream of unknown length doubles its part size every this many parts, so the 10,000-part
# limit is never reached (8 MiB parts cover ~8 GiB before the first doubling).
PARTS_PER_SIZE_STEP = 1_000


def part_size_of(settings: TransferSettings, total: int | None = None) -> int:
    """The configured part size clamped to S3's limits (and grown to fit ``total`` in 10,000)."""
    size = min(max(settings.part_size or DEFAULT_PART_SIZE, MIN_PART_SIZE), MAX_PART_SIZE)
    if total is not None:
        size = max(size, -(-total // MAX_PARTS))
    return size


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def _read_exact(reader: HashingReader, n: int) -> bytes:
    parts: list[bytes] = []
    left = n
    while left > 0:
        data = reader.read(left)
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


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
    """Upload of one object from a reader of (possibly) unknown length."""

    conn: S3Connection
    key: str
    part_size: int
    threads: int
    stop: Stop

    def run(self, reader: HashingReader) -> None:
        first = _read_exact(reader, self.part_size)
        if len(first) < self.part_size:
            self._put(first)
            return
        upload_id = self._create()
        try:
            parts = self._upload_parts(reader, upload_id, first)
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

    def _put(self, data: bytes) -> None:
        _check_stop(self.stop)
        self.conn.client.put_object(
            Bucket=self.conn.bucket,
            Key=self.key,
            Body=data,
            ContentMD5=_md5(data),
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

    def _send_part(self, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        _check_stop(self.stop)
        resp = self.conn.client.upload_part(
            Bucket=self.conn.bucket,
            Key=self.key,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ContentMD5=_md5(data),
            **self.conn.encryption.read_args(self.conn.bucket, self.key),
        )
        return {"PartNumber": number, "ETag": resp["ETag"]}

    def _upload_parts(
        self, reader: HashingReader, upload_id: str, first: bytes
    ) -> list[dict[str, Any]]:
        done: list[dict[str, Any]] = []
        in_flight: set[Future[dict[str, Any]]] = set()
        data, number = first, 1
        with ThreadPoolExecutor(self.threads, "s3-part") as pool:
            try:
                while data:
                    while len(in_flight) >= self.threads:
                        finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                        done.extend(f.result() for f in finished)
                    in_flight.add(pool.submit(self._send_part, upload_id, number, data))
                    size = self.part_size << ((number) // PARTS_PER_SIZE_STEP)
                    number += 1
                    data = _read_exact(reader, min(size, MAX_PART_SIZE))
                done.extend(f.result() for f in in_flight)
            finally:
                for future in in_flight:
                    future.cancel()
        return sorted(done, key=lambda part: int(part["PartNumber"]))


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


def regular_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative posix path, path) of every regular file under ``root``; symlinks are skipped
    like Argo's ``generatePutTasks``, and symlinked directories are never entered."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            if stat.S_ISREG(path.lstat().st_mode):
                yield path.relative_to(root).as_posix(), path


def upload_small(
    conn: S3Connection, key: str, path: Path, stop: Stop, progress: ProgressCallback | None
) -> tuple[int, str]:
    """One PUT for a file below the part size: read once, hash, send."""
    data = path.read_bytes()
    _check_stop(stop)
    conn.client.put_object(
        Bucket=conn.bucket,
        Key=key,
        Body=data,
        ContentMD5=_md5(data),
        **conn.encryption.write_args(conn.bucket, key),
    )
    if progress is not None:
        progress(len(data))
    return len(data), hashlib.sha256(data).hexdigest()


def upload_directory(
    conn: S3Connection,
    prefix: str,
    root: Path,
    *,
    settings: TransferSettings,
    stop: Stop,
    progress: ProgressCallback | None = None,
) -> list[tuple[str, str, int]]:
    """Upload every regular file under ``root`` to ``prefix/<rel>`` with ``dir_workers`` threads;
    returns (relative path, sha256, size) per file."""
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

    results: list[tuple[str, str, int]] = []
    with ThreadPoolExecutor(settings.dir_workers, "s3-dir") as pool:
        futures: set[Future[tuple[str, str, int]]] = set()
        try:
            for rel, path in regular_files(root):
                _check_stop(stop)
                if len(futures) >= 4 * settings.dir_workers:
                    finished, futures = wait(futures, return_when=FIRST_COMPLETED)
                    results.extend(f.result() for f in finished)
                futures.add(pool.submit(put, rel, path))
            results.extend(f.result() for f in futures)
        finally:
            for future in futures:
                future.cancel()
    return results
