"""Main's emissary copies outputs into the shared volume for the wait container (§2.5).

Parameters are byte copies; artifacts become a standard tar+gzip of the path (layout of §11.5:
a file is one entry named by its basename, a directory is ``<basename>/...``). Paths inside the
template's own volume mounts are skipped: the wait container reads those through /mainctrfs.
Stdlib only, so the compression is zlib level 1: fast, and the wait side re-archives anyway when
the artifact asks for another strategy.
"""

from __future__ import annotations

import os
from pathlib import Path

from argoexec.emissary.elog import Logger
from argoexec.emissary.template import volume_mount_paths
from argoexec.varrun import VarRun

# Not imported at run time: ``typing`` adds milliseconds to every container's start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from typing import Any

log = Logger("argoexec.emissary")
COPY_BUFFER = 1024 * 1024


def _inside(path: str, mounts: list[str]) -> bool:
    p = os.path.normpath(path)
    return any(p == m.rstrip("/") or p.startswith(m.rstrip("/") + "/") for m in mounts)


def copy_outputs(template: dict[str, Any], varrun: VarRun) -> list[str]:
    """Copy every output parameter file and archive every output artifact; the errors."""
    outputs = template.get("outputs") or {}
    mounts = volume_mount_paths(template)
    errors: list[str] = []
    for param in outputs.get("parameters") or []:
        path = ((param.get("valueFrom") or {}).get("path")) or ""
        if path and not _inside(path, mounts):
            _try(errors, f"parameter {param.get('name')!r}", _copy_parameter, path, varrun)
    for art in outputs.get("artifacts") or []:
        path = art.get("path") or ""
        if path and not _inside(path, mounts):
            _try(errors, f"artifact {art.get('name')!r}", _archive_artifact, path, varrun)
    return errors


def _try(errors: list[str], what: str, fn: Any, path: str, varrun: VarRun) -> None:
    try:
        fn(path, varrun)
    except OSError as exc:
        errors.append(f"failed to copy output {what} from {path}: {exc}")


def _copy_parameter(path: str, varrun: VarRun) -> None:
    if not os.path.exists(path):
        log.warning(
            "cannot save parameter %s: no such file; the wait side applies its default", path
        )
        return
    import shutil  # imported on use: most containers have no outputs, and start time counts

    target = varrun.output_parameter(path)
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    shutil.copyfile(path, target)


def _archive_artifact(path: str, varrun: VarRun) -> None:
    import gzip
    import tarfile

    source = Path(path)
    if not source.exists() and not source.is_symlink():
        log.warning("cannot save artifact %s: no such file or directory", path)
        return
    target = varrun.output_artifact(path)
    target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with (
        partial.open("wb") as raw,
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
