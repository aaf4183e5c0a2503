"""One file or directory (an artifact's ``subPath``) out of a stored tar.gz or zip.

Argo cannot do this: it appends the subPath to the key, which names nothing inside an archive.
Here the archive is read once, as a stream for tar.gz (a zip is spooled first: it needs its
central directory), and only the entries at or below the subPath are written, through the same
:class:`artifacts.archive_safety.ExtractionRoot` rules as a whole archive (no escaping names or
links, bounded size). Every entry's name is still checked.

Which entries: a subPath is relative to the artifact as the §11.6 rename rule would place it. An
archive with one top-level entry (every archive Argo or we make: ``out/...``) *is* that entry, so
``a.txt`` means ``out/a.txt``; an archive of several top-level entries is its root, so ``a.txt``
means ``a.txt``. Which case holds is known only at the end of a stream, so entries are kept for
both readings and the right one is picked afterwards (an entry can be written for both).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from artifacts.archive import Strategy, remove_path, sniff
from artifacts.archive_safety import ExtractionRoot, SizeCap
from artifacts.archive_unpack import extract_tgz, extract_zip
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.settings import MIB
from artifacts.subpath import is_within

_SHOWN = 12  # top-level names listed when the subPath is not there


class SubPathPick:
    """The ``MemberFilter`` of a subPath: keeps the entries of both readings, then checks the
    one the archive turns out to be (see the module docstring)."""

    def __init__(self, sub: str) -> None:
        self.sub = sub
        self.chosen = ""
        self._tops: set[str] = set()
        self._children: dict[str, set[str]] = {}

    def wants(self, rel: str) -> bool:
        if rel == ".":
            return False
        top, _, rest = rel.partition("/")
        self._tops.add(top)
        if rest:
            seen = self._children.setdefault(top, set())
            if len(seen) <= _SHOWN:
                seen.add(rest.split("/", 1)[0])
        return is_within(rel, self.sub) or (bool(rest) and is_within(rest, self.sub))

    def done(self, target: ExtractionRoot) -> None:
        if len(self._tops) == 1:
            top = next(iter(self._tops))
            self.chosen, level = f"{top}/{self.sub}", self._children.get(top, set())
        else:
            self.chosen, level = self.sub, self._tops
        if not os.path.lexists(target.root / self.chosen):
            raise ArtifactError(
                f"subPath {self.sub!r} not found in the archive{_listing(level)}",
                code=ErrorCode.NOT_FOUND,
            )
        try:
            target.check_links_within(self.chosen)
        except ArtifactError as exc:
            inside = f" (a link in subPath {self.sub!r} must stay inside it)"
            raise ArtifactError(exc.message + inside, code=exc.code) from None


def _listing(names: set[str]) -> str:
    if not names:
        return " (it is empty, or a single file)"
    shown = sorted(names)[:_SHOWN]
    more = ", ..." if len(names) > _SHOWN else ""
    return f" (its top level has: {', '.join(shown)}{more})"


def select_to_staging(
    stream: BinaryIO,
    staging: Path,
    sub: str,
    *,
    fmt: Strategy | None,
    spool: Path,
    limit: int | None = None,
) -> tuple[Strategy, str] | None:
    """Extract ``sub`` from the archive read from ``stream`` into the new directory
    ``staging``: what was read (``tar``/``zip``) and the path of the pick inside ``staging``.
    None when ``fmt`` is unset (auto-detect) and the stream is not a tar.gz: the object is not
    an archive, nothing is written. On failure ``staging`` and ``spool`` are removed.
    ``limit`` is the size cap, as for :func:`artifacts.archive.unpack_to_staging`."""
    staging.mkdir()
    try:
        cap = SizeCap.resolve(limit, staging)
        found = _select(stream, staging, sub, fmt=fmt, spool=spool, cap=cap)
    except BaseException:
        remove_path(staging)
        raise
    if found is None:
        remove_path(staging)
    return found


def _select(
    stream: BinaryIO, staging: Path, sub: str, *, fmt: Strategy | None, spool: Path, cap: SizeCap
) -> tuple[Strategy, str] | None:
    pick = SubPathPick(sub)
    if fmt == "zip":
        try:
            with spool.open("xb") as out:
                while chunk := stream.read(MIB):
                    out.write(chunk)
            extract_zip(spool, staging, cap=cap, keep=pick)
        finally:
            remove_path(spool)
        return "zip", pick.chosen
    is_tarball, replay = sniff(stream)
    if not is_tarball:
        if fmt == "tar":
            raise ArtifactError(
                "not a gzip-compressed tarball (archive: tar requested)", code=ErrorCode.INTEGRITY
            )
        return None
    extract_tgz(replay, staging, cap=cap, keep=pick)
    return "tar", pick.chosen
