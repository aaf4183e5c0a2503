"""Pod garbage collection: which observed pods one pass deletes.

On this machine's runtimes a pod goes as soon as its node is over (its logs stay with the
runtime). On a cluster (`Settings.pod_gc_by_strategy`) Argo's `spec.podGC` decides:
`OnPodCompletion`, `OnPodSuccess`, `OnWorkflowCompletion`, `OnWorkflowSuccess`, for the pods its
`labelSelector` selects (all without one), `deleteDelayDuration` after the pod ended; without a
strategy, finished pods stay (their logs are read from them). A workflow that is over leaves no
pod running, whatever the strategy. The loop deletes them after the status recording their end
is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argoexec.controller.loop.seams import Observed, PodObservation
from argoexec.controller.pod.meta import pod_gc_delay
from argoexec.controller.runtime import status as st

from . import nodes as n
from .actions import Action, DeletePod
from .context import Settings

STRATEGIES = ("OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess")


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """Kubernetes' LabelSelector: every `matchLabels` pair and `matchExpressions` term holds."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(str(key)) != str(value):
            return False
    for term in selector.get("matchExpressions") or []:
        key, op = str(term.get("key")), str(term.get("operator"))
        values = [str(v) for v in term.get("values") or []]
        present = key in labels
        holds = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }.get(op, False)
        if not holds:
            return False
    return True


def _ended_at(pod: PodObservation) -> float | None:
    times = [
        c.finished_at
        for c in (*pod.status.init_containers, *pod.status.containers)
        if c.finished_at is not None
    ]
    return max(times) if times else None


def collect_pods(
    workflow: Mapping[str, Any],
    observed: Observed,
    settings: Settings,
    *,
    everything: bool,
    now: float,
) -> tuple[list[Action], float | None]:
    """The pods to delete now, and when a pod waiting out its delay is due (epoch seconds)."""
    status = workflow.get("status") or {}
    nodes = status.get("nodes") or {}
    pod_gc = (workflow.get("spec") or {}).get("podGC") or {}
    strategy = str(pod_gc.get("strategy") or "")
    delay = pod_gc_delay(pod_gc, "0s")
    succeeded = status.get("phase") == n.SUCCEEDED
    actions: list[Action] = []
    due: float | None = None
    for node_id, pod in observed.pods.items():
        node = nodes.get(node_id)
        over = node is None or n.fulfilled(node)
        ended = pod.status.phase in (st.SUCCEEDED, st.FAILED)
        if not settings.pod_gc_by_strategy:
            if everything or (over and ended):
                actions.append(DeletePod(pod.pod_name))
            continue
        if everything and not ended:
            actions.append(DeletePod(pod.pod_name))
            continue
        wanted = (
            (strategy == "OnPodCompletion" and over and ended)
            or (strategy == "OnPodSuccess" and over and pod.status.phase == st.SUCCEEDED)
            or (strategy == "OnWorkflowCompletion" and everything)
            or (strategy == "OnWorkflowSuccess" and everything and succeeded)
        )
        if not wanted or not selects(pod_gc.get("labelSelector"), pod.labels):
            continue
        at = (_ended_at(pod) or now) + delay
        if at <= now:
            actions.append(DeletePod(pod.pod_name))
        else:
            due = at if due is None else min(due, at)
    return actions, due
