"""Pod metadata: labels, annotations and the owner reference (argo-contract.md §1.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argoexec import contract as c
from argoexec.controller.pod.context import PodContext
from argoexec.durations import format_go_duration, parse_go_duration


def owner_reference(ctx: PodContext) -> dict[str, Any]:
    """``metav1.NewControllerRef`` to the workflow."""
    return {
        "apiVersion": c.API_VERSION,
        "kind": "Workflow",
        "name": ctx.workflow_name,
        "uid": ctx.workflow_uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pod_metadata(ctx: PodContext, name: str) -> dict[str, Any]:
    labels = {c.LABEL_WORKFLOW: ctx.workflow_name, c.LABEL_COMPLETED: "false"}
    if ctx.on_exit:
        labels[c.LABEL_ON_EXIT] = "true"
    if ctx.instance_id:
        labels[c.LABEL_INSTANCE_ID] = ctx.instance_id
    return {
        "name": name,
        "namespace": ctx.namespace,
        "labels": labels,
        "annotations": {
            c.ANNOTATION_NODE_NAME: ctx.node_name,
            c.ANNOTATION_NODE_ID: ctx.resolved_node_id(),
        },
        "ownerReferences": [owner_reference(ctx)],
    }


def pod_gc_annotation(pod_gc: Mapping[str, Any], default_delay: str) -> str:
    """``<strategy>/<delay>`` with the delay as a Go duration string."""
    delay = pod_gc_delay(pod_gc, default_delay)
    return f"{pod_gc.get('strategy') or ''}/{format_go_duration(delay)}"


def pod_gc_delay(pod_gc: Mapping[str, Any], default_delay: str) -> float:
    """Seconds an ended pod waits before podGC deletes it (Argo's getPodGCDelay): the
    `deleteDelayDuration` (a Go duration, or whole seconds as Argo's ParseStringToDuration
    reads them); when it is absent, negative or unreadable (Argo warns and goes on),
    `default_delay`."""
    text = str(pod_gc.get("deleteDelayDuration") or "").strip()
    try:
        delay = float(int(text)) if text.lstrip("+-").isdigit() else parse_go_duration(text)
    except ValueError:
        return parse_go_duration(default_delay)
    return delay if delay >= 0 else parse_go_duration(default_delay)


def apply_user_metadata(
    meta: dict[str, Any], pod_meta: Mapping[str, Any] | None, tmpl_meta: Mapping[str, Any] | None
) -> None:
    """Workflow ``podMetadata`` then template ``metadata``; later values win (Argo's
    ``addMetadata``)."""
    for source in (pod_meta or {}, tmpl_meta or {}):
        meta["annotations"].update(source.get("annotations") or {})
        meta["labels"].update(source.get("labels") or {})
