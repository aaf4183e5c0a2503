"""Archive strategies for artifacts: streamed packing, format sniffing, safe unpacking, placement.

* Packing (:mod:`artifacts.archive_pack`): tar+gzip (the default) or zip, written by a background
  thread into a bounded in-memory pipe (:mod:`artifacts.pipe`) that a driver's ``save_stream``
  reads — no temporary file, a few MiB of memory.
* Unpacking (:mod:`artifacts.archive_unpack`, :mod:`artifacts.archive_safety`): into
  ``<dest>.tmpdir``, then the §11.6 rename rule (:func:`commit`).

Which format a loaded object is (argo-contract.md §11.6, mirrored):

=====================  ==============================================================
``archive``            what happens to the stored bytes
=====================  ==============================================================
unset                  gzip whose first decompressed block is a tar header → untar;
                       anything else (plain tar, gzip of a non-tar, zip, …) is placed
                       as-is. Zip is never auto-detected.
``none: {}``           placed as-is, never unpacked
``tar: {}``            must be gzip-compressed (a plain tar is an ``ERR_INTEGRITY``)
``zip: {}``            unzipped (spooled to ``<dest>.tmp`` first: zip needs seeking)
=====================  ==============================================================
"""

from __future__ import annotations

import contextlib
import os
import shutil
import zlib
from pathlib import Path
from typing import BinaryIO

from argoexec.lifecycle import Stop
from argoexec.models import Artifact
from artifacts.archive_pack import effective_level, isal_level, pack_tar, pack_zip, source_kind
from artifacts.archive_safety import SizeCap
from artifacts.archive_unpack import extract_tgz, extract_zip, is_tar_header
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.pipe import ProducedStream
from artifacts.settings import MIB, TransferSettings
from artifacts.strategy import Strategy, archive_strategy

__all__ = [
    "Strategy",
    "apply_mode",
    "commit",
    "commit_selected",
    "load_format",
    "open_pack_stream",
    "remove_path",
    "source_kind",
    "unpack_local",
    "unpack_to_staging",
]

GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_CHUNK = 64 * 1024
_SNIFF_LIMIT = MIB  # raw bytes read while looking for the first tar header


def load_format(artifact: Artifact) -> Strategy | None:
    """The requested unpacking for an input; None means auto-detect."""
    archive = artifact.archive
    if archive is None:
        return None
    if archive.none is not None:
        return "none"
    if archive.zip is not None:
        return "zip"
    if archive.tar is not None:
        return "tar"
    return None


def open_pack_stream(
    source: Path,
    artifact: Artifact,
    settings: TransferSettings,
    *,
    stop: Stop | None = None,
) -> ProducedStream:
    """A ``with`` block yielding the packed ``source`` as a readable stream (tar or zip, as
    :func:`artifacts.strategy.archive_strategy` decides)."""
    strategy = archive_strategy(artifact)
    requested = None
    if artifact.archive is not None and artifact.archive.tar is not None:
        requested = artifact.archive.tar.compression_level
    level = effective_level(requested, settings.default_compression_level)
    # Fail before any upload starts: a bad level (BAD_REQUEST) or a missing source (NOT_FOUND).
    isal_level(level)
    source_kind(source)

    def produce(sink: BinaryIO) -> None:
        if strategy == "zip":
            pack_zip(source, sink, level=level, stop=stop)
        else:
            pack_tar(source, sink, level=level, threads=settings.compression_threads, stop=stop)

    return ProducedStream(produce)


class _Replay:
    """``prefix`` (bytes already read while sniffing) followed by the rest of ``raw``."""

    def __init__(self, prefix: bytes, raw: BinaryIO) -> None:
        self._prefix = memoryview(prefix)
        self._raw = raw

    def read(self, n: int = -1, /) -> bytes:
        if self._prefix:
            count = len(self._prefix) if n is None or n < 0 else min(n, len(self._prefix))
            out = bytes(self._prefix[:count])
            self._prefix = self._prefix[count:]
            return out
        return self._raw.read(n)

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        view = memoryview(buffer).cast("B")
        raw_into = getattr(self._raw, "readinto", None)
        if not self._prefix and raw_into is not None:
            return int(raw_into(view) or 0)
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


def sniff(stream: BinaryIO) -> tuple[bool, BinaryIO]:
    """Whether the stream is a gzip-compressed tar, and a reader that replays what was read."""
    raw = bytearray()
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    block = b""
    while len(block) < 512 and len(raw) < _SNIFF_LIMIT:
        chunk = stream.read(_SNIFF_CHUNK)
        if not chunk:
            break
        raw += chunk
        if len(raw) >= 2 and raw[:2] != GZIP_MAGIC:
            break
        try:
            block += decompressor.decompress(decompressor.unconsumed_tail + chunk, 512 - len(block))
        except zlib.error:
            break
    replay: BinaryIO = _Replay(bytes(raw), stream)  # type: ignore[assignment]
    return len(block) >= 512 and is_tar_header(block[:512]), replay


def _write_plain(stream: BinaryIO, path: Path) -> None:
    with path.open("xb") as out:
        while chunk := stream.read(MIB):
            out.write(chunk)


def unpack_to_staging(
    stream: BinaryIO,
    staging: Path,
    name: str,
    *,
    fmt: Strategy | None,
    spool: Path,
    limit: int | None = None,
) -> Strategy:
    """Extract or place ``stream`` inside the new directory ``staging``; a non-archive becomes
    ``staging/name``. Returns what was done: ``tar``, ``zip`` or ``none``. ``spool`` is where a
    zip is written before extraction; it is removed afterwards. On failure ``staging`` is
    removed too. ``limit``: the size cap in bytes (0 = none; None = the default share of the
    free space, see :class:`artifacts.archive_safety.SizeCap`)."""
    staging.mkdir()
    try:
        cap = SizeCap.resolve(limit, staging)
        return _unpack(stream, staging, name, fmt=fmt, spool=spool, cap=cap)
    except BaseException:
        remove_path(staging)
        raise


def _unpack(
    stream: BinaryIO, staging: Path, name: str, *, fmt: Strategy | None, spool: Path, cap: SizeCap
) -> Strategy:
    if fmt == "none":
        _write_plain(stream, staging / name)
        return "none"
    if fmt == "zip":
        try:
            _write_plain(stream, spool)
            extract_zip(spool, staging, cap=cap)
        finally:
            remove_path(spool)
        return "zip"
    is_tarball, replay = sniff(stream)
    if fmt == "tar" and not is_tarball:
        raise ArtifactError(
            "not a gzip-compressed tarball (archive: tar requested)", code=ErrorCode.INTEGRITY
        )
    if is_tarball:
        extract_tgz(replay, staging, cap=cap)
        return "tar"
    _write_plain(replay, staging / name)
    return "none"


def unpack_local(
    archive: Path, dest: Path, *, fmt: Strategy | None = None, limit: int | None = None
) -> Strategy:
    """Unpack a local file to ``dest`` by the rules above (staging in ``<dest>.tmpdir``, then the
    rename rule); on failure nothing is left at ``dest``. For archives already on disk, e.g. the
    ``.tgz`` the emissary makes of a base-image output (§4.5.2)."""
    staging = dest.with_name(dest.name + ".tmpdir")
    spool = dest.with_name(dest.name + ".tmp")
    with archive.open("rb") as stream:
        kind = unpack_to_staging(stream, staging, dest.name, fmt=fmt, spool=spool, limit=limit)
    try:
        commit(staging, dest)
    finally:
        remove_path(staging)
    return kind


def commit(staging: Path, dest: Path) -> None:
    """The §11.6 rename rule: exactly one top-level entry becomes ``dest``; otherwise the
    staging directory itself does."""
    entries = os.listdir(staging)
    try:
        if len(entries) == 1:
            os.replace(staging / entries[0], dest)
            staging.rmdir()
        else:
            os.replace(staging, dest)
    except OSError as exc:
        raise ArtifactError(
            f"cannot move the artifact into place at {dest}: {exc.strerror or exc}",
            code=ErrorCode.INTERNAL,
        ) from exc


def commit_selected(staging: Path, rel: str, dest: Path) -> None:
    """Place the entry ``rel`` of ``staging`` (a subPath's pick) at ``dest`` and drop the rest:
    a file becomes the file ``dest``, a directory's contents the directory ``dest``."""
    try:
        os.replace(staging / rel, dest)
    except OSError as exc:
        raise ArtifactError(
            f"cannot move the artifact into place at {dest}: {exc.strerror or exc}",
            code=ErrorCode.INTERNAL,
        ) from exc
    remove_path(staging)


def apply_mode(dest: Path, mode: int | None, recurse: bool) -> None:
    """``chmod`` the placed artifact; with ``recurse`` every file and directory below too."""
    if mode is None or dest.is_symlink():
        return
    os.chmod(dest, mode)
    if not recurse or not dest.is_dir():
        return
    for root, dirs, files in os.walk(dest):
        for entry in (*dirs, *files):
            path = os.path.join(root, entry)
            if not os.path.islink(path):
                os.chmod(path, mode)


def remove_path(path: Path) -> None:
    """Remove a file, symlink or directory tree if it exists (staging cleanup)."""
    if path.is_symlink() or path.is_file():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    elif path.exists():
        _make_removable(path)
        shutil.rmtree(path, ignore_errors=True)


def _make_removable(path: Path) -> None:
    for root, dirs, _ in os.walk(path):
        for d in dirs:
            full = os.path.join(root, d)
            if not os.path.islink(full):
                with contextlib.suppress(OSError):
                    os.chmod(full, 0o700)
