"""The small part of kustomize ``manifests/`` uses, to build it in tests as ``kubectl apply -k``.

Supported (and nothing else — any other kustomization field, resource form or kind is refused
with :class:`KustomizeError`, so a test fails the day the manifests need more):

* ``apiVersion: kustomize.config.k8s.io/v1beta1``, ``kind: Kustomization``;
* ``resources``: relative paths to YAML files (one or more documents; the files must lie in or
  below the kustomization's directory, kustomize's default load restriction) or to directories
  holding their own ``kustomization.yaml`` (built first, then this level's transformations apply
  on top, as kustomize does for bases). Two objects with the same kind/namespace/name are refused;
* ``namespace``: set on every namespaced object (cluster-scoped ones are left alone), and on
  RoleBinding/ClusterRoleBinding subjects named ``default`` (kustomize's default
  ``setRoleBindingSubjects: defaultOnly``);
* ``images``: ``name`` with ``newName``/``newTag``/``digest`` rewrites the ``image`` of
  containers and initContainers in a Pod or a Deployment's pod template whose image name (without
  tag or digest) is ``name``; a digest replaces the tag; neither keeps the old one.

The result is in kustomize's legacy order (by kind: Namespace first, CRDs and RBAC before the
workloads; then by namespace and name), the order ``kubectl apply -k`` sends them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZATION_FILE = "kustomization.yaml"
_KEYS = {"apiVersion", "kind", "resources", "namespace", "images"}
_IMAGE_KEYS = {"name", "newName", "newTag", "digest"}
# kind -> (namespaced, apply rank from kustomize's legacy order). A kind missing here is refused:
# its scope decides what `namespace:` does to it.
KINDS: dict[str, tuple[bool, int]] = {
    "Namespace": (False, 0),
    "CustomResourceDefinition": (False, 1),
    "ServiceAccount": (True, 2),
    "Role": (True, 3),
    "ClusterRole": (False, 4),
    "RoleBinding": (True, 5),
    "ClusterRoleBinding": (False, 6),
    "ConfigMap": (True, 7),
    "Secret": (True, 8),
    "Service": (True, 9),
    "Deployment": (True, 10),
}
_POD_SPEC_PATHS = {"Pod": ("spec",), "Deployment": ("spec", "template", "spec")}


class KustomizeError(ValueError):
    """A kustomization this subset cannot build (or kustomize itself would refuse)."""


def build(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kubectl apply -k directory`` would send, in its order."""
    objects = _build(directory.resolve(), trail=())
    return sorted(objects, key=lambda obj: (KINDS[obj["kind"]][1], _identity(obj)))


def _build(directory: Path, trail: tuple[Path, ...]) -> list[dict[str, Any]]:
    if directory in trail:
        raise KustomizeError(f"{directory}: kustomization cycle through {trail}")
    path = directory / KUSTOMIZATION_FILE
    if not path.is_file():
        raise KustomizeError(f"{directory}: no {KUSTOMIZATION_FILE} (only that name is supported)")
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise KustomizeError(f"{path}: fields outside the supported subset: {unknown}")
    if doc.get("kind", "Kustomization") != "Kustomization":
        raise KustomizeError(f"{path}: kind {doc.get('kind')!r} is not Kustomization")
    objects: list[dict[str, Any]] = []
    for entry in doc.get("resources") or []:
        objects += _resource(directory, str(entry), (*trail, directory))
    _check_unique(objects, path)
    if doc.get("namespace"):
        for obj in objects:
            _set_namespace(obj, str(doc["namespace"]))
    for image in doc.get("images") or []:
        _check_image_entry(image, path)
        for obj in objects:
            _set_image(obj, image)
    return objects


def _resource(directory: Path, entry: str, trail: tuple[Path, ...]) -> list[dict[str, Any]]:
    where = f"{directory / KUSTOMIZATION_FILE}: resource {entry!r}"
    if "://" in entry or entry.startswith(("github.com/", "git@")):
        raise KustomizeError(f"{where}: remote resources are not supported")
    target = (directory / entry).resolve()
    if target.is_dir():
        return _build(target, trail)
    if not target.is_file():
        raise KustomizeError(f"{where}: no such file or directory")
    if directory not in target.parents:
        raise KustomizeError(f"{where}: a file outside the kustomization's directory")
    return list(_documents(target))


def _documents(path: Path) -> Iterator[dict[str, Any]]:
    for index, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
        if doc is None:
            continue
        where = f"{path} document {index}"
        if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
            raise KustomizeError(f"{where}: not a Kubernetes object (apiVersion, kind)")
        if doc["kind"] not in KINDS:
            raise KustomizeError(f"{where}: kind {doc['kind']} is not in the supported subset")
        if not (doc.get("metadata") or {}).get("name"):
            raise KustomizeError(f"{where}: no metadata.name")
        yield doc


def _identity(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta["name"])


def _check_unique(objects: list[dict[str, Any]], path: Path) -> None:
    seen: set[tuple[str, str, str, str]] = set()
    for obj in objects:
        identity = _identity(obj)
        if identity in seen:
            raise KustomizeError(f"{path}: may not add resource with an already registered id")
        seen.add(identity)


def _set_namespace(obj: dict[str, Any], namespace: str) -> None:
    namespaced, _ = KINDS[obj["kind"]]
    if namespaced:
        obj["metadata"]["namespace"] = namespace
    if obj["kind"] in ("RoleBinding", "ClusterRoleBinding"):
        for subject in obj.get("subjects") or []:
            if subject.get("name") == "default":
                subject["namespace"] = namespace


def _check_image_entry(image: Any, path: Path) -> None:
    if not isinstance(image, dict) or not image.get("name"):
        raise KustomizeError(f"{path}: images entry without a name: {image!r}")
    unknown = sorted(set(image) - _IMAGE_KEYS)
    if unknown:
        raise KustomizeError(f"{path}: images fields outside the supported subset: {unknown}")


def image_name(image: str) -> tuple[str, str, str]:
    """(name, tag, digest) of an image reference (a ``:`` after the last ``/`` is the tag)."""
    name, _, digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :], digest
    return name, "", digest


def _set_image(obj: dict[str, Any], image: dict[str, str]) -> None:
    path = _POD_SPEC_PATHS.get(obj["kind"])
    if path is None:
        return
    spec: Any = obj
    for key in path:
        spec = (spec or {}).get(key)
    for container in [*(spec or {}).get("containers", []), *(spec or {}).get("initContainers", [])]:
        name, tag, digest = image_name(str(container.get("image", "")))
        if name != image["name"]:
            continue
        new = str(image.get("newName") or name)
        if image.get("digest"):
            container["image"] = f"{new}@{image['digest']}"
        elif image.get("newTag"):
            container["image"] = f"{new}:{image['newTag']}"
        else:
            container["image"] = new + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
