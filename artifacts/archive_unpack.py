"""Unpacking: gzip-tar streamed straight from the download, and zip (argo-contract.md §11.6).

A tarball is decompressed by ISA-L in a background thread and read by ``tarfile`` in stream mode
(``r|``), so nothing is staged on disk; every entry is placed through
:class:`artifacts.archive_safety.ExtractionRoot`. Tar entry types: directories, regular files
(also contiguous and sparse), symlinks and hard links within the archive; devices, FIFOs and
anything else are refused (Argo skips them silently; a refusal names the entry instead).

A zip needs its central directory, at the end of the file, so a zip artifact is spooled to one
file next to the destination first and extracted from there.

Corruption — bad gzip CRC, truncated stream, invalid tar header anywhere (``tarfile`` alone would
treat a bad header after the first as the end of the archive), bad zip CRC — is ``ERR_INTEGRITY``.
"""

from __future__ import annotations

import gzip
import tarfile
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Protocol, Self, cast

from isal import igzip_threaded, isal_zlib

from artifacts.archive_safety import NO_CAP, ExtractionRoot, SizeCap, illegal
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.settings import MIB

# Untyped or missing from typeshed; reached through Any on purpose.
_tarfile_internals: Any = tarfile
_open_gzip: Any = igzip_threaded.open
_open_tar: Any = tarfile.open
# tarfile's stream buffer: its reader copies the buffered remainder on every header read, so a
# large buffer costs more than it saves for archives of many small files.
_TAR_STREAM_BUFFER = 64 * 1024
# ISA-L's threaded reader holds 8 blocks of compressed input plus two decompressed blocks in its
# queue; 256 KiB blocks keep that near 3 MiB instead of 10 MiB without slowing it down.
_GZIP_BLOCK = 256 * 1024
_ZIP_UTF8_FLAG = 0x800
# Zeros after a tar's end-of-archive blocks that do not count against the size cap: tar pads to
# its record size (10 KiB by default, larger with a bigger blocking factor).
_TAIL_PADDING = MIB
_INTEGRITY_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.ReadError,
    tarfile.HeaderError,
    EOFError,
    gzip.BadGzipFile,
    zlib.error,
    cast(type[BaseException], isal_zlib.error),
    zipfile.BadZipFile,
)


class CorruptTarError(Exception):
    """A tar header after the first one is damaged (not raised as ``HeaderError`` on purpose:
    ``TarFile.next`` swallows those and ends the archive early)."""


_TAR_ERRORS: tuple[type[BaseException], ...] = (CorruptTarError, *_INTEGRITY_ERRORS)


class MemberFilter(Protocol):
    """Which entries to extract (an artifact's ``subPath``): ``wants`` sees every entry's
    cleaned relative name in archive order; ``done`` replaces the rename-rule check at the end
    and checks what was picked."""

    def wants(self, rel: str) -> bool: ...

    def done(self, target: ExtractionRoot) -> None: ...


class _CheckedTarInfo(tarfile.TarInfo):
    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> Self:
        try:
            return super().fromtarfile(tarfile_)
        except (_tarfile_internals.EOFHeaderError, _tarfile_internals.EmptyHeaderError):
            raise  # a clean end of archive
        except (
            _tarfile_internals.InvalidHeaderError,
            _tarfile_internals.TruncatedHeaderError,
        ) as exc:
            raise CorruptTarError(f"bad tar header at offset {tarfile_.offset}: {exc}") from exc


def integrity_error(exc: BaseException, what: str) -> ArtifactError:
    return ArtifactError(f"corrupt {what}: {exc}", code=ErrorCode.INTEGRITY)


def extract_tgz(
    stream: BinaryIO, root: Path, *, cap: SizeCap = NO_CAP, keep: MemberFilter | None = None
) -> None:
    """Extract the gzip-compressed tar read from ``stream`` into the directory ``root`` (only
    the entries ``keep`` wants, when given).

    The decompressed stream is read to its end, so the gzip CRC and length are always checked;
    what it holds past the tar's end counts against ``cap`` too (it costs decompression time).
    """
    gz = _open_gzip(stream, "rb", threads=1, block_size=_GZIP_BLOCK)
    target = ExtractionRoot(root, cap=cap)
    try:
        try:
            _extract_tar(cast(BinaryIO, gz), target, keep)
            _drain_tail(cast(BinaryIO, gz), target)
        except _TAR_ERRORS as exc:
            raise integrity_error(exc, "tar.gz archive") from exc
    finally:
        gz.close()


def _drain_tail(stream: BinaryIO, target: ExtractionRoot) -> None:
    """Read what follows the tar's end: the record padding tar writers add is free, anything
    beyond counts against the cap (a gzip stream can hold gigabytes of zeros after the tar)."""
    allowance = _TAIL_PADDING
    while tail := stream.read(MIB):
        free = min(allowance, len(tail))
        allowance -= free
        if len(tail) > free:
            target.count(len(tail) - free, "the data after the end of the tar archive")


def _extract_tar(stream: BinaryIO, target: ExtractionRoot, keep: MemberFilter | None) -> None:
    tar: tarfile.TarFile = _open_tar(
        fileobj=stream,
        mode="r|",
        bufsize=_TAR_STREAM_BUFFER,
        tarinfo=_CheckedTarInfo,
        encoding="utf-8",
        errors="surrogateescape",
    )
    with tar:
        while (member := tar.next()) is not None:
            # Names are checked for every entry, extracted or not: an escaping name anywhere
            # marks an archive that is not to be trusted.
            if keep is None or keep.wants(target.clean(member.name)):
                _place_member(tar, member, target)
            # tarfile remembers every member; an archive of a million files must not.
            cast(Any, tar).members.clear()
    _finish(target, keep)


def _finish(target: ExtractionRoot, keep: MemberFilter | None) -> None:
    if keep is None:
        target.finish()
    else:
        target.finish(rename_rule=False)
        keep.done(target)


def _place_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: ExtractionRoot) -> None:
    name = member.name
    if member.isdir():
        target.make_dir(name, member.mode, member.mtime)
    elif member.isreg():
        source = tar.extractfile(member)
        assert source is not None  # regular members always have data
        with source:
            # A sparse member's size is its expanded size: checked before a byte is written.
            target.write_file(name, source, member.mode, member.mtime, size=member.size)
    elif member.issym():
        target.symlink(name, member.linkname)
    elif member.islnk():
        target.hardlink(name, member.linkname)
    else:
        raise illegal(f"unsupported archive entry {name}: not a file, directory or link")


def is_tar_header(block: bytes) -> bool:
    """Whether ``block`` (the first 512 bytes of a decompressed stream) is a valid tar header;
    Argo's auto-detection asks the same of Go's ``tar.Reader.Next``."""
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def extract_zip(
    archive: Path, root: Path, *, cap: SizeCap = NO_CAP, keep: MemberFilter | None = None
) -> None:
    """Extract the zip file ``archive`` into ``root`` (entry names and modes as Argo does; only
    the entries ``keep`` wants, when given)."""
    target = ExtractionRoot(root, cap=cap, illegal_path=lambda n: f"{n}: Illegal file path")
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _place_zip_member(zf, info, target, keep)
        _finish(target, keep)
    except _INTEGRITY_ERRORS as exc:
        raise integrity_error(exc, "zip archive") from exc
    except (NotImplementedError, RuntimeError) as exc:  # encrypted or exotic compression
        raise ArtifactError(f"unsupported zip archive: {exc}", code=ErrorCode.BAD_REQUEST) from exc


def _place_zip_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: ExtractionRoot, keep: MemberFilter | None
) -> None:
    unix_mode = (info.external_attr >> 16) & 0o777
    mtime = _zip_mtime(info)
    name = info.filename
    if not info.flag_bits & _ZIP_UTF8_FLAG:
        # zipfile decoded the raw name as cp437; Go (Argo) uses the raw bytes, which zip tools
        # on Linux write in UTF-8 without setting the flag. Undecodable bytes stay as-is.
        name = name.encode("cp437").decode("utf-8", "surrogateescape")
    if keep is not None and not keep.wants(target.clean(name)):
        return
    if info.is_dir():
        target.make_dir(name, unix_mode or 0o755, mtime)
        return
    # Symlink entries become regular files holding the link text, as in Argo (§11.6).
    with zf.open(info) as source:
        target.write_file(name, source, unix_mode or 0o644, mtime, size=info.file_size)


def _zip_mtime(info: zipfile.ZipInfo) -> float | None:
    try:
        return time.mktime((*info.date_time, 0, 0, -1))
    except (OverflowError, ValueError):
        return None
