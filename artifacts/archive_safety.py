"""Safe placement of archive entries under an extraction root (argo-contract.md §11.6).

Every entry of a tar or zip passes through :class:`ExtractionRoot`, which refuses:

* absolute names and names whose cleaned form climbs out of the root (``..``);
* symlinks whose target is absolute or, resolved against the entry's directory, leaves the root —
  and, when the single top-level entry later *becomes* the destination, leaves that entry;
* hard links to anything but a regular file extracted earlier from the same archive;
* any entry below a symlink extracted earlier (Argo only refuses those whose parent resolves
  outside; an archive made by walking a tree never has such entries, so we refuse them all);
* an entry replacing an earlier one of another type, or any entry replacing a symlink;
* more file content in total than the :class:`SizeCap` allows: each entry's declared size is
  checked before it is written (a GNU sparse file declares its expanded size, so a 100-byte
  archive claiming an exabyte is refused at once), and bytes are counted as written too, since
  a declared size may lie.

Files are created with ``O_NOFOLLOW`` so even a race cannot redirect a write.
"""

from __future__ import annotations

import os
import posixpath
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, cast

from argoexec.contract import ENV_MAX_EXTRACT_BYTES
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.settings import MIB
from artifacts.subpath import is_within

GIB = 1024 * MIB
_FILE, _DIR, _LINK = "file", "dir", "link"
# With ARGOEXEC_MAX_EXTRACT_BYTES unset, one archive may expand to this share of the space free
# on the destination's filesystem when its extraction starts: a bomb stops with the disk still
# half free, and an artifact that needs more than half of what is left is rare enough to be
# asked for explicitly.
DEFAULT_FREE_SPACE_SHARE = 0.5


@dataclass(frozen=True)
class SizeCap:
    """How many bytes one archive may expand to (0 = no cap), and where that number came from
    (shown in the refusal)."""

    limit: int = 0
    origin: str = f"set by {ENV_MAX_EXTRACT_BYTES}"

    @classmethod
    def resolve(cls, setting: int | None, where: Path) -> SizeCap:
        """The cap for an extraction into ``where``: ``setting`` when configured (0 = none),
        else the default share of the free space there, measured now."""
        if setting is not None:
            return cls(setting)
        free = shutil.disk_usage(where).free
        share = f"{DEFAULT_FREE_SPACE_SHARE:.0%}"
        origin = f"the default: {share} of the {_size(free)} free on the destination's disk"
        return cls(max(1, int(free * DEFAULT_FREE_SPACE_SHARE)), origin)

    def exceeded(self, where: str) -> ArtifactError:
        exact = f"{self.limit} bytes"
        shown = exact if self.limit < MIB else f"{_size(self.limit)} = {exact}"
        return illegal(
            f"archive expands beyond the size cap of {shown} ({self.origin}) at {where}; set "
            f"{ENV_MAX_EXTRACT_BYTES} to a larger number of bytes to allow it, or to 0 for no cap"
        )


NO_CAP = SizeCap()


def _size(n: int) -> str:
    if n >= GIB:
        return f"{n / GIB:.1f} GiB"
    if n >= MIB:
        return f"{n / MIB:.1f} MiB"
    return f"{n} bytes"


class ReadsInto(Protocol):
    def readinto(self, buffer: bytearray | memoryview, /) -> int: ...


def illegal(message: str) -> ArtifactError:
    return ArtifactError(message, code=ErrorCode.BAD_REQUEST)


def _escapes(rel: str) -> bool:
    return rel == ".." or rel.startswith("../")


class ExtractionRoot:
    """Tracks what an archive has extracted under ``root`` and validates each new entry.

    ``illegal_path`` formats the "escapes the destination" message (tar and zip word it the way
    Argo does for each).
    """

    def __init__(
        self,
        root: Path,
        *,
        cap: SizeCap = NO_CAP,
        illegal_path: Callable[[str], str] = lambda name: f"illegal file path: {name}",
    ) -> None:
        self.root = root
        self.cap = cap
        self.written = 0
        self._illegal_path = illegal_path
        self._kinds: dict[str, str] = {}
        self._links: dict[str, tuple[str, str]] = {}  # rel -> (resolved rel, raw target)
        self._dirs: list[tuple[Path, int, float | None]] = []
        self._made: set[Path] = {root}
        self._buffer = memoryview(bytearray(MIB))

    # -- validation ---------------------------------------------------------------------------

    def clean(self, name: str) -> str:
        """The entry's path relative to the root (``"."`` is the root itself)."""
        if not name or "\x00" in name or name.startswith("/"):
            raise illegal(self._illegal_path(name))
        rel = posixpath.normpath(name)
        if _escapes(rel):
            raise illegal(self._illegal_path(name))
        return rel

    def _claim(self, name: str, kind: str) -> tuple[str, Path, bool]:
        rel = self.clean(name)
        parts = rel.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if self._kinds.get(parent) == _LINK:
                raise illegal(f"illegal file path after symlink resolution: {name}")
            if self._kinds.get(parent) == _FILE:
                raise illegal(f"illegal file path: {name}: {parent} is not a directory")
        existing = self._kinds.get(rel)
        if existing is not None and (existing != kind or kind == _LINK):
            raise illegal(f"duplicate archive entry {name} ({existing} replaced by {kind})")
        if rel == "." and kind != _DIR:
            raise illegal(self._illegal_path(name))
        for i in range(1, len(parts)):
            self._kinds.setdefault("/".join(parts[:i]), _DIR)
        self._kinds[rel] = kind
        return rel, self.root / rel, existing is not None

    # -- entry kinds --------------------------------------------------------------------------

    def make_dir(self, name: str, mode: int, mtime: float | None) -> None:
        rel, path, _ = self._claim(name, _DIR)
        if rel == ".":
            return
        self._mkdirs(path)
        self._dirs.append((path, mode, mtime))

    def write_file(
        self,
        name: str,
        src: IO[bytes],
        mode: int,
        mtime: float | None,
        *,
        size: int = 0,
        label: str = "",
    ) -> None:
        """Write the entry ``name`` from ``src``; ``size`` is what the archive declares for it
        (a sparse file's expanded size), checked against the cap before anything is written."""
        if self.cap.limit and self.written + size > self.cap.limit:
            raise self.cap.exceeded(f"entry {label or name}, which declares {_size(size)}")
        _, path, existed = self._claim(name, _FILE)
        self._mkdirs(path.parent)
        if existed:  # it may be a hard link: replace it, never truncate the shared inode
            path.unlink()
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
        try:
            self._copy(src, fd, label or name)
            os.fchmod(fd, mode & 0o777)
            if mtime is not None:
                os.utime(fd, (mtime, mtime))
        finally:
            os.close(fd)

    def _mkdirs(self, path: Path) -> None:
        if path not in self._made:
            path.mkdir(parents=True, exist_ok=True)
            self._made.add(path)

    def _copy(self, src: IO[bytes], fd: int, name: str) -> None:
        view = self._buffer
        reader = cast(ReadsInto, src)  # every stream we get (tar/zip members) has readinto
        while n := reader.readinto(view):
            self.count(n, f"entry {name}")
            done = 0
            while done < n:
                done += os.write(fd, view[done:n])

    def count(self, n: int, where: str) -> None:
        """Add ``n`` expanded bytes (of an entry, or read past the archive's end)."""
        self.written += n
        if self.cap.limit and self.written > self.cap.limit:
            raise self.cap.exceeded(where)

    def symlink(self, name: str, target: str) -> None:
        if not target or target.startswith("/"):
            raise illegal(f"illegal symlink target: {name} -> {target}")
        rel = self.clean(name)
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
        if _escapes(resolved):
            raise illegal(f"illegal symlink target: {name} -> {target}")
        rel, path, _ = self._claim(name, _LINK)
        self._mkdirs(path.parent)
        os.symlink(target, path)
        self._links[rel] = (resolved, target)

    def hardlink(self, name: str, target: str) -> None:
        try:
            target_rel = self.clean(target)
        except ArtifactError:
            raise illegal(f"illegal hard link target: {name} -> {target}") from None
        if self._kinds.get(target_rel) != _FILE or self._through_link(target_rel):
            raise illegal(f"illegal hard link target: {name} -> {target}")
        _, path, existed = self._claim(name, _FILE)
        self._mkdirs(path.parent)
        if existed:
            path.unlink()
        os.link(self.root / target_rel, path, follow_symlinks=False)

    def _through_link(self, rel: str) -> bool:
        parts = rel.split("/")
        return any(self._kinds.get("/".join(parts[:i])) == _LINK for i in range(1, len(parts)))

    # -- completion ---------------------------------------------------------------------------

    def finish(self, *, rename_rule: bool = True) -> None:
        """Apply directory modes and times, deepest first (children change a dir's mtime),
        then, if the §11.6 rename rule will make the only top-level entry the destination,
        check that no symlink points outside that entry. ``rename_rule=False``: the caller
        picks the entry that becomes the destination, and checks it (a ``subPath``).

        Owner rwx is kept on every directory so the tree stays removable by the executor.
        """
        for path, mode, mtime in reversed(self._dirs):
            os.chmod(path, (mode & 0o777) | 0o700)
            if mtime is not None:
                os.utime(path, (mtime, mtime))
        if not rename_rule:
            return
        tops = {rel.split("/", 1)[0] for rel in self._kinds if rel != "."}
        if len(tops) == 1:
            self.check_links_within(tops.pop())

    def check_links_within(self, top: str) -> None:
        """When the entry ``top`` becomes the destination, links below it (or itself) that
        resolve outside it — to the extraction root, a sibling, a parent — would point outside
        the destination: refuse them."""
        for rel, (resolved, target) in self._links.items():
            if not is_within(rel, top):
                continue  # not part of the destination
            if not is_within(resolved, top):
                raise illegal(f"illegal symlink target: {rel} -> {target}")
