"""The manifest a ``resource`` step acts on (argo-contract.md §6 steps 3, 5 and 6).

The manifest is ``/tmp/manifest.yaml`` (written from ``resource.manifest``), or the file of the
input artifact named by ``resource.manifestFrom.artifact``. It is YAML (JSON is YAML) and may hold
several documents separated by ``---``; empty documents are skipped and a ``kind: List`` expands
to its ``items``, as kubectl does. A ``json`` patch manifest is a list of operations instead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from argoexec import contract as c
from argoexec import safeyaml
from argoexec.errors import ExecutorError
from argoexec.executor.paths import PodPaths
from argoexec.models import Template


@dataclass
class Manifest:
    path: Path
    text: str
    # The parsed documents: objects (dicts) or, for a JSON patch, one list of operations.
    documents: list[Any] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.text.strip()

    @property
    def objects(self) -> list[dict[str, Any]]:
        return [d for d in self.documents if isinstance(d, dict)]


def manifest_path(template: Template, paths: PodPaths) -> Path:
    """``/tmp/manifest.yaml``, or the path of the ``manifestFrom`` input artifact.

    Argo silently falls back to ``/tmp/manifest.yaml`` when no input artifact has the named
    artifact's name; we fail instead, naming the artifact, since that file would be empty.
    """
    resource = template.resource
    source = resource.manifest_from.artifact if resource and resource.manifest_from else None
    if source is None:
        return paths.manifest
    inputs = template.inputs.artifacts if template.inputs and template.inputs.artifacts else []
    for art in inputs:
        if art.name == source.name and art.path:
            return Path(art.path)
    raise ExecutorError(
        f"manifestFrom artifact '{source.name}' is not an input artifact with a path "
        "of this template"
    )


def read_manifest(path: Path) -> Manifest:
    """Read and parse the manifest; a read error or invalid YAML is an ``ExecutorError``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExecutorError(f"failed to read the manifest: {exc}") from exc
    try:
        docs = [d for d in safeyaml.load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ExecutorError(f"the manifest {path} is not valid YAML: {exc}") from exc
    expanded: list[Any] = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List" and "items" in doc:
            expanded += [item for item in doc.get("items") or [] if item is not None]
        elif isinstance(doc, dict | list):
            expanded.append(doc)
        else:
            raise ExecutorError(f"the manifest {path} holds a {type(doc).__name__}, not an object")
    return Manifest(path=path, text=text, documents=expanded)


def owner_reference(workflow_name: str, workflow_uid: str) -> dict[str, Any]:
    """The controller reference to the workflow that ``setOwnerReference`` adds."""
    if not workflow_name or not workflow_uid:
        raise ExecutorError(
            "setOwnerReference needs the workflow's name and UID "
            f"({c.ENV_WORKFLOW_NAME} and {c.ENV_WORKFLOW_UID} are not both set)"
        )
    return {
        "apiVersion": c.API_VERSION,
        "kind": "Workflow",
        "name": workflow_name,
        "uid": workflow_uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def with_owner_reference(obj: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    """``obj`` owned by ``owner``. The controller may already have added the same reference to
    the delivered manifest; it is not added twice."""
    out = copy.deepcopy(obj)
    meta = out.setdefault("metadata", {})
    refs = [r for r in meta.get("ownerReferences") or [] if isinstance(r, dict)]
    if not any(r.get("uid") == owner["uid"] for r in refs):
        refs.append(dict(owner))
    meta["ownerReferences"] = refs
    return out


def stage_manifest(template: Template, paths: PodPaths) -> None:
    """Write ``resource.manifest`` to ``/tmp/manifest.yaml`` unless ``manifestFrom`` is set."""
    resource = template.resource
    if resource is None or (resource.manifest_from and resource.manifest_from.artifact):
        return
    try:
        paths.manifest.parent.mkdir(parents=True, exist_ok=True)
        paths.manifest.write_text(resource.manifest or "", encoding="utf-8")
    except OSError as exc:
        raise ExecutorError(f"failed to stage the manifest: {exc}") from exc
