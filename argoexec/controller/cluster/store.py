"""Workflows on the API server: the loop's `WorkflowStore` seam.

A Workflow is named by its key, `<namespace>/<name>` (names are unique per namespace only).
Reads come from a watch-fed cache (`Informer`), as Argo's controller reads its informer; writes
go to the API server with optimistic concurrency: `update` is a PUT carrying the object's
resourceVersion, and a `409 Conflict` (someone wrote it meanwhile: `argoexec stop`, another
controller) is `ConflictError`. The cache may still hold the old object then, so the next `get`
of that Workflow reads it from the server (Argo's reapplyUpdate does the same).

Argo's Workflow CRD has no status subresource: status goes with the object in one PUT.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from argoexec import contract as c
from argoexec.controller.loop.clone import clone
from argoexec.controller.loop.seams import AlreadyExistsError, ConflictError, NotFoundError
from argoexec.kube.client import resource_path
from argoexec.kube.errors import (
    KubeAlreadyExistsError,
    KubeConflictError,
    KubeNotFoundError,
)

from .api import ClusterApi
from .informer import Informer

PLURAL = "workflows"


def workflow_key(workflow: Mapping[str, Any]) -> str:
    meta = workflow.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name')}"


def split_key(key: str) -> tuple[str, str]:
    namespace, _, name = key.partition("/")
    if not name:
        raise NotFoundError(f"{key!r} is not <namespace>/<name>")
    return namespace, name


def workflows_path(namespace: str | None = None, name: str | None = None) -> str:
    return resource_path(c.API_GROUP, c.API_GROUP_VERSION, PLURAL, namespace=namespace, name=name)


def instance_selector(instance_id: str) -> str:
    """Argo's rule: a controller with an instance id handles only Workflows labelled with it,
    one without handles only unlabelled ones (so it can share a cluster with Argo's)."""
    if instance_id:
        return f"{c.LABEL_INSTANCE_ID}={instance_id}"
    return f"!{c.LABEL_INSTANCE_ID}"


class ClusterWorkflowStore:
    def __init__(self, api: ClusterApi, informer: Informer | None = None) -> None:
        self.api = api
        self.informer = informer
        self._stale: set[str] = set()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any]:
        namespace, name = split_key(key)
        cached = self.informer.get(namespace, name) if self.informer is not None else None
        with self._lock:
            stale = key in self._stale
        if cached is not None and not stale:
            return clone(cached)
        try:
            fresh = self.api.get(workflows_path(namespace, name))
        except KubeNotFoundError:
            raise NotFoundError(f"workflow {name!r} not found in namespace {namespace!r}") from None
        self._remember(key, fresh)
        return clone(fresh)

    def list(self) -> list[dict[str, Any]]:
        """The cached Workflows themselves (the cache never changes them in place; a caller
        copies one before changing it); without a cache, those of the client's namespace."""
        if self.informer is None:
            return list(self.api.get(workflows_path(self.api.namespace)).get("items") or [])
        return self.informer.items()

    def create(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        meta = workflow.get("metadata") or {}
        namespace = str(meta.get("namespace") or self.api.namespace)
        body = {**workflow, "metadata": {**meta, "namespace": namespace}}
        try:
            created = self.api.create(workflows_path(namespace), body)
        except KubeAlreadyExistsError:
            raise AlreadyExistsError(
                f"workflow {meta.get('name')!r} exists already in namespace {namespace!r}"
            ) from None
        self._remember(workflow_key(created), created)
        return created

    def update(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        key = workflow_key(workflow)
        namespace, name = split_key(key)
        try:
            stored = self.api.replace(workflows_path(namespace, name), workflow)
        except KubeConflictError:
            with self._lock:
                self._stale.add(key)
            raise ConflictError(f"workflow {name!r} changed since it was read") from None
        except KubeNotFoundError:
            raise NotFoundError(f"workflow {name!r} not found in namespace {namespace!r}") from None
        self._remember(key, stored)
        return clone(stored)

    def delete(self, key: str) -> None:
        """Delete the Workflow; its pods and task results go with it (owner references)."""
        namespace, name = split_key(key)
        try:
            self.api.delete(workflows_path(namespace, name), propagationPolicy="Background")
        except KubeNotFoundError:
            raise NotFoundError(f"workflow {name!r} not found in namespace {namespace!r}") from None

    def _remember(self, key: str, obj: dict[str, Any]) -> None:
        with self._lock:
            self._stale.discard(key)
        if self.informer is not None:
            self.informer.put(obj)
