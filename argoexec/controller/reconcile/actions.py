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


@dataclass(frozen=True)
class SaveCacheEntry:
    """Write entry `key` of the memoization cache ConfigMap `config_map` in `namespace` (Argo's
    cache `Save`): the entry (`{nodeID, outputs, creationTimestamp, lastHitTimestamp}`) of a
    memoized node that succeeded. With `hit`, only the entry's `lastHitTimestamp` is moved on,
    if the entry is still the one of `entry["nodeID"]` (Argo's `Load` does that on a hit).
    Carried out before the status is stored: a status that says a node succeeded is never
    stored before its entry was asked for."""

    namespace: str
    config_map: str
    key: str
    entry: Mapping[str, Any]
    hit: bool = False


Action = CreatePod | SignalContainer | DeletePod | RunTask | SaveCacheEntry
