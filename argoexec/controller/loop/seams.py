"""The controller loop's two seams. The local runtime implements both on this machine (the state
directory, detached pod supervisors); the Kubernetes backend will implement each on the API
(Workflows as objects with resourceVersions; pods, exec and WorkflowTaskResults), so that it is
an implementation of these protocols, not a fork of the engine.

Observations are keyed by node id (the pod annotation `workflows.argoproj.io/node-id`), as
Argo's controller indexes its pod informer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from argoexec.controller.runtime.status import PodResult
from argoexec.models import NodeResult


class ConflictError(Exception):
    """The Workflow changed since it was read (its resourceVersion moved on): read it again."""


class AlreadyExistsError(ConflictError):
    """`create` of a Workflow whose name is taken (Kubernetes' AlreadyExists)."""


class NotFoundError(Exception):
    """No Workflow (or pod) of that name."""


@dataclass(frozen=True)
class TaskObservation:
    """What a controller sees of one agent task (an `http` template's request): the node
    result the agent reported (Argo's `WorkflowTaskSet` `status.nodes[nodeID]`, a NodeResult:
    phase, message, outputs)."""

    node_id: str
    phase: str
    message: str = ""
    outputs: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PodObservation:
    """What a controller sees of one pod: Kubernetes' pod status, and the node's reported result
    (Argo's WorkflowTaskResult: outputs, and whether the executor said it has reported all;
    `completed` False while outputs may still come, the label `report-outputs-completed`)."""

    pod_name: str
    node_id: str
    status: PodResult
    result: NodeResult | None = None
    completed: bool = False
    # Why the result cannot be taken (e.g. larger than allowed), else "".
    result_error: str = ""
    # The pod's labels (podGC's labelSelector), where the backend knows them.
    labels: Mapping[str, str] = field(default_factory=dict)


class WorkflowStore(Protocol):
    """Where Workflows live. Every Workflow carries `metadata.resourceVersion`; `update` refuses
    (ConflictError) a Workflow whose resourceVersion is not the stored one, and returns the stored
    object with its new resourceVersion. `create` refuses a taken name (AlreadyExistsError);
    `get` and `update` of an unknown name raise NotFoundError."""

    def get(self, name: str) -> dict[str, Any]: ...

    def list(self) -> list[dict[str, Any]]: ...

    def create(self, workflow: Mapping[str, Any]) -> dict[str, Any]: ...

    def update(self, workflow: Mapping[str, Any]) -> dict[str, Any]: ...


class PodBackend(Protocol):
    """Where pods run. Pods are independent of the controller that created them: a controller
    that dies leaves them running, and the next one observes them."""

    def adapt(self, pod: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
        """The pod as this backend runs it: Argo's pod plus what this runtime needs (how the
        executor reports back, host paths...). `template` is what the pod runs."""
        ...

    def create(self, pod: Mapping[str, Any], config_maps: Mapping[str, Mapping[str, str]]) -> None:
        """Start the pod (Argo's pod dict, complete). A pod of that name that exists already is
        not created again (Kubernetes' AlreadyExists)."""
        ...

    def observe(self, workflow_name: str) -> dict[str, PodObservation]:
        """Every pod of the workflow that exists, by node id."""
        ...

    def signal(self, pod_name: str, container: str, signum: int) -> None:
        """Signal a running container's main process, as Argo's controller does by exec'ing
        `argoexec kill <signum> 1` in it; a container that is not running is left alone. The
        signal may arrive after this returns (an exec in a pod, a request to its supervisor);
        what it did shows in a later observation."""
        ...

    def delete(self, pod_name: str) -> None:
        """Delete the pod: a running one is terminated (SIGTERM, SIGKILL after its grace
        period); what it left is removed except its logs. Returns without waiting for the pod
        to end; from then on the pod is not observed, and deleting it again does nothing."""
        ...

    def wait(self, timeout: float) -> bool:
        """Block until a pod may have changed (True) or `timeout` seconds passed (False)."""
        ...


@runtime_checkable
class PodBackends(Protocol):
    """Pods of workflows in several namespaces (a cluster): each workflow's own `PodBackend`,
    by its key, and one wait for them all."""

    def of(self, key: str) -> PodBackend: ...

    def wait(self, timeout: float) -> bool: ...


class OneBackend:
    """One `PodBackend` for every workflow (this machine's runtimes), as `PodBackends`."""

    def __init__(self, pods: PodBackend) -> None:
        self.pods = pods

    def of(self, key: str) -> PodBackend:
        return self.pods

    def wait(self, timeout: float) -> bool:
        return self.pods.wait(timeout)


class TaskBackend(Protocol):
    """Where agent tasks run (Argo's agent: on a cluster the `WorkflowTaskSet` named after the
    workflow and its agent pod; on this machine a bounded pool of threads). Keyed like
    `PodBackends`, by the workflow's key."""

    def run(self, key: str, workflow: Mapping[str, Any], node_id: str,
            template: Mapping[str, Any]) -> None:  # fmt: skip
        """Run the task of node `node_id` (its template, substituted) once: asking again for a
        task that runs or ran does nothing (the reconciler asks on every pass until it sees
        the result, so a controller that died in between asks again)."""
        ...

    def observe(self, key: str) -> dict[str, TaskObservation]:
        """The results reported so far for the workflow's tasks, by node id."""
        ...

    def release(self, key: str) -> None:
        """The workflow is over: what its tasks left (a task set, an agent pod, results
        kept in memory) is removed. Releasing again does nothing."""
        ...


class MemoizationCaches(Protocol):
    """Where memoization caches live (Argo's cache ConfigMaps, labelled
    `workflows.argoproj.io/configmap-type: Cache`): read by the reconciler through a view,
    written by the loop. Several controllers (or `run` processes of one state directory) may
    save to one ConfigMap at once: no entry is lost (a lock, or a resourceVersion and a retry)."""

    def view(self, namespace: str) -> Mapping[str, Mapping[str, Any]]:
        """The cache ConfigMaps of `namespace` for one pass, name -> the ConfigMap object
        (`apiVersion`, `kind`, `metadata`, `data`); a name without one is missing. Each is read
        at most once per view: a pass sees one state of each."""
        ...

    def save(
        self, namespace: str, name: str, key: str, entry: Mapping[str, Any], *, hit: bool
    ) -> None:
        """Carry out a `SaveCacheEntry` (read, change entry `key`, write; atomically)."""
        ...


@dataclass
class Observed:
    """Everything the reconciler reads besides the Workflow."""

    pods: Mapping[str, PodObservation] = field(default_factory=dict)
    tasks: Mapping[str, TaskObservation] = field(default_factory=dict)
    # The memoization cache ConfigMaps of the workflow's namespace, name -> ConfigMap.
    caches: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
