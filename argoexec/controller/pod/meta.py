"""Pod metadata: labels, annotations and the owner reference (argo-contract.md §1.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argoexec.controller.pod.context import PodContext
from argoexec.durations import format_go_duration, parse_go_duration

LABEL_WORKFLOW = "workflows.argoproj.io/workflow"
LABEL_COMPLETED = "workflows.argoproj.io/completed"
LABEL_ON_EXIT = "workflows.argoproj.io/on-exit"
LABEL_INSTANCE_ID = "workflows.argoproj.io/controller-instanceid"
NODE_NAME = "workflows.argoproj.io/node-name"
NODE_ID = "workflows.argoproj.io/node-id"
DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
POD_GC_STRATEGY = "workflows.argoproj.io/pod-gc-strategy"


def owner_reference(ctx: PodContext) -> dict[str, Any]:
    """``metav1.NewControllerRef`` to the workflow."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "name": ctx.workflow_name,
        "uid": ctx.workflow_uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_metadata(ctx: PodContext, name: str) -> dict[str, Any]:
    labels = {LABEL_WORKFLOW: ctx.workflow_name, LABEL_COMPLETED: "false"}
    if ctx.on_exit:
        labels[LABEL_ON_EXIT] = "true"
    if ctx.instance_id:
        labels[LABEL_INSTANCE_ID] = ctx.instance_id
    return {
        "name": name,
        "namespace": ctx.namespace,
        "labels": labels,
        "annotations": {NODE_NAME: ctx.node_name, NODE_ID: ctx.resolved_node_id()},
        "ownerReferences": [owner_reference(ctx)],
    }


def pod_gc_annotation(pod_gc: Mapping[str, Any], default_delay: str) -> str:
    """``<strategy>/<delay>`` with the delay as a Go duration string."""
    delay = pod_gc.get("deleteDelayDuration") or default_delay
    return f"{pod_gc.get('strategy') or ''}/{format_go_duration(parse_go_duration(str(delay)))}"


def apply_user_metadata(
    meta: dict[str, Any], pod_meta: Mapping[str, Any] | None, tmpl_meta: Mapping[str, Any] | None
) -> None:
    """Workflow ``podMetadata`` then template ``metadata``; later values win (Argo's
    ``addMetadata``)."""
    for source in (pod_meta or {}, tmpl_meta or {}):
        meta["annotations"].update(source.get("annotations") or {})
        meta["labels"].update(source.get("labels") or {})
