"""The artifact-GC pod's work (argo-contract.md §9.1): list the ``WorkflowArtifactGCTask``s
labelled for this pod (``workflows.argoproj.io/artifact-gc-pod = <ARGO_ARTIFACT_POD_NAME>``),
delete each task's artifacts through the drivers (``artifacts.gc``), and merge-patch each task's
``status.artifactResultsByNode`` through the status subresource. A deletion that fails is only
recorded (the controller turns it into the ``ArtifactGCError`` condition); listing or patching
failing is the command's failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from argoexec.contract import LABEL_ARTIFACT_GC_POD
from argoexec.kube.client import KubeClient, resource_path
from argoexec.models import Artifact
from artifacts.driver import DriverContext
from artifacts.gc import delete_artifacts_by_node

log = logging.getLogger("argoexec.artifact_gc")

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "workflowartifactgctasks"


def tasks_path(namespace: str, name: str | None = None, subresource: str | None = None) -> str:
    return resource_path(
        GROUP, VERSION, PLURAL, namespace=namespace, name=name, subresource=subresource
    )


def collect_tasks(
    client: KubeClient,
    namespace: str,
    pod_hash: str,
    ctx_for: Callable[[Artifact], DriverContext],
) -> list[dict[str, Any]]:
    """Work through every task of this pod; returns each task's results (for the log)."""
    listed = client.get(
        tasks_path(namespace), query={"labelSelector": f"{LABEL_ARTIFACT_GC_POD}={pod_hash}"}
    )
    done = []
    for task in listed.get("items") or []:
        name = str((task.get("metadata") or {}).get("name"))
        by_node = (task.get("spec") or {}).get("artifactsByNode") or {}
        results = delete_artifacts_by_node(by_node, ctx_for)
        patch = {"status": {"artifactResultsByNode": results}}
        client.patch(tasks_path(namespace, name, "status"), patch, patch_type="merge")
        failed = sum(
            1
            for node in results.values()
            for result in node["artifactResults"].values()
            if not result["success"]
        )
        log.info(
            "WorkflowArtifactGCTask %s: %d artifact(s), %d failed", name, _count(by_node), failed
        )
        done.append(results)
    return done


def _count(by_node: dict[str, Any]) -> int:
    return sum(len((n or {}).get("artifacts") or {}) for n in by_node.values())
