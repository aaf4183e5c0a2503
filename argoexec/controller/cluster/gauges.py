"""The controller's own metrics, in the names Argo's controller exports them: workflows and
pods by phase (from the caches, at scrape time), whether this replica leads, pods created."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from collections.abc import Iterator

    from prometheus_client.core import Metric

    from .controller import ClusterController


class _Gauges(Collector):
    def __init__(self, controller: ClusterController, leading: bool) -> None:
        self.controller = controller
        self.leading = leading

    def collect(self) -> Iterator[Metric]:
        controller = self.controller
        phases = Counter(
            str((w.get("status") or {}).get("phase") or "Pending")
            for w in controller.workflows.items()
        )
        workflows = GaugeMetricFamily(
            "argo_workflows_gauge",
            "Number of Workflows currently accessible by the controller by status",
            labels=["phase"],
        )
        for phase in ("Pending", "Running", "Succeeded", "Failed", "Error"):
            workflows.add_metric([phase], phases.get(phase, 0))
        yield workflows
        pod_phases = Counter(
            str((p.get("status") or {}).get("phase") or "Pending")
            for p in controller.pods.pods.items()
        )
        pods = GaugeMetricFamily(
            "argo_workflows_pods_gauge", "Number of Pods from Workflows by phase", labels=["phase"]
        )
        for phase in ("Pending", "Running", "Succeeded", "Failed"):
            pods.add_metric([phase], pod_phases.get(phase, 0))
        yield pods
        leader = GaugeMetricFamily(
            "argo_workflows_is_leader", "Whether this replica is the leader (1) or not (0)"
        )
        leader.add_metric([], 1 if self.leading else 0)
        yield leader
        created = CounterMetricFamily(
            "argoexec_pods_created", "Pods this controller process created"
        )
        created.add_metric([], controller.pods.created)
        yield created


def metrics_text(controller: ClusterController, *, leading: bool) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Gauges(controller, leading))
    return generate_latest(registry)
