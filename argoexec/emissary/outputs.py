"""Main's emissary copies outputs into the shared volume for the wait container (§2.5).

Parameters are byte copies; artifacts become a standard tar+gzip of the path (layout of §11.5:
a file is one entry named by its basename, a directory is ``<basename>/...``). Paths inside the
template's own volume mounts are skipped: the wait container reads those through /mainctrfs.
Stdlib only, so the compression is zlib level 1: fast, and the wait side re-archives anyway when
the artifact asks for another strategy.

A parameter copy needs only ``os`` (``shutil`` would cost a container with output parameters
milliseconds of imports); an artifact imports ``tarfile``, ``gzip`` and ``pathlib`` on use.
"""

from __future__ import annotations

import os
import stat

from argoexec.emissary.elog import Logger
from argoexec.emissary.paths import Layout
from argoexec.emissary.template import volume_mount_paths

# Not imported at run time: ``typing`` adds milliseconds to every container's start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from pathlib import Path
    from typing import Any

    from argoexec.varrun import VarRun

log = Logger("argoexec.emissary")
COPY_BUFFER = 1024 * 1024


def _inside(path: str, mounts: list[str]) -> bool:
    p = os.path.normpath(path)
    return any(p == m.rstrip("/") or p.startswith(m.rstrip("/") + "/") for m in mounts)


def copy_outputs(template: dict[str, Any], varrun: Layout | VarRun) -> list[str]:
    """Copy every output parameter file and archive every output artifact; the errors.
    ``varrun`` is the emissary's :class:`Layout` or, from the executor's tests, a ``VarRun``."""
    layout = varrun if isinstance(varrun, Layout) else Layout(str(varrun.root))
    outputs = template.get("outputs") or {}
    mounts = volume_mount_paths(template)
    errors: list[str] = []
    for param in outputs.get("parameters") or []:
        path = ((param.get("valueFrom") or {}).get("path")) or ""
        if path and not _inside(path, mounts):
            _try(errors, f"parameter {param.get('name')!r}", _copy_parameter, path, layout)
    for art in outputs.get("artifacts") or []:
        path = art.get("path") or ""
        if path and not _inside(path, mounts):
            _try(errors, f"artifact {art.get('name')!r}", _archive_artifact, path, layout)
    return errors


def _try(errors: list[str], what: str, fn: Any, path: str, layout: Layout) -> None:
    try:
        fn(path, layout)
    except OSError as exc:
        errors.append(f"failed to copy output {what} from {path}: {exc}")


def _make_parent(target: str) -> None:
    """``mkdir -p`` (0755) of the directory holding ``target``."""
    os.makedirs(os.path.dirname(target.rstrip("/")), 0o755, exist_ok=True)


def _copy_parameter(path: str, layout: Layout) -> None:
    if not os.path.exists(path):
        log.warning(
            "cannot save parameter %s: no such file; the wait side applies its default", path
        )
        return
    target = layout.output_parameter(path)
    _make_parent(target)
    copy_file(path, target)


def copy_file(source: str, target: str) -> None:
    """``shutil.copyfile``: the bytes of ``source`` into ``target`` (created 0666 less the
    umask, or truncated), by ``sendfile`` where the kernel can; refuses named pipes."""
    for name in (source, target):
        try:
            mode = os.stat(name).st_mode
        except OSError:
            continue
        if stat.S_ISFIFO(mode):
            raise OSError(f"`{name}` is a named pipe")
    # Unbuffered file objects: open() refuses a directory as shutil's does (IsADirectoryError).
    with open(source, "rb", buffering=0) as src, open(target, "wb", buffering=0) as dst:
        try:
            while os.sendfile(dst.fileno(), src.fileno(), None, COPY_BUFFER):
                pass
            return
        except OSError:
            pass  # a file system without sendfile: copy the rest by reads and writes
        while chunk := src.read(COPY_BUFFER):
            view = memoryview(chunk)
            while view:
                view = view[dst.write(view) :]


def _archive_artifact(path: str, layout: Layout) -> None:
    import gzip
    import tarfile
    from pathlib import Path

    source = Path(path)
    if not source.exists() and not source.is_symlink():
        log.warning("cannot save artifact %s: no such file or directory", path)
        return
    target = layout.output_artifact(path)
    _make_parent(target)
    partial = f"{target}.partial"
    with (
        open(partial, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        tar.copybufsize = COPY_BUFFER  # type: ignore[attr-defined]
        _add_tree(tar, source, source.name or os.path.basename(path.rstrip("/")))
    os.replace(partial, target)


def _add_tree(tar: tarfile.TarFile, source: Path, arcname: str) -> None:
    """Entries in sorted walk order: the root, then each descendant; symlinks stay links."""
    tar.add(source, arcname=arcname, recursive=False)
    if source.is_dir() and not source.is_symlink():
        for child in sorted(source.iterdir(), key=lambda p: p.name):
            _add_tree(tar, child, f"{arcname}/{child.name}")
