"""``LocalDriver``: artifacts in a directory of this machine (our extension kind ``local``).

Argo has no such kind. The local runtime (``argoexec run``) uses it so that steps pass artifacts
with no server. ``local: {root: /abs/dir, key: some/key.tgz}`` is the file
``/abs/dir/some/key.tgz``; a directory saved with ``archive: none`` is the tree under
``/abs/dir/some/key``. The directory behaves like an object store:

* objects are regular files. Saving a tree copies its regular files only: symlinks are skipped
  and never followed, empty directories and special files are not stored (as the S3 and GCS
  drivers do), so an artifact means the same whatever kind stores it;
* every write is atomic: a temporary ``.argoexec-tmp-*`` entry (never listed or loaded) next
  to the key, then a rename. A new directory key appears whole; saving a tree onto an existing
  one merges it file by file, each file replaced atomically (S3 overwrites keys the same way);
* keys stay inside root: absolute keys and ``..`` segments are refused, and so is a key whose
  path resolves outside root through a symlink (all ``ERR_BAD_REQUEST``);
* a missing object is ``ERR_NOT_FOUND`` (so optional artifacts work); a missing root is
  created by a save, never by a load;
* ``delete`` removes a file or a whole directory tree (no trailing ``/`` needed, unlike S3) and
  succeeds when nothing is there, so artifact GC can be re-run.

Standard library only. Files are created with mode 0666 and directories 0777, less the umask.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import secrets
import shutil
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from argoexec.models import Artifact
from artifacts.driver import DriverContext, ObjectStream, ProgressCallback, SaveResult
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.streams import CHUNK, HashingReader, tree_digest

TMP_PREFIX = ".argoexec-tmp-"
# errno -> code for failures of the filesystem itself; anything else is ERR_INTERNAL.
_CODES = {
    errno.ENOENT: ErrorCode.NOT_FOUND,
    errno.EACCES: ErrorCode.FORBIDDEN,
    errno.EPERM: ErrorCode.FORBIDDEN,
    errno.EROFS: ErrorCode.FORBIDDEN,
    errno.EISDIR: ErrorCode.BAD_REQUEST,
    errno.ENOTDIR: ErrorCode.BAD_REQUEST,
    errno.EEXIST: ErrorCode.BAD_REQUEST,
    errno.ENOTEMPTY: ErrorCode.BAD_REQUEST,
    errno.ENAMETOOLONG: ErrorCode.BAD_REQUEST,
    errno.ELOOP: ErrorCode.BAD_REQUEST,
}
# Failures that may pass on their own (a busy or flaky network filesystem): worth a retry.
_TRANSIENT = {errno.EAGAIN, errno.EBUSY, errno.EIO, errno.ESTALE, errno.ETIMEDOUT}


class _Readable(Protocol):
    def readinto(self, buffer: bytearray | memoryview, /) -> int: ...


def clean_key(key: str) -> str:
    """The key with duplicate ``/``, ``.`` segments and a trailing ``/`` removed (``""`` is the
    root itself). Raises ``ValueError`` saying why a key could leave the root."""
    if "\0" in key:
        raise ValueError("contains a NUL byte")
    if key.startswith("/"):
        raise ValueError("is absolute (keys are relative to the root)")
    if ".." in key.split("/"):
        raise ValueError("contains a '..' segment")
    cleaned = posixpath.normpath(key) if key else ""
    return "" if cleaned == "." else cleaned


@dataclass(frozen=True)
class _Target:
    """One artifact's root (absolute, normalised) and cleaned key."""

    artifact: Artifact
    root: str
    key: str

    @property
    def path(self) -> Path:
        return Path(self.root, self.key) if self.key else Path(self.root)

    @property
    def location(self) -> str:
        return _url(self.root, self.key)

    @property
    def where(self) -> str:
        return f"key {self.key!r} under root {self.root!r}"


def _url(root: str, key: str) -> str:
    """``file://<root>/<key>``, joined verbatim so that a bad key is shown as it was given."""
    return f"file://{root.rstrip('/')}/{key}"


class _FileStream:
    """An open stored file as an ``ObjectStream``; ending before ``size`` bytes is an error
    (the file was changed in place behind the store's back)."""

    def __init__(self, file: BinaryIO, size: int, target: _Target, kind: str) -> None:
        self.size: int | None = size
        self._file = file
        self._target = target
        self._kind = kind
        self._seen = 0

    def read(self, n: int = -1, /) -> bytes:
        try:
            data = self._file.read(n)
        except OSError as exc:
            raise self._error(f"reading failed: {exc.strerror or exc}") from exc
        self._count(len(data), n != 0)
        return data

    def readinto(self, buffer: bytearray | memoryview, /) -> int:
        try:
            count = self._file.readinto(buffer)  # type: ignore[attr-defined]
        except OSError as exc:
            raise self._error(f"reading failed: {exc.strerror or exc}") from exc
        self._count(count, len(buffer) > 0)
        return int(count)

    def close(self) -> None:
        self._file.close()

    def _count(self, count: int, wanted: bool) -> None:
        self._seen += count
        if count == 0 and wanted and self.size is not None and self._seen < self.size:
            raise self._error(f"the file ended after {self._seen} of {self.size} bytes")

    def _error(self, message: str) -> ArtifactError:
        return ArtifactError(
            f"{message} ({self._target.where})",
            code=ErrorCode.INTERNAL,
            transient=True,
            artifact=self._target.artifact.name,
            driver=self._kind,
            location=self._target.location,
        )


class LocalDriver:
    """The ``local`` artifact driver: a directory tree used as an object store."""

    kind = "local"

    def __init__(self, ctx: DriverContext) -> None:
        self.ctx = ctx

    # -- naming and errors ----------------------------------------------------------------------

    def location(self, artifact: Artifact) -> str:
        local = artifact.local
        if local is None:
            return "file://"
        return _url(local.root or "", local.key or "")

    def describe_credentials(self, artifact: Artifact) -> str:
        target = self._target(artifact)
        return f"none (files under {target.root}, with this process's permissions)"

    def _bad(self, artifact: Artifact, message: str, location: str | None) -> ArtifactError:
        return ArtifactError(
            message,
            code=ErrorCode.BAD_REQUEST,
            artifact=artifact.name,
            driver=self.kind,
            location=location,
        )

    def _target(self, artifact: Artifact) -> _Target:
        local = artifact.local
        if local is None:
            raise self._bad(artifact, "the artifact has no local location", None)
        root, key = local.root or "", local.key or ""
        where = self.location(artifact)
        if not root:
            raise self._bad(artifact, f"the local location of key {key!r} has no root", where)
        if not os.path.isabs(root) or "\0" in root:
            raise self._bad(artifact, f"root {root!r} must be an absolute path", where)
        root = os.path.normpath(root)
        try:
            cleaned = clean_key(key)
        except ValueError as exc:
            message = f"key {key!r} {exc}: keys must stay inside root {root!r}"
            raise self._bad(artifact, message, where) from exc
        return _Target(artifact, root, cleaned)

    def _error(self, t: _Target, message: str, code: ErrorCode) -> ArtifactError:
        return ArtifactError(
            message, code=code, artifact=t.artifact.name, driver=self.kind, location=t.location
        )

    def _missing(self, t: _Target, what: str = "no such key") -> ArtifactError:
        return self._error(t, f"{what}: {t.where}", ErrorCode.NOT_FOUND)

    def _conflict(self, t: _Target, message: str) -> ArtifactError:
        return self._error(t, f"{t.where} {message}", ErrorCode.BAD_REQUEST)

    @contextlib.contextmanager
    def _errors(self, t: _Target, action: str) -> Iterator[None]:
        """Every failure leaves the block as an ArtifactError naming driver, root and key."""
        try:
            yield
        except ArtifactError as err:
            err.with_context(artifact=t.artifact.name, driver=self.kind, location=t.location)
            raise
        except OSError as exc:
            code = _CODES.get(exc.errno or 0, ErrorCode.INTERNAL)
            cause = exc.strerror or str(exc)
            if exc.filename:
                cause = f"{cause}: {exc.filename}"
            failure = self._error(t, f"{action} {t.where}: {cause}", code)
            failure.transient = exc.errno in _TRANSIENT
            raise failure from exc

    def _inside(self, t: _Target, path: Path) -> Path:
        """``path`` itself, after checking that it resolves inside the root: a symlink in the
        store (the key itself or any directory above it) must not lead elsewhere."""
        real_root = os.path.realpath(t.root)
        real = os.path.realpath(path)
        if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
            message = f"{t.where} resolves to {real}, outside the root (through a symlink)"
            raise self._error(t, message, ErrorCode.BAD_REQUEST)
        return path

    def _require_key(self, t: _Target, action: str) -> None:
        if not t.key:
            message = f"refusing to {action} the whole root {t.root!r}: the key is empty"
            raise self._error(t, message, ErrorCode.BAD_REQUEST)

    def _check_stop(self) -> None:
        if self.ctx.stop.is_set():
            raise ArtifactError(f"stopped: {self.ctx.stop.reason}", code=ErrorCode.INTERNAL)

    # -- copying --------------------------------------------------------------------------------

    def _pump(self, source: _Readable, out: BinaryIO, progress: ProgressCallback | None) -> int:
        """Copy ``source`` to ``out`` in 1 MiB chunks through one buffer; returns the bytes."""
        view = memoryview(bytearray(CHUNK))
        total = 0
        while True:
            self._check_stop()
            count = source.readinto(view)
            if not count:
                return total
            out.write(view[:count])
            total += count
            if progress is not None:
                progress(count)

    @contextlib.contextmanager
    def _atomic_file(self, dest: Path) -> Iterator[BinaryIO]:
        """A new temporary file next to ``dest``, renamed onto it when the block succeeds and
        removed when it fails: readers see the old file or the whole new one, never a part."""
        tmp = dest.parent / f"{TMP_PREFIX}{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        try:
            with os.fdopen(fd, "wb") as out:
                yield out
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _save_file(self, source: Path, dest: Path) -> tuple[int, str]:
        with source.open("rb") as raw, self._atomic_file(dest) as out:
            reader = HashingReader(raw, self.ctx.progress)
            self._pump(reader, out, None)  # the reader reports progress
        return reader.size, reader.hexdigest()

    # -- load -----------------------------------------------------------------------------------

    def load(self, artifact: Artifact, path: Path) -> None:
        t = self._target(artifact)
        with self._errors(t, "failed to load"):
            source = self._inside(t, t.path)
            try:
                mode = os.stat(source).st_mode
            except (FileNotFoundError, NotADirectoryError):
                raise self._missing(t) from None
            if stat.S_ISREG(mode):
                path.parent.mkdir(parents=True, exist_ok=True)
                self._load_file(source, path)
                return
            if not stat.S_ISDIR(mode):
                raise self._conflict(t, "is not a regular file or directory")
            files = list(_walk_files(source, store=True))
            if not files:
                raise self._missing(t, "no objects under the directory")
            path.mkdir(parents=True, exist_ok=True)
            for rel, file in files:
                dest = path.joinpath(*rel.split("/"))
                dest.parent.mkdir(parents=True, exist_ok=True)
                self._load_file(file, dest)

    def _load_file(self, source: Path, dest: Path) -> None:
        try:
            with source.open("rb") as raw, dest.open("wb") as out:
                self._pump(raw, out, self.ctx.progress)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise

    # -- open_stream ----------------------------------------------------------------------------

    def open_stream(self, artifact: Artifact) -> ObjectStream:
        t = self._target(artifact)
        with self._errors(t, "failed to open"):
            source = self._inside(t, t.path)
            try:
                # Non-blocking, so a FIFO at the key cannot hang the open; no effect on files.
                fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except (FileNotFoundError, NotADirectoryError):
                raise self._missing(t) from None
            try:
                info = os.fstat(fd)
                if stat.S_ISDIR(info.st_mode):
                    raise self._error(
                        t,
                        "Directory Stream capability currently unimplemented for local",
                        ErrorCode.NOT_IMPLEMENTED,
                    )
                if not stat.S_ISREG(info.st_mode):
                    raise self._conflict(t, "is not a regular file")
                file = os.fdopen(fd, "rb")
            except BaseException:
                os.close(fd)
                raise
            return _FileStream(file, info.st_size, t, self.kind)
        raise AssertionError("unreachable")  # pragma: no cover - mypy cannot see the raise above

    # -- save -----------------------------------------------------------------------------------

    def save(self, path: Path, artifact: Artifact) -> SaveResult:
        t = self._target(artifact)
        self._require_key(t, "save over")
        with self._errors(t, "failed to save"):
            if not path.exists():
                raise self._error(t, f"{path}: no such file or directory", ErrorCode.NOT_FOUND)
            dest = self._inside(t, t.path)
            if path.is_dir():
                return self._save_tree(t, path, dest)
            if not path.is_file():
                raise self._error(
                    t, f"{path} is not a regular file or directory", ErrorCode.BAD_REQUEST
                )
            if dest.is_dir():
                raise self._conflict(t, "is a directory: a file cannot replace it")
            dest.parent.mkdir(parents=True, exist_ok=True)
            size, digest = self._save_file(path, dest)
            return SaveResult(key=t.key, size=size, sha256=digest)
        raise AssertionError("unreachable")  # pragma: no cover

    def _save_tree(self, t: _Target, source: Path, dest: Path) -> SaveResult:
        """Copy the tree into a hidden staging directory next to the key, then publish it."""
        files = list(_walk_files(source, store=False))
        if dest.exists() and not dest.is_dir():
            raise self._conflict(t, "is a file: a directory cannot replace it")
        dest.parent.mkdir(parents=True, exist_ok=True)
        stage = dest.parent / f"{TMP_PREFIX}{secrets.token_hex(8)}"
        stage.mkdir()
        try:
            entries: list[tuple[str, str]] = []
            total = 0
            for rel, file in files:
                staged = stage.joinpath(*rel.split("/"))
                staged.parent.mkdir(parents=True, exist_ok=True)
                size, digest = self._save_file(file, staged)
                entries.append((rel, digest))
                total += size
            self._publish(t, stage, dest, [rel for rel, _file in files])
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return SaveResult(key=t.key, size=total, sha256=tree_digest(entries), objects=len(files))

    def _publish(self, t: _Target, stage: Path, dest: Path, rels: list[str]) -> None:
        """A new key: one rename makes the whole tree appear. An existing directory: merge the
        staged files into it one atomic replace at a time."""
        try:
            os.rename(stage, dest)
            return
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
        for rel in rels:
            self._check_stop()
            final = self._inside(t, dest.joinpath(*rel.split("/")))
            if final.is_dir():
                raise self._conflict(t, f"holds a directory {rel!r}: a file cannot replace it")
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage.joinpath(*rel.split("/")), final)

    def save_stream(self, stream: BinaryIO, artifact: Artifact) -> SaveResult:
        t = self._target(artifact)
        self._require_key(t, "save over")
        with self._errors(t, "failed to save stream"):
            dest = self._inside(t, t.path)
            if dest.is_dir():
                raise self._conflict(t, "is a directory: a file cannot replace it")
            dest.parent.mkdir(parents=True, exist_ok=True)
            reader = HashingReader(stream, self.ctx.progress)
            with self._atomic_file(dest) as out:
                self._pump(reader, out, None)
            return SaveResult(key=t.key, size=reader.size, sha256=reader.hexdigest())
        raise AssertionError("unreachable")  # pragma: no cover

    # -- delete, list, is_directory -------------------------------------------------------------

    def delete(self, artifact: Artifact) -> None:
        t = self._target(artifact)
        self._require_key(t, "delete")
        with self._errors(t, "failed to delete"):
            path = self._inside(t, t.path)
            if path.is_symlink() or path.is_file():
                path.unlink(missing_ok=True)
            elif path.is_dir():
                _remove_tree(path)

    def list_objects(self, artifact: Artifact) -> list[str]:
        """``[key]`` for a file; the keys of every file under a directory key (recursive).
        Nothing there (or an empty directory) is ``ERR_NOT_FOUND``."""
        t = self._target(artifact)
        with self._errors(t, "failed to list"):
            path = self._inside(t, t.path)
            try:
                mode = os.stat(path).st_mode
            except (FileNotFoundError, NotADirectoryError):
                raise self._missing(t) from None
            if stat.S_ISREG(mode):
                return [t.key]
            keys = []
            if stat.S_ISDIR(mode):
                keys = [posixpath.join(t.key, rel) for rel, _ in _walk_files(path, store=True)]
            if not keys:
                raise self._missing(t, "no objects under the key")
            return keys
        raise AssertionError("unreachable")  # pragma: no cover

    def is_directory(self, artifact: Artifact) -> bool:
        """True when the key is a directory with at least one file under it (S3's rule)."""
        t = self._target(artifact)
        with self._errors(t, "failed to test for a directory"):
            path = self._inside(t, t.path)
            if not path.is_dir():
                return False
            return next(_walk_files(path, store=True), None) is not None
        raise AssertionError("unreachable")  # pragma: no cover


def _walk_files(root: Path, *, store: bool) -> Iterator[tuple[str, Path]]:
    """(posix relative path, path) of every regular file under ``root``, in a stable order
    (top-down, names sorted). Symlinks are
    skipped and symlinked directories never entered. In the store (``store=True``) the
    temporary entries of writes in progress are skipped too."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if store:
            dirnames[:] = [d for d in dirnames if not d.startswith(TMP_PREFIX)]
        for name in sorted(filenames):
            if store and name.startswith(TMP_PREFIX):
                continue
            path = Path(dirpath, name)
            if stat.S_ISREG(path.lstat().st_mode):
                yield path.relative_to(root).as_posix(), path


def _remove_tree(path: Path) -> None:
    """``rmtree`` (which never follows symlinks) where an entry removed meanwhile, by a
    concurrent delete, is fine rather than an error."""

    def ignore_missing(exc: BaseException) -> None:
        if not isinstance(exc, FileNotFoundError):
            raise exc

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=lambda _f, _p, exc: ignore_missing(exc))
    else:
        shutil.rmtree(path, onerror=lambda _f, _p, info: ignore_missing(info[1]))


def remove_partial_writes(root: str | Path, key: str) -> list[Path]:
    """Remove what interrupted saves left under ``key`` of the repository at ``root``: the
    temporary ``.argoexec-tmp-*`` entries, never listed nor loaded, of writers that died (the
    caller knows they did: a live writer's file would be taken from under it). Symlinks are
    never followed; a key that leaves the root removes nothing. The entries removed."""
    try:
        base = Path(root, clean_key(key))
        inside = base.resolve().is_relative_to(Path(root).resolve())
    except (ValueError, OSError):
        return []
    if not inside or base.is_symlink() or not base.is_dir():
        return []
    removed: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(base):
        for name in [*dirnames, *filenames]:
            if not name.startswith(TMP_PREFIX):
                continue
            path = Path(dirpath, name)
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    _remove_tree(path)
                else:
                    path.unlink()
                removed.append(path)
        dirnames[:] = [d for d in dirnames if not d.startswith(TMP_PREFIX)]
    return removed
