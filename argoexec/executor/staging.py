"""What `init` does that needs no models: read the template, install the emissary, write files.

A pod with no input artifacts (most pods) is prepared entirely here, with the standard library:
`plain_init` never imports pydantic or the artifact layer, which are most of a Python executor's
start-up. Everything else goes through `argoexec.executor.init`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import argoexec
from argoexec.contract import OFFLOADED
from argoexec.emissary.launcher import launcher_script
from argoexec.errors import ExecutorError
from argoexec.executor.paths import PodPaths


def read_template_text(env_template: str | None, paths: PodPaths) -> str:
    """``ARGO_TEMPLATE`` (resolving the offload sentinel), else ``/var/run/argo/template``."""
    try:
        if env_template == OFFLOADED:
            return paths.offloaded_template.read_text(encoding="utf-8")
        if env_template:
            return env_template
        return paths.varrun.template.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExecutorError(f"failed to read the template: {exc}") from exc


def install_emissary(source: Path | None, target: Path) -> None:
    """Copy the emissary executable (mode 0555), or write a launcher for this Python's argoexec.

    The launcher serves runtimes whose containers share this machine's filesystem (the local
    runtime); images without Python need ``source`` to be a frozen, self-contained emissary.
    """
    target.parent.mkdir(mode=0o777, parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    if source is not None:
        import shutil  # only when a file is given; writing the launcher needs nothing

        try:
            shutil.copyfile(source, partial)
        except OSError as exc:
            raise ExecutorError(f"failed to copy the emissary from {source}: {exc}") from exc
    else:
        root = os.path.dirname(os.path.dirname(os.path.abspath(argoexec.__file__)))
        partial.write_text(launcher_script([sys.executable], root), encoding="utf-8")
    os.chmod(partial, 0o555)
    os.replace(partial, target)


def write_file(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)


def write_template_text(text: str, target: Path) -> None:
    """``/var/run/argo/template`` (read-only, replaced atomically), which the emissary reads."""
    target.parent.mkdir(mode=0o777, parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.chmod(partial, 0o444)
    os.replace(partial, target)


def plain_init(template_text: str, paths: PodPaths, emissary: Path | None) -> bool:
    """Prepare a pod that loads no input artifacts; False (nothing done) for any other pod, or
    a template this cannot judge, which the full path then handles (and reports)."""
    try:
        doc: Any = json.loads(template_text)
    except ValueError:
        return False
    if not isinstance(doc, dict) or not _plain(doc):
        return False
    os.umask(0)  # files in shared volumes must be usable by containers running as other users
    install_emissary(emissary, paths.varrun.executable)
    write_template_text(template_text, paths.varrun.template)
    try:
        script = doc.get("script") or {}
        if script.get("source"):
            write_file(paths.staging_script, str(script["source"]), 0o755)
        resource = doc.get("resource")
        if resource is not None:
            write_file(paths.manifest, str(resource.get("manifest") or ""), 0o644)
    except OSError as exc:
        raise ExecutorError(f"failed to stage files: {exc}") from exc
    return True


def _plain(doc: dict[str, Any]) -> bool:
    inputs = doc.get("inputs") or {}
    if not isinstance(inputs, dict) or inputs.get("artifacts"):
        return False
    script, resource = doc.get("script"), doc.get("resource")
    if script is not None and not isinstance(script, dict):
        return False
    return resource is None or (isinstance(resource, dict) and not resource.get("manifestFrom"))
