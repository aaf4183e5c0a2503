"""Key cleaning, local path rules and the bounded worker pool of the GCS driver."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from argoexec.lifecycle import Stop
from artifacts.errors import ArtifactError, ErrorCode

T = TypeVar("T")
R = TypeVar("R")


def clean_key(key: str) -> str:
    """Argo's ``filepath.Clean`` of the key: duplicate and trailing ``/`` and ``.`` segments
    removed. An empty key and ``/`` both mean the bucket root (``""``). Backslashes are kept
    (Argo converts them on Windows only, §16.13)."""
    if not key:
        return ""
    cleaned = posixpath.normpath(key)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return "" if cleaned in {".", "/"} else cleaned


def run_bounded(items: Sequence[T], fn: Callable[[T], R], workers: int, stop: Stop) -> list[R]:
    """``fn`` over ``items`` on at most ``workers`` threads; the first failure cancels the rest."""
    if not items:
        return []

    def guarded(item: T) -> R:
        if stop.is_set():
            raise ArtifactError(f"stopped: {stop.reason}", code=ErrorCode.INTERNAL)
        return fn(item)

    count = max(1, min(workers, len(items)))
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="gcs") as pool:
        futures = [pool.submit(guarded, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def safe_destination(root: Path, rel: str, name: str) -> Path:
    """``root/rel`` for an object name, refusing names that would land outside ``root``."""
    normal = posixpath.normpath(rel) if rel else ""
    if not normal or normal == "." or normal.startswith(("../", "/")) or normal == "..":
        raise ArtifactError(
            f"illegal object name {name!r}: it would be written outside the destination",
            code=ErrorCode.BAD_REQUEST,
        )
    return root.joinpath(*normal.split("/"))


def regular_files(root: Path) -> list[tuple[str, Path]]:
    """(posix relative path, path) of every regular file under ``root``; symlinks are skipped
    (as Argo's S3 driver does) and never followed."""
    found: list[tuple[str, Path]] = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for filename in filenames:
            file = Path(dirpath) / filename
            if file.is_file() and not file.is_symlink():
                found.append((file.relative_to(root).as_posix(), file))
    return sorted(found)
