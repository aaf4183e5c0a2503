"""What a reconcile pass asks of the world. The loop carries them out: creates and signals before
it writes the new status, deletes after (a pod is never removed before the status that records
its end is stored, as Argo's `persistUpdates` then `queuePodsForCleanup`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CreatePod:
    """Create the pod of node `node_id` (a pod that exists already is left alone)."""

    node_id: str
    pod: Mapping[str, Any]
    # ConfigMaps the pod needs (an offloaded template), name -> data.
    config_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # The template the pod runs (substituted), for the runtime's own additions (`adapt`).
    template: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SignalContainer:
    """Signal a container's main process, as Argo's controller does by exec'ing `argoexec kill`."""

    pod_name: str
    container: str
    signum: int


@dataclass(frozen=True)
class DeletePod:
    """Delete the pod (terminating it if it still runs); its logs stay."""

    pod_name: str


@dataclass(frozen=True)
class RunTask:
    """Run the agent task of node `node_id` (an `http` template, substituted): Argo's
    controller adds it to the workflow's `WorkflowTaskSet` (`spec.tasks[nodeID]`), where its
    agent pod picks it up. Asked on every pass until its result is observed."""

    node_id: str
    template: Mapping[str, Any]


Action = CreatePod | SignalContainer | DeletePod | RunTask
