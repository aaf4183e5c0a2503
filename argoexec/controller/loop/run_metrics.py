"""A run's custom metrics, fed with the events of each pass (Argo emits them from its operator:
real-time gauges as nodes and the workflow start, the rest as they finish)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from argoexec.controller.engine.scope import workflow_scope
from argoexec.controller.metrics import MetricsRecorder
from argoexec.controller.reconcile import Outcome
from argoexec.controller.reconcile.clock import epoch


def record_events(metrics: MetricsRecorder, name: str, namespace: str, outcome: Outcome) -> None:
    """Give `metrics` what one pass over workflow `name` started and finished."""
    spec = outcome.workflow.get("spec") or {}
    for event in outcome.events:
        if event.kind == "workflow_finished":
            status = outcome.workflow.get("status") or {}
            node = event.node
            started = epoch(node.get("startedAt")) or time.time()
            finished = epoch(node.get("finishedAt")) or time.time()
            metrics.workflow_finished(
                spec, node, phase=str(status.get("phase")), variables=event.variables,
                entry_duration=finished - started,
            )  # fmt: skip
        elif event.kind == "node_started":
            metrics.node_started(
                event.template, variables=event.variables, duration=elapsed(event.node)
            )
        else:
            metrics.node_finished(
                event.template, event.node, variables=event.variables,
                duration=elapsed(event.node)(),
            )  # fmt: skip
    if outcome.started:
        meta = outcome.workflow.get("metadata") or {}
        variables = workflow_scope(
            name=name,
            namespace=namespace,
            uid=str(meta.get("uid") or ""),
            parameters=(spec.get("arguments") or {}).get("parameters") or [],
        )
        metrics.workflow_started(spec, variables=variables)


def elapsed(node: Mapping[str, Any]) -> Callable[[], float]:
    """The node's run time so far, or in all. Status times are whole seconds: a node that ended
    within the last second is timed to now (the pass that ended it has just run)."""

    def seconds() -> float:
        now = time.time()
        started = epoch(node.get("startedAt")) or now
        finished = epoch(node.get("finishedAt"))
        if finished is None or now - finished < 1.0:
            finished = now
        return finished - started

    return seconds
