"""Saving and loading whole artifacts: archive strategy + driver + retries + digests + logging.

This is what the executor calls. It is the *one* owner of whole-operation retries: each attempt
re-packs from the source or restarts the download into a clean ``<dest>.tmpdir``, and only
errors marked transient (or matching ``TRANSIENT_ERROR_PATTERN``) are retried. Every operation
logs exactly one line on ``argoexec.artifacts`` (``Save artifact`` / ``Load artifact``, with
``artifact``, ``kind``, ``location``, ``bytes``, ``duration``, ``outcome`` and ``error`` in
``extra``); individual retries are logged at DEBUG only.

Progress: bytes read from a download stream are reported to ``ctx.progress`` here; uploads and
directory downloads report through the driver, which sees the bytes itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from argoexec.models import Artifact
from argoexec.retry import RetriesExhaustedError, retry_call
from artifacts.archive import (
    apply_mode,
    commit,
    commit_selected,
    load_format,
    open_pack_stream,
    remove_path,
    unpack_to_staging,
)
from artifacts.driver import ArtifactDriver, DriverContext, SaveResult
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.operation import Operation
from artifacts.settings import MIB
from artifacts.strategy import archive_strategy
from artifacts.streams import HashingReader, sha256_file, tree_digest
from artifacts.subpath import sub_path_problem

log = logging.getLogger("argoexec.artifacts")
T = TypeVar("T")


@dataclass(frozen=True)
class LoadResult:
    """Where a loaded artifact now is, the size and SHA-256 of the bytes as stored (``sha256``
    is None for ``archive: none`` — a plain object or a directory loaded object by object — unless
    a digest was asked for: the driver writes those itself, not through a stream), and what
    was done with them: ``tar``/``zip`` (unpacked), ``none`` (placed as-is) or ``directory``."""

    path: Path
    size: int
    sha256: str | None
    unpacked: str


def clean_path(name: str, path: str) -> str:
    """Argo's ``CleanPath`` (§11.7): reject an empty path and ``..`` that leaves the directory
    before the first ``/../`` (or trailing ``/..``); otherwise the normalised path."""
    if not path:
        raise ArtifactError(f"Artifact '{name}' did not specify a path", code=ErrorCode.BAD_REQUEST)
    safe_dir = None
    if "/../" in path:
        safe_dir = path[: path.index("/../")]
    elif path.endswith("/.."):
        safe_dir = path[: -len("/..")]
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if safe_dir is not None:
        base = posixpath.normpath(safe_dir) if safe_dir else "."
        inside = cleaned.startswith(base.rstrip("/") + "/") and cleaned != base
        if not inside:
            raise ArtifactError(
                f"Artifact '{name}' attempted to use a path containing '..'. "
                "Directory traversal is not permitted",
                code=ErrorCode.BAD_REQUEST,
            )
    return cleaned


def save_artifact(
    artifact: Artifact,
    source: Path,
    ctx: DriverContext,
    *,
    driver: ArtifactDriver | None = None,
) -> SaveResult | None:
    """Upload ``source`` with the artifact's archive strategy (tar by default, §4.5.2).

    A missing source is skipped (None) for an optional artifact and ``ERR_NOT_FOUND`` otherwise.
    """
    op = Operation("Save", artifact, ctx, driver)
    with op:
        source = Path(_clean(artifact, source))
        if not source.exists():
            if artifact.optional:
                op.outcome = "skipped"
                return None
            shown = artifact.path or str(source)
            raise ArtifactError(f"{shown} no such file or directory", code=ErrorCode.NOT_FOUND)
        drv = op.bind()
        result = _with_retries(ctx, op, lambda: _save_once(artifact, source, ctx, drv))
        op.bytes = result.size
        return result


def list_objects(
    artifact: Artifact, ctx: DriverContext, *, driver: ArtifactDriver | None = None
) -> list[str]:
    """The keys under the artifact's key, with the same retries and log line as a load."""
    op = Operation("List", artifact, ctx, driver)
    with op:
        drv = op.bind()
        keys = _with_retries(ctx, op, lambda: drv.list_objects(artifact))
        return keys


def delete_artifact(
    artifact: Artifact, ctx: DriverContext, *, driver: ArtifactDriver | None = None
) -> None:
    """Delete the artifact (artifact GC, ``argoexec artifact rm``), retrying transient errors."""
    op = Operation("Delete", artifact, ctx, driver)
    with op:
        drv = op.bind()
        _with_retries(ctx, op, lambda: drv.delete(artifact))


def _save_once(
    artifact: Artifact, source: Path, ctx: DriverContext, drv: ArtifactDriver
) -> SaveResult:
    try:
        if archive_strategy(artifact) == "none":
            return drv.save(source, artifact)
        with open_pack_stream(source, artifact, ctx.settings, stop=ctx.stop) as stream:
            result = drv.save_stream(stream, artifact)
        return result
    except OSError as exc:
        raise ArtifactError(f"reading {source} failed: {exc}", code=ErrorCode.INTERNAL) from exc


def load_artifact(
    artifact: Artifact,
    dest: Path,
    ctx: DriverContext,
    *,
    driver: ArtifactDriver | None = None,
    expected_sha256: str | None = None,
) -> LoadResult | None:
    """Download the artifact to ``dest``, unpacking per §11.6, then apply ``mode``.

    With a ``subPath`` only that file or directory of the artifact is placed (see
    :mod:`artifacts.subpath`). Nothing is left at ``dest`` on failure. An optional artifact that
    was not supplied or whose key (or subPath) does not exist is skipped (None).
    ``expected_sha256`` is checked against the stored bytes read (or, for a directory, the tree
    digest of ``SaveResult``); a mismatch is ``ERR_INTEGRITY``.
    """
    op = Operation("Load", artifact, ctx, driver)
    with op:
        dest = Path(_clean(artifact, dest))
        if artifact.location_kind() is None:
            if artifact.optional:
                op.outcome = "skipped"
                return None
            raise ArtifactError(
                f"required artifact '{artifact.name}' not supplied", code=ErrorCode.NOT_FOUND
            )
        problem = sub_path_problem(artifact.sub_path) if artifact.sub_path else None
        if problem:
            message = f"subPath {artifact.sub_path!r} {problem}"
            raise ArtifactError(message, code=ErrorCode.BAD_REQUEST)
        drv = op.bind()
        try:
            result = _with_retries(
                ctx, op, lambda: _load_once(artifact, dest, ctx, drv, expected_sha256)
            )
        except ArtifactError as exc:
            if exc.code is ErrorCode.NOT_FOUND and artifact.optional:
                op.outcome, op.reason = "skipped", exc.message
                return None
            raise
        apply_mode(dest, artifact.mode, bool(artifact.recurse_mode))
        op.bytes = result.size
        return result


class _NoArchiveError(Exception):
    """The key holds no single archive object to take a subPath from."""


def _load_once(
    artifact: Artifact,
    dest: Path,
    ctx: DriverContext,
    drv: ArtifactDriver,
    expected: str | None,
) -> LoadResult:
    """One attempt. With a subPath: the pick from the archive stored at the key, or else (a
    directory stored object by object, a plain object) ``<key>/<subPath>``."""
    sub = artifact.sub_path
    if not sub and load_format(artifact) == "none":
        # Nothing to unpack: the driver writes the file itself (S3: parallel ranged GETs
        # written at their offsets) instead of one ordered stream through a hash.
        return _load_placed(artifact, dest, drv, expected)
    if not sub:
        return _load_object(artifact, dest, ctx, drv, expected, pick="")
    if load_format(artifact) != "none":
        try:
            return _load_object(artifact, dest, ctx, drv, expected, pick=sub)
        except _NoArchiveError:
            pass
    # Argo's AppendToKey: what was stored object by object (a directory with archive: none).
    # Imported here: the executor's start (every pod's wait) should not pay for it.
    from artifacts.locations import get_key, go_path_join, with_key

    inner = artifact.model_copy(update={"sub_path": None})
    try:
        inner = with_key(inner, go_path_join(get_key(inner), sub))
    except ArtifactError:
        kind = artifact.location_kind()
        message = f"subPath {sub!r}: the {kind} artifact is not an archive, and has no key to "
        raise ArtifactError(message + "append it to", code=ErrorCode.BAD_REQUEST) from None
    try:
        return _load_object(inner, dest, ctx, drv, expected, pick="")
    except ArtifactError as exc:
        if exc.code is not ErrorCode.NOT_FOUND:
            raise
        message = f"subPath {sub!r} not found in the artifact: {exc.message}"
        raise ArtifactError(message, code=ErrorCode.NOT_FOUND) from exc


def _load_object(
    artifact: Artifact,
    dest: Path,
    ctx: DriverContext,
    drv: ArtifactDriver,
    expected: str | None,
    *,
    pick: str,
) -> LoadResult:
    """The object at the key, unpacked by §11.6. With ``pick`` (a subPath) the object must be an
    archive, and only that path of it is placed (``_NoArchiveError`` when the key holds no
    archive object: a "directory", nothing, or a plain object when auto-detecting)."""
    staging = dest.with_name(dest.name + ".tmpdir")
    spool = dest.with_name(dest.name + ".tmp")
    with _placing(dest, staging, spool):
        try:
            stream = drv.open_stream(artifact)
        except ArtifactError as exc:
            if pick and exc.code in (ErrorCode.NOT_IMPLEMENTED, ErrorCode.NOT_FOUND):
                raise _NoArchiveError from exc
            if exc.code is not ErrorCode.NOT_IMPLEMENTED:
                raise
            return _load_directory(artifact, dest, staging, drv, expected)
        try:
            # readinto-capable: the gzip reader fills its buffer without an extra copy.
            reader = HashingReader(stream, _progress_or_stop(ctx))  # type: ignore[arg-type]
            fmt = load_format(artifact)
            limit = ctx.settings.max_extract_bytes
            stored: BinaryIO = reader  # type: ignore[assignment]
            if pick:
                from artifacts.archive_select import select_to_staging  # subPath loads only

                picked = select_to_staging(stored, staging, pick, fmt=fmt, spool=spool, limit=limit)
                if picked is None:
                    raise _NoArchiveError
                unpacked, chosen = picked
            else:
                unpacked = unpack_to_staging(
                    stored, staging, dest.name, fmt=fmt, spool=spool, limit=limit
                )
            while reader.read(MIB):  # the digest covers every stored byte, even past the archive
                pass
        finally:
            stream.close()
        _verify(expected, reader.hexdigest())
        if pick:
            commit_selected(staging, chosen, dest)
        else:
            commit(staging, dest)
        return LoadResult(dest, reader.size, reader.hexdigest(), unpacked)


def _progress_or_stop(ctx: DriverContext) -> Callable[[int], None]:
    """Per chunk read: report progress, and end the download once the stop token is set."""

    def on_bytes(n: int) -> None:
        if ctx.stop.is_set():
            raise ArtifactError(f"download stopped: {ctx.stop.reason}", code=ErrorCode.INTERNAL)
        if ctx.progress is not None:
            ctx.progress(n)

    return on_bytes


def _load_placed(
    artifact: Artifact, dest: Path, drv: ArtifactDriver, expected: str | None
) -> LoadResult:
    """``_load_directory`` on its own: staging is removed if the load fails."""
    staging = dest.with_name(dest.name + ".tmpdir")
    with _placing(dest, staging):
        return _load_directory(artifact, dest, staging, drv, expected)


@contextlib.contextmanager
def _placing(dest: Path, *scratch: Path) -> Iterator[None]:
    """A load into ``dest`` through ``scratch`` paths beside it: they start absent and are
    removed if the load fails, and a failure to write is an ``ArtifactError`` naming ``dest``."""
    try:
        for path in scratch:
            remove_path(path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        yield
    except BaseException as exc:
        for path in scratch:
            remove_path(path)
        if isinstance(exc, OSError):
            raise ArtifactError(f"writing {dest} failed: {exc}", code=ErrorCode.INTERNAL) from exc
        raise


def _load_directory(
    artifact: Artifact, dest: Path, staging: Path, drv: ArtifactDriver, expected: str | None
) -> LoadResult:
    """Stores that cannot stream a key (a "directory" prefix, a Git checkout), and anything with
    ``archive: none``, load into the staging directory; the §11.6 rename rule then places it."""
    staging.mkdir()
    target = staging / dest.name
    drv.load(artifact, target)
    size, digest = _tree_size_and_digest(target, want_digest=expected is not None)
    _verify(expected, digest)
    commit(staging, dest)
    return LoadResult(dest, size, digest, "directory" if dest.is_dir() else "none")


def _tree_size_and_digest(path: Path, *, want_digest: bool) -> tuple[int, str | None]:
    if path.is_file():
        if not want_digest:
            return path.stat().st_size, None
        return sha256_file(path)
    total, entries = 0, []
    for root, _, files in os.walk(path):
        for name in files:
            full = Path(root, name)
            if full.is_symlink() or not full.is_file():
                continue
            if want_digest:
                size, digest = sha256_file(full)
                entries.append((full.relative_to(path).as_posix(), digest))
            else:
                size = full.stat().st_size
            total += size
    return total, tree_digest(entries) if want_digest else None


def _verify(expected: str | None, actual: str | None) -> None:
    if expected is not None and expected.lower() != actual:
        raise ArtifactError(
            f"digest mismatch: expected sha256 {expected}, got {actual}", code=ErrorCode.INTEGRITY
        )


def _clean(artifact: Artifact, local: Path) -> str:
    if artifact.path is not None:
        clean_path(artifact.name, artifact.path)
    return clean_path(artifact.name, str(local))


def _with_retries(ctx: DriverContext, op: Operation, fn: Callable[[], T]) -> T:
    pattern = ctx.settings.transient_error_pattern
    matcher = re.compile(pattern) if pattern else None

    def is_transient(exc: BaseException) -> bool:
        if not isinstance(exc, ArtifactError):
            return False
        return exc.transient or (matcher is not None and matcher.search(str(exc)) is not None)

    def on_retry(attempt: int, exc: BaseException, delay: float) -> None:
        op.attempts = attempt + 1
        log.debug(
            "Retrying artifact %s after attempt %d (in %.1fs): %s", op.name, attempt, delay, exc
        )

    try:
        return retry_call(
            fn,
            is_transient=is_transient,
            backoff=ctx.settings.backoff,
            stop=ctx.stop,
            on_retry=on_retry,
        )
    except RetriesExhaustedError as exhausted:
        last = exhausted.last
        cause = last.message if isinstance(last, ArtifactError) else str(last)
        code = last.code if isinstance(last, ArtifactError) else ErrorCode.INTERNAL
        raise ArtifactError(
            f"retries exhausted after {exhausted.attempts} attempts: {cause}",
            code=code,
            transient=True,
        ) from last
