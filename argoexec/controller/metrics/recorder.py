"""What the engine calls as nodes and the workflow start and finish: evaluates the metrics of
the template (or of `spec.metrics`), records the samples, and keeps every problem as a
warning for the log and the workflow's `MetricsError` condition. A metric never fails a node.

When Argo emits (`operator.go`): real-time gauges when a node starts (and the workflow's when
it starts); every metric of a template when its node completes (a retried template also after
each failed attempt that is retried); the workflow's metrics when it completes, with the
entrypoint node's variables plus `workflow.status` and `workflow.duration`. Real-time values
are read whenever the metrics are written: `metrics.prom` is rewritten with each status
change while the workflow runs, and once more at the end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from argoexec.controller.engine.scope import Scope

from .evaluate import evaluate, metric_scope
from .registry import MetricError, MetricRegistry

log = logging.getLogger("argoexec.metrics")
CONDITION = "MetricsError"


def prometheus_specs(holder: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """`metrics.prometheus` of a template or a workflow spec."""
    metrics = (holder or {}).get("metrics") or {}
    return [m for m in metrics.get("prometheus") or [] if isinstance(m, Mapping)]


class MetricsRecorder:
    def __init__(
        self, *, started: float | None = None, registry: MetricRegistry | None = None
    ) -> None:
        # A controller of many workflows shares one registry among them (one exposition).
        self.registry = MetricRegistry() if registry is None else registry
        self.started = time.time() if started is None else started
        self.finished: float | None = None
        self._warnings: list[str] = []
        self._lock = threading.Lock()

    def workflow_duration(self) -> float:
        return (self.finished or time.time()) - self.started

    def node_started(
        self,
        template: Mapping[str, Any],
        *,
        variables: Mapping[str, str],
        duration: Callable[[], float],
    ) -> None:
        specs = prometheus_specs(template)
        if specs:
            scope = metric_scope({}, duration=0.0, variables=variables)
            self._emit(specs, scope, duration, realtime_only=True)

    def node_finished(
        self,
        template: Mapping[str, Any],
        status: Mapping[str, Any],
        *,
        variables: Mapping[str, str],
        duration: float,
    ) -> None:
        specs = prometheus_specs(template)
        if specs:
            # `workflow.duration` so far, unless the node runs in an exit handler (which has it).
            so_far = {"workflow.duration": f"{self.workflow_duration():f}", **variables}
            scope = metric_scope(status, duration=duration, variables=so_far)
            self._emit(specs, scope, lambda: duration)

    def workflow_started(self, spec: Mapping[str, Any], *, variables: Mapping[str, str]) -> None:
        specs = prometheus_specs(spec)
        if specs:
            scope = metric_scope({}, duration=0.0, variables=variables)
            self._emit(specs, scope, None, realtime_only=True)

    def workflow_finished(
        self,
        spec: Mapping[str, Any],
        entry: Mapping[str, Any],
        *,
        phase: str,
        variables: Mapping[str, str],
        entry_duration: float,
    ) -> None:
        self.finished = self.finished or time.time()
        specs = prometheus_specs(spec)
        if specs:
            extra = {
                "workflow.status": phase,
                "workflow.duration": f"{self.workflow_duration():f}",
            }
            scope = metric_scope(entry, duration=entry_duration, variables={**variables, **extra})
            self._emit(specs, scope, lambda: entry_duration)

    def _emit(
        self,
        specs: list[Mapping[str, Any]],
        scope: Scope,
        duration: Callable[[], float] | None,
        *,
        realtime_only: bool = False,
    ) -> None:
        realtime = {"workflow.duration": self.workflow_duration}
        if duration is not None:
            realtime["duration"] = duration
        samples, warnings = evaluate(specs, scope, realtime=realtime, realtime_only=realtime_only)
        for sample in samples:
            try:
                self.registry.apply(sample)
            except MetricError as exc:
                warnings.append(f"could not construct metric '{sample.name}': {exc}")
        for warning in warnings:
            log.warning("metrics: %s", warning)
        with self._lock:
            self._warnings.extend(warnings)

    def conditions(self) -> list[dict[str, str]]:
        """Argo's `MetricsError` condition: one, its messages joined with ", "."""
        with self._lock:
            if not self._warnings:
                return []
            message = ", ".join(self._warnings)
        return [{"type": CONDITION, "status": "True", "message": message}]

    def text(self) -> str:
        return self.registry.text()
