"""Helpers (no tests): what a controller observes of pods, kept by hand, for reconciler tests.

`Cluster` applies a pass's actions the way a pod backend would (a created pod is Running with
every container started; a deleted pod is gone) and lets a test end pods with exit codes and
reported outputs. Nothing runs: the reconciler sees only these observations.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from argoexec.controller.loop.seams import Observed, PodObservation
from argoexec.controller.reconcile import (
    CreatePod,
    DeletePod,
    Outcome,
    Settings,
    SignalContainer,
    reconcile,
)
from argoexec.controller.runtime.status import ContainerStatus, PodResult
from argoexec.models import NodeResult

NODE_ID = "workflows.argoproj.io/node-id"
NODE_NAME = "workflows.argoproj.io/node-name"


def workflow(spec: Mapping[str, Any], name: str = "wf") -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "uid": "uid-1", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": copy.deepcopy(dict(spec)),
    }


class Cluster:
    def __init__(self) -> None:
        self.pods: dict[str, PodObservation] = {}  # by node id
        self.created: list[str] = []  # pod names, in creation order (repeats included)
        self.specs: dict[str, Mapping[str, Any]] = {}  # pod name -> pod
        self.signals: list[tuple[str, str, int]] = []
        self.deleted: list[str] = []

    def observed(self) -> Observed:
        return Observed(pods=dict(self.pods))

    def apply(self, outcome: Outcome) -> None:
        for action in outcome.actions:
            if isinstance(action, CreatePod):
                name = str(action.pod["metadata"]["name"])
                self.created.append(name)
                if action.node_id in self.pods:
                    continue  # AlreadyExists
                self.specs[name] = action.pod
                result = PodResult(name, phase="Running", start_time=0.0)
                for container in action.pod["spec"]["containers"]:
                    status = ContainerStatus(str(container["name"]), started_at=0.0)
                    result.containers.append(status)
                self.pods[action.node_id] = PodObservation(name, action.node_id, result)
            elif isinstance(action, SignalContainer):
                self.signals.append((action.pod_name, action.container, action.signum))
            elif isinstance(action, DeletePod):
                self.deleted.append(action.pod_name)
                for node_id, pod in list(self.pods.items()):
                    if pod.pod_name == action.pod_name:
                        del self.pods[node_id]

    def node_ids(self) -> list[str]:
        return list(self.pods)

    def end(
        self,
        node_id: str,
        exit_code: int = 0,
        *,
        outputs: Mapping[str, Any] | None = None,
        message: str = "",
    ) -> None:
        """The pod of `node_id` ends: every container exits `exit_code`; the executor reports
        `outputs` (and `exitCode`)."""
        pod = self.pods[node_id]
        result = pod.status
        for container in result.containers:
            container.terminate(exit_code, message if container.name == "main" else "", 1.0)
        result.conclude()
        reported = NodeResult.model_validate({"outputs": dict(outputs or {})})
        self.pods[node_id] = PodObservation(pod.pod_name, node_id, result, reported, True)

    def end_all(self, exit_code: int = 0) -> None:
        for node_id, pod in list(self.pods.items()):
            if pod.status.phase == "Running":
                self.end(node_id, exit_code)


def step(
    wf: dict[str, Any], cluster: Cluster, now: float, settings: Settings | None = None
) -> Outcome:
    """One pass, its actions applied to `cluster`."""
    outcome = reconcile(wf, cluster.observed(), now, settings or Settings())
    cluster.apply(outcome)
    return outcome


def settle(
    wf: dict[str, Any], cluster: Cluster, now: float, settings: Settings | None = None
) -> Outcome:
    """Passes until one changes nothing (the last outcome)."""
    for _ in range(100):
        outcome = step(wf, cluster, now, settings)
        if not outcome.changed and not outcome.actions:
            return outcome
    raise AssertionError("the workflow never settles")


def nodes_by_name(wf: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in (wf.get("status") or {}).get("nodes", {}).values()}


def phases(wf: Mapping[str, Any]) -> dict[str, str]:
    return {name: node["phase"] for name, node in nodes_by_name(wf).items()}
