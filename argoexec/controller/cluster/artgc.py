"""Artifact GC on a cluster, as Argo's controller does it (argo-contract.md §9.1): for each
planned GC pod (`controller.artgc.plan`) a ``WorkflowArtifactGCTask`` ``<pod>-0`` owned by the
Workflow and labelled with the pod's hash, then the pod (owned by its task) running
``argoexec artifact delete``. When a GC pod ends, its tasks' ``artifactResultsByNode`` are
recorded on the Workflow, the pod is recouped, and the tasks whose artifacts were all deleted by
a pod that succeeded are deleted (the others stay to be inspected). The finalizer goes as the
pure part decides. GC pods carry the workflow label, but are no node's pod: `ClusterPods` keeps
them out of the reconciler's observations and hands them here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from argoexec import contract as c
from argoexec.controller import artgc
from argoexec.controller.pod.volumes import secret_volumes
from argoexec.kube.errors import KubeAlreadyExistsError, KubeError, KubeNotFoundError
from argoexec.models import ArtifactLocation

from .api import ClusterApi
from .pods import ClusterPods, pods_path
from .store import split_key

log = logging.getLogger("argoexec.controller")

GROUP, VERSION, PLURAL, KIND = (
    "argoproj.io",
    "v1alpha1",
    "workflowartifactgctasks",
    "WorkflowArtifactGCTask",
)
# Argo's GC pod: a strict security context and small limits (a breached pod can do little).
SECURITY_CONTEXT = {
    "capabilities": {"drop": ["ALL"]},
    "privileged": False,
    "runAsNonRoot": True,
    "runAsUser": 8737,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
}
RESOURCES = {
    "limits": {"cpu": "100m", "memory": "64Mi"},
    "requests": {"cpu": "50m", "memory": "32Mi"},
}


def tasks_path(namespace: str, name: str | None = None) -> str:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
    return f"{base}/{name}" if name else base


class ClusterArtifactGC:
    def __init__(
        self,
        api: ClusterApi,
        pods: ClusterPods,
        *,
        executor_image: str,
        pull_policy: str = "",
        log_level: str = "info",
        instance_id: str = "",
    ) -> None:
        self.api = api
        self.pods = pods
        self.executor_image = executor_image
        self.pull_policy = pull_policy
        self.log_level = log_level
        self.instance_id = instance_id

    def __call__(self, key: str, workflow: dict[str, Any]) -> bool:
        namespace, name = split_key(key)
        changed = artgc.add_finalizer(workflow)
        for strategy in artgc.ready_strategies(workflow, deleting=artgc.deleting(workflow)):
            try:
                for planned in artgc.plan(workflow, strategy):
                    task = self._create_task(namespace, workflow, planned)
                    self._create_pod(namespace, name, planned, task)
            except KubeError as exc:  # not processed: the next pass tries again
                log.warning("workflow %s: artifact GC %s not started: %s", key, strategy, exc)
                return changed
            artgc.mark_processed(workflow, strategy)
            changed = True
        any_success = False
        recouped = (workflow["status"].get("artifactGCStatus") or {}).get("podsRecouped") or {}
        for pod in self.pods.gc_pods(namespace, name):
            pod_name = str(pod["metadata"]["name"])
            phase = (pod.get("status") or {}).get("phase")
            if recouped.get(pod_name) or phase not in ("Succeeded", "Failed"):
                continue
            self._recoup(namespace, workflow, pod, failed=phase == "Failed")
            any_success = any_success or phase == "Succeeded"
            changed = True
        return artgc.release_finalizer(workflow, any_success=any_success) or changed

    # --- creating -------------------------------------------------------------------------

    def _create_task(
        self, namespace: str, workflow: Mapping[str, Any], pod: artgc.GCPod
    ) -> dict[str, Any]:
        meta = workflow["metadata"]
        owner = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Workflow",
            "name": meta["name"],
            "uid": meta.get("uid", ""),
            "controller": True,
            "blockOwnerDeletion": True,
        }
        labels = {c.LABEL_ARTIFACT_GC_POD: pod.pod_hash}
        if self.instance_id:
            labels[c.LABEL_INSTANCE_ID] = self.instance_id
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "metadata": {
                "name": f"{pod.name}-0",
                "namespace": namespace,
                "labels": labels,
                "ownerReferences": [owner],
            },
            "spec": {"artifactsByNode": pod.artifacts_by_node},
        }
        try:
            return self.api.create(tasks_path(namespace), body)
        except KubeAlreadyExistsError:
            return self.api.get(tasks_path(namespace, f"{pod.name}-0"))

    def _create_pod(
        self, namespace: str, workflow: str, pod: artgc.GCPod, task: Mapping[str, Any]
    ) -> None:
        body = self.pod_body(namespace, workflow, pod, task)
        try:
            self.api.create(pods_path(namespace), body)
        except KubeAlreadyExistsError:
            log.info("artifact GC pod %s/%s exists already", namespace, pod.name)

    def pod_body(
        self, namespace: str, workflow: str, pod: artgc.GCPod, task: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Argo's ``createArtifactGCPod``."""
        task_meta = task["metadata"]
        owner = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": KIND,
            "name": task_meta["name"],
            "uid": task_meta.get("uid", ""),
            "controller": True,
            "blockOwnerDeletion": True,
        }
        volumes, mounts = secret_volumes(_locations(pod))
        labels = {
            c.LABEL_WORKFLOW: workflow,
            c.LABEL_COMPONENT: c.COMPONENT_ARTIFACT_GC,
            c.LABEL_COMPLETED: "false",
            **pod.labels,
        }
        if self.instance_id:
            labels[c.LABEL_INSTANCE_ID] = self.instance_id
        container: dict[str, Any] = {
            "name": c.MAIN_CONTAINER,
            "image": self.executor_image,
            "args": ["artifact", "delete", "--loglevel", self.log_level],
            "env": [
                {"name": c.ENV_POD_NAME, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": c.ENV_TEMPLATE, "value": "{}"},
                {"name": c.ENV_ARTIFACT_GC_POD_HASH, "value": pod.pod_hash},
            ],
            "securityContext": SECURITY_CONTEXT,
            "resources": RESOURCES,
            "volumeMounts": mounts,
        }
        if self.pull_policy:
            container["imagePullPolicy"] = self.pull_policy
        spec: dict[str, Any] = {
            "volumes": volumes,
            "containers": [container],
            "automountServiceAccountToken": True,
            "restartPolicy": "Never",
        }
        if pod.service_account:
            spec["serviceAccountName"] = pod.service_account
        annotations = {c.ANNOTATION_ARTIFACT_GC_STRATEGY: pod.strategy, **pod.annotations}
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod.name,
                "namespace": namespace,
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [owner],
            },
            "spec": spec,
        }

    # --- recouping ------------------------------------------------------------------------

    def _recoup(
        self, namespace: str, workflow: dict[str, Any], pod: Mapping[str, Any], *, failed: bool
    ) -> None:
        """Argo's ``processCompletedArtifactGCPod``."""
        meta = pod["metadata"]
        strategy = str((meta.get("annotations") or {}).get(c.ANNOTATION_ARTIFACT_GC_STRATEGY))
        pod_hash = str(artgc.fnv32a(str(meta["name"]).encode()))
        try:
            listed = self.api.get(
                tasks_path(namespace), labelSelector=f"{c.LABEL_ARTIFACT_GC_POD}={pod_hash}"
            )
        except KubeError as exc:
            log.warning("artifact GC pod %s: its tasks cannot be listed: %s", meta["name"], exc)
            return
        results: dict[str, Any] = {}
        succeeded: list[str] = []
        for task in listed.get("items") or []:
            by_node = (task.get("status") or {}).get("artifactResultsByNode") or {}
            results.update(by_node)
            if all(
                r.get("success")
                for node in by_node.values()
                for r in ((node or {}).get("artifactResults") or {}).values()
            ):
                succeeded.append(str(task["metadata"]["name"]))
        artgc.record(workflow, str(meta["name"]), strategy, results, pod_failed=failed)
        if failed:
            return  # the tasks stay to be inspected
        for task_name in succeeded:
            try:
                self.api.delete(tasks_path(namespace, task_name))
            except KubeNotFoundError:
                pass
            except KubeError as exc:
                log.warning("WorkflowArtifactGCTask %s not deleted: %s", task_name, exc)


def _locations(pod: artgc.GCPod) -> list[ArtifactLocation]:
    """Every location whose secrets the GC pod needs (archive locations and artifacts)."""
    found: list[ArtifactLocation] = []
    for node in pod.artifacts_by_node.values():
        if node.get("archiveLocation"):
            found.append(ArtifactLocation.model_validate(node["archiveLocation"]))
        for artifact in (node.get("artifacts") or {}).values():
            found.append(ArtifactLocation.model_validate(artifact))
    return found
