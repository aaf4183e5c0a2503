"""``argoexec init``: prepare the pod before user containers start (argo-contract.md §3).

Order: install the in-container emissary at ``/var/run/argo/argoexec``, write the template to
``/var/run/argo/template``, stage the script or manifest, then load every input artifact. The first
error stops init (Argo's behaviour): a half-prepared pod must not run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

from argoexec.errors import ExecutorError
from argoexec.executor.paths import PodPaths
from argoexec.executor.staging import install_emissary, write_file, write_template_text
from argoexec.models import Artifact, Template
from artifacts.driver import DriverContext
from artifacts.errors import ArtifactError, ErrorCode

log = logging.getLogger("argoexec.init")


def run_init(
    template: Template, *, paths: PodPaths, ctx: DriverContext, emissary: Path | None
) -> list[str]:
    """Prepare the pod; the names of the input artifacts actually loaded."""
    os.umask(0)  # files in shared volumes must be usable by containers running as other users
    install_emissary(emissary, paths.varrun.executable)
    write_template(template, paths.varrun.template)
    stage_files(template, paths)
    return load_inputs(template, paths, ctx)


def write_template(template: Template, target: Path) -> None:
    write_template_text(json.dumps(template.to_wire()), target)


def stage_files(template: Template, paths: PodPaths) -> None:
    """Script source → ``/argo/staging/script`` (0755); manifest → ``/tmp/manifest.yaml``."""
    try:
        if template.script is not None and template.script.source:
            write_file(paths.staging_script, template.script.source, 0o755)
        resource = template.resource
        if resource is not None and not (
            resource.manifest_from and resource.manifest_from.artifact
        ):
            write_file(paths.manifest, resource.manifest or "", 0o644)
    except OSError as exc:
        raise ExecutorError(f"failed to stage files: {exc}") from exc


def load_inputs(template: Template, paths: PodPaths, ctx: DriverContext) -> list[str]:
    artifacts = template.inputs.artifacts if template.inputs and template.inputs.artifacts else []
    mounts = template.volume_mount_paths()
    loaded = []
    for art in artifacts:
        if _load_one(art, template, paths, ctx, mounts):
            loaded.append(art.name)
    return loaded


def _load_one(
    art: Artifact, template: Template, paths: PodPaths, ctx: DriverContext, mounts: list[str]
) -> bool:
    # Imported on use: the transfer layer and its YAML/archive dependencies cost a pod without
    # input artifacts (most pods) ~20 ms of init's start.
    from artifacts.locations import has_key, has_location, relocate
    from artifacts.transfer import clean_path, load_artifact

    if not has_location(art) and not has_key(art):
        if art.optional:
            log.info(
                "Ignoring optional artifact which was not supplied", extra={"artifact": art.name}
            )
            return False
        raise ArtifactError(
            f"required artifact '{art.name}' not supplied", code=ErrorCode.NOT_FOUND
        )
    path = clean_path(art.name, art.path or "")
    try:
        located = relocate(art, template.archive_location)
    except ArtifactError as exc:
        raise ExecutorError(f"failed to load artifact '{art.name}': {exc.message}") from exc
    if _inside_any(path, mounts):
        target = paths.mirror(path)
    else:
        target = paths.inputs / art.name
        _drop_placeholder(target)
    target.parent.mkdir(mode=0o777, parents=True, exist_ok=True)
    return load_artifact(located, target, ctx) is not None


def _drop_placeholder(target: Path) -> None:
    """Remove an empty directory where the artifact goes: the mount point a runtime made for
    main's ``subPath`` mount of the artifact before the pod started (podman's ``kube play``
    needs every mount's source to exist when it creates the containers; the kubelet makes it
    only when main starts, after init). A file artifact could not be moved onto it."""
    with contextlib.suppress(OSError):  # absent, not empty, not a directory: left as it is
        if target.is_dir() and not target.is_symlink():
            target.rmdir()


def _inside_any(path: str, mounts: list[str]) -> bool:
    return any(path == m.rstrip("/") or path.startswith(m.rstrip("/") + "/") for m in mounts)
