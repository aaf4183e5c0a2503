"""WorkflowTemplates and ClusterWorkflowTemplates from the cluster, as the engine's
`TemplateStore` of one namespace: a workflow sees the WorkflowTemplates of its own namespace and
every ClusterWorkflowTemplate, as in Argo. Both kinds are watched; a namespace's store is built
again only when one of them changed."""

from __future__ import annotations

import logging
import threading
from typing import Any

from argoexec import contract as c
from argoexec.controller.loop.options import EngineError
from argoexec.controller.workflow.errors import DocumentError
from argoexec.controller.workflow.store import TemplateStore
from argoexec.kube.client import resource_path

from .admit import lenient
from .api import ClusterApi
from .informer import Informer

log = logging.getLogger("argoexec.controller")


class ClusterTemplates:
    def __init__(self, api: ClusterApi, *, namespace: str | None = None) -> None:
        group, version = c.API_GROUP, c.API_GROUP_VERSION
        self.namespaced = Informer(
            api,
            resource_path(group, version, "workflowtemplates", namespace=namespace),
            handler=self._changed,
            what="workflowtemplates",
        )
        self.cluster = Informer(
            api,
            resource_path(group, version, "clusterworkflowtemplates"),
            handler=self._changed,
            what="clusterworkflowtemplates",
        )
        self._version = 0
        self._built: dict[str, tuple[int, TemplateStore]] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        self.namespaced.start()
        self.cluster.start()

    def stop(self) -> None:
        self.namespaced.stop()
        self.cluster.stop()

    def wait_synced(self, timeout: float) -> bool:
        return self.namespaced.wait_synced(timeout) and self.cluster.wait_synced(timeout)

    def _changed(self, kind: str, obj: dict[str, Any]) -> None:
        with self._lock:
            self._version += 1

    def store(self, namespace: str) -> TemplateStore:
        with self._lock:
            version = self._version
            built = self._built.get(namespace)
        if built is not None and built[0] == version:
            return built[1]
        store = TemplateStore()
        documents = [
            *(t for t in self.namespaced.items() if t["metadata"].get("namespace") == namespace),
            *self.cluster.items(),
        ]
        for found in documents:
            document = {**found, "kind": found.get("kind") or _kind_of(found)}
            try:
                store.add(lenient(document), source=_source(document))
            except (DocumentError, EngineError) as exc:
                log.warning("%s", exc)
        with self._lock:
            self._built[namespace] = (version, store)
        return store


def _kind_of(document: dict[str, Any]) -> str:
    namespaced = bool(document["metadata"].get("namespace"))
    return "WorkflowTemplate" if namespaced else "ClusterWorkflowTemplate"


def _source(document: dict[str, Any]) -> str:
    meta = document.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{document.get('kind')} {where}{meta.get('name')}"
