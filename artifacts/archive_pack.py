"""Packing: a file or directory written as a streamed tar+gzip or zip (argo-contract.md §11.5).

Nothing is staged on disk: the walk feeds ``tarfile`` in stream mode (``w|``), whose output goes
through ISA-L's threaded gzip writer (it compresses blocks in worker threads with the GIL
released) into whatever binary sink the caller gives, usually a :mod:`artifacts.pipe`.

Compression levels. Templates give zlib-style levels (``archive.tar.compressionLevel``, 0-9,
-1 = default); ISA-L has levels 0-3 and is much faster at each. The mapping is:

=================  ==========================================================
template level     what we write
=================  ==========================================================
unset, -1          ``TransferSettings.default_compression_level``, mapped below
0                  stored deflate blocks (no compression; stdlib gzip level 0)
-2 (Huffman only)  ISA-L 0
1-3                ISA-L 1
4-6                ISA-L 2
7-9                ISA-L 3
=================  ==========================================================

Entry names (§11.5): a file source is one entry ``basename``; a directory source is ``basename``
followed by ``basename/<rel>`` for every descendant in sorted depth-first walk order
(directories included, symlinks stored as symlinks). Sockets, FIFOs and devices are refused.
Hard-linked files are stored as independent regular files, like Argo's Go writer.
"""

from __future__ import annotations

import contextlib
import grp
import gzip
import os
import pwd
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from isal import igzip_threaded

from argoexec.lifecycle import Stop
from artifacts.errors import ArtifactError, ErrorCode

# Untyped (isal) or too narrowly typed in typeshed (``copybufsize``); reached through Any.
_open_gzip: Any = igzip_threaded.open
_open_tar: Any = tarfile.open
_COPY_BUFFER = 256 * 1024
# ISA-L's threaded writer keeps about ten blocks in flight (its write buffer, one queued and one
# being compressed per thread, their outputs); 512 KiB blocks hold that near 5 MiB. Smaller blocks
# cost measurably more CPU per byte in its Python queues, larger ones only memory.
_GZIP_BLOCK = 512 * 1024
_STORED = -1  # sentinel "ISA-L level" meaning no compression at all


def isal_level(level: int) -> int:
    """The ISA-L level for a zlib-style level (see the module docstring); -1 means stored."""
    if level == 0:
        return _STORED
    if level == -2:
        return 0
    if 1 <= level <= 3:
        return 1
    if 4 <= level <= 6:
        return 2
    if 7 <= level <= 9:
        return 3
    raise ArtifactError(
        f"invalid compression level {level}: must be between -2 and 9",
        code=ErrorCode.BAD_REQUEST,
    )


def effective_level(requested: int | None, default: int) -> int:
    """The zlib-style level to use: the template's, or the default when unset or -1."""
    if requested is None or requested == -1:
        return default
    return requested


def source_kind(source: Path) -> str:
    """``"file"`` or ``"dir"``; a missing source is NOT_FOUND, anything else BAD_REQUEST."""
    try:
        st = source.stat()
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"{source} no such file or directory", code=ErrorCode.NOT_FOUND
        ) from exc
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISREG(st.st_mode):
        return "file"
    raise ArtifactError(
        f"{source} is neither a regular file nor a directory", code=ErrorCode.BAD_REQUEST
    )


def walk(source: Path) -> Iterator[tuple[Path, str, os.stat_result]]:
    """(path, entry name, lstat) for the source and every descendant, in §11.5 order."""
    base = source.name or "."
    yield source, base, source.stat()
    if source.is_dir():
        yield from _walk_dir(source, base)


def _walk_dir(directory: Path, prefix: str) -> Iterator[tuple[Path, str, os.stat_result]]:
    with os.scandir(directory) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        path = Path(entry.path)
        name = f"{prefix}/{entry.name}"
        st = entry.stat(follow_symlinks=False)
        yield path, name, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk_dir(path, name)


@lru_cache(maxsize=256)
def _user_name(uid: int) -> str:
    with contextlib.suppress(KeyError):
        return pwd.getpwuid(uid).pw_name
    return ""


@lru_cache(maxsize=256)
def _group_name(gid: int) -> str:
    with contextlib.suppress(KeyError):
        return grp.getgrgid(gid).gr_name
    return ""


def _tarinfo(path: Path, name: str, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    mode = st.st_mode
    if stat.S_ISREG(mode):
        info.type, info.size = tarfile.REGTYPE, st.st_size
    elif stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
    else:
        raise ArtifactError(
            f"cannot archive {path}: not a regular file, directory or symlink",
            code=ErrorCode.BAD_REQUEST,
        )
    info.mode = stat.S_IMODE(mode)
    # Whole seconds: a fractional mtime would cost a PAX header per entry.
    info.mtime = int(st.st_mtime)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname, info.gname = _user_name(st.st_uid), _group_name(st.st_gid)
    return info


def _gzip_writer(sink: BinaryIO, level: int, threads: int) -> BinaryIO:
    mapped = isal_level(level)
    if mapped == _STORED:
        return gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=0, mtime=0)  # type: ignore[return-value]
    writer: BinaryIO = _open_gzip(
        sink, "wb", compresslevel=mapped, threads=max(1, threads), block_size=_GZIP_BLOCK
    )
    return writer


def _check_stop(stop: Stop | None) -> None:
    if stop is not None and stop.is_set():
        raise ArtifactError(f"archiving stopped: {stop.reason}", code=ErrorCode.INTERNAL)


def pack_tar(
    source: Path, sink: BinaryIO, *, level: int, threads: int, stop: Stop | None = None
) -> None:
    """Write ``source`` to ``sink`` as a gzip-compressed tar (a standard ``.tgz``)."""
    source_kind(source)
    gz = _gzip_writer(sink, level, threads)
    try:
        with _open_tar(
            fileobj=gz,
            mode="w|",
            bufsize=_COPY_BUFFER,
            copybufsize=_COPY_BUFFER,
            format=tarfile.PAX_FORMAT,
            encoding="utf-8",
        ) as tar:
            for path, name, st in walk(source):
                _check_stop(stop)
                _add_entry(tar, path, name, st)
                # tarfile remembers every member it wrote; 100,000 files must not cost 50 MiB.
                tar.members.clear()
    except BaseException:
        _abandon(gz)
        raise
    gz.close()


def _add_entry(tar: tarfile.TarFile, path: Path, name: str, st: os.stat_result) -> None:
    info = _tarinfo(path, name, st)
    if info.type != tarfile.REGTYPE:
        tar.addfile(info)
        return
    try:
        with path.open("rb") as f:
            tar.addfile(info, f)
    except tarfile.ReadError as exc:  # the file shrank while it was being read
        raise ArtifactError(
            f"{path} changed while it was being archived", code=ErrorCode.INTERNAL
        ) from exc


def _abandon(gz: BinaryIO) -> None:
    """Stop the compressor's threads without turning the original error into another one."""
    with contextlib.suppress(Exception):
        gz.close()


def pack_zip(source: Path, sink: BinaryIO, *, level: int, stop: Stop | None = None) -> None:
    """Write ``source`` to ``sink`` as a streamed zip (data descriptors; no seeking).

    Entries (§11.5): one per regular file of a directory, named ``<basename>/<rel>``, no
    directory entries. A single file is stored under its *basename* — Argo stores the absolute
    path there (argo-contract.md §15 quirk 4), which unpacks into a deep, surprising tree.
    """
    kind = source_kind(source)
    compression = zipfile.ZIP_STORED if level == 0 else zipfile.ZIP_DEFLATED
    # zipfile only speaks stdlib zlib; its fastest level keeps the single-threaded cost low.
    zlevel = None if level == 0 else 1
    with zipfile.ZipFile(sink, "w", compression=compression, compresslevel=zlevel) as zf:
        if kind == "file":
            zf.write(source, arcname=source.name)
            return
        for path, name, st in walk(source):
            _check_stop(stop)
            if stat.S_ISREG(st.st_mode):
                zf.write(path, arcname=name)
