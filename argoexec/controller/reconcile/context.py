"""What one reconcile pass works with: the settings it is given (`Settings`, never state), the
template namespace a node resolves in (`Owner`), the frame a node is executed in (`Frame`) and
the pass itself (`Pass`: the Workflow's node map, what was observed, the clock, the actions so
far). Nothing here does I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, Protocol

from argoexec.contract import DEFAULT_EXECUTOR_IMAGE, MAX_OUTPUT_PARAMETERS_BYTES
from argoexec.controller.engine.scope import Scope
from argoexec.controller.loop.seams import PodObservation, TaskObservation
from argoexec.controller.pod import ImageEntrypoint
from argoexec.models import ArtifactRepository

from .actions import Action
from .locks import LockManager
from .nodes import Node, Nodes


@dataclass(frozen=True)
class Event:
    """Something metrics are emitted for (`node_started`, `node_finished`), with the template
    and the variables the metrics are evaluated with."""

    kind: str
    template: Mapping[str, Any]
    node: Node
    variables: Scope


# Argo has no cap on the children of a node; a laptop needs one (see README, bounds).
DEFAULT_MAX_CHILDREN = 10000
# A Running pod node whose pod is not observed for this long is "pod deleted" (Argo's
# RECENTLY_STARTED_POD_DURATION guards the same informer lag).
MISSING_POD_GRACE = 10.0
DEADLINE_MESSAGE = "Step exceeded its deadline"
# Loop children one pass starts, at most: a pass over a loop of 200,000 items ends (and its
# status is stored, a stop is seen) before all of them exist; the next pass starts more.
CHILDREN_PER_PASS = 1000
STOP_MESSAGE = "Stopped with strategy 'Stop'"
TERMINATE_MESSAGE = "Stopped with strategy 'Terminate'"
SHUTDOWN_STOP = "Stop"
SHUTDOWN_TERMINATE = "Terminate"


class TemplateStoreLike(Protocol):
    def resolve_template_ref(self, ref: Mapping[str, Any]) -> tuple[dict[str, Any], Any]: ...


@dataclass(frozen=True)
class Settings:
    """How the controller runs workflows (its configuration), the same on every pass."""

    executor_image: str = DEFAULT_EXECUTOR_IMAGE
    namespace: str = "default"
    max_depth: int = 100
    log_level: str = "info"
    executor_env: tuple[tuple[str, str], ...] = ()
    max_children: int = DEFAULT_MAX_CHILDREN  # 0 = no cap
    max_pods: int = 0  # pods of one workflow running at once; 0 = no cap
    max_output_parameters_bytes: int = MAX_OUTPUT_PARAMETERS_BYTES
    config_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    artifact_repository: ArtifactRepository | None = None
    # Whether pods can reach a Kubernetes API (resource templates need one).
    kubernetes_api: bool = False
    store: TemplateStoreLike | None = None
    missing_pod_grace: float = MISSING_POD_GRACE
    # The ENTRYPOINT/CMD of images for containers without a command (Argo's `images` index,
    # and on the podman runtime the local images themselves).
    images: Mapping[str, ImageEntrypoint] = field(default_factory=dict)
    # Pods are collected as the workflow's `podGC.strategy` says (Argo's rule, on a cluster),
    # rather than each as soon as its node is over (this machine's runtimes keep their logs).
    pod_gc_by_strategy: bool = False
    # Argo's `workflows.argoproj.io/controller-instanceid`: on the pods' labels and env.
    instance_id: str = ""
    # The rest of the controller configuration's `executor` container (Argo's ConfigMap).
    executor_image_pull_policy: str | None = None
    executor_resources: Mapping[str, Any] | None = None
    executor_security_context: Mapping[str, Any] | None = None
    # Mutexes and semaphores shared beyond one workflow (`synchronization`): the runs of a
    # state directory share a file, a cluster's controller keeps them in memory.
    locks: LockManager | None = None


@dataclass(frozen=True)
class Owner:
    """The template namespace a template came from: the workflow, or a (Cluster)WorkflowTemplate
    whose own `template:` references resolve among its templates."""

    name: str
    templates: Mapping[str, Mapping[str, Any]]
    scope: str = "local/"  # Argo's templateScope: local/, namespaced/<wft>, cluster/<cwft>


Artifacts = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Frame:
    """What a node executes with: the caller's variables (to resolve its arguments), the
    template namespace, the enclosing boundary, the tightest deadline, and exit-handler extras."""

    scope: Scope
    artifacts: Artifacts
    owner: Owner
    boundary_id: str | None = None
    boundary_kind: str = ""  # "steps" or "dag": how siblings see a child (steps.X / tasks.X)
    deadline: float | None = None  # epoch seconds
    extra: Mapping[str, str] = field(default_factory=dict)
    on_exit: bool = False
    depth: int = 0

    def but(self, **changes: Any) -> Frame:
        return replace(self, **changes)


class Visit(NamedTuple):
    """What advancing a node gives its caller: the node and, when the node was refused in this
    pass (it errored before running anything: Argo's executeTemplate returned an error), the
    message: a step group or a DAG that sees one is an Error at once."""

    node: Node
    error: str = ""


@dataclass(frozen=True)
class Run:
    """One node to advance: its node, its template with the inputs bound, the kind, the scope
    the template substitutes with, and the frame it runs in."""

    node: Node
    template: dict[str, Any]
    kind: str
    scope: Scope
    frame: Frame
    pod: str  # the pod name (Argo's pod.name of this node)


Handler = Callable[["Pass", Run], Visit]


@dataclass(frozen=True)
class Kinds:
    """Where `walk` hands a node on: the handler of each template kind, and the one of a node
    with a retryStrategy. Given to each pass by `reconcile`: the handlers execute their
    children through `walk`, so `walk` must not import them (no import cycle)."""

    handlers: Mapping[str, Handler]
    retry: Callable[..., Visit]


class Pass:
    """One reconcile pass over one Workflow."""

    def __init__(
        self,
        *,
        workflow: dict[str, Any],
        spec: Mapping[str, Any],
        pods: Mapping[str, PodObservation],
        now: float,
        settings: Settings,
        started: float,
        kinds: Kinds,
        tasks: Mapping[str, TaskObservation] | None = None,
    ) -> None:
        meta = workflow.get("metadata") or {}
        self.workflow = workflow
        self.name = str(meta.get("name"))
        self.uid = str(meta.get("uid") or "")
        self.spec = spec
        self.status: dict[str, Any] = workflow["status"]
        self.nodes = Nodes(self.name, self.status.setdefault("nodes", {}))
        self.pods = pods
        self.tasks: Mapping[str, TaskObservation] = tasks or {}
        # The memoization caches (name -> ConfigMap), as the loop read them for this pass.
        self.caches: Mapping[str, Mapping[str, Any]] = {}
        self.now = now
        self.settings = settings
        self.started = started
        self.kinds = kinds
        self.actions: list[Action] = []
        self.wake_at: float | None = None
        self.globals_base = Scope()
        self.globals = Scope()
        self.global_artifacts: dict[str, dict[str, Any]] = {}
        self.exported: dict[str, str] = {}  # workflow.outputs.parameters.* in `globals`
        deadline = spec.get("activeDeadlineSeconds")
        self.deadline = float(int(started)) + float(deadline) if deadline else None
        self.shutdown = str(spec.get("shutdown") or "")
        self.active_pods = 0  # counted at the start of the pass, plus the pods it creates
        self.children_left = CHILDREN_PER_PASS  # loop children this pass may still start
        # No node may be created (`spec.suspend`): running pods are still reconciled.
        self.frozen = bool(spec.get("suspend"))
        self.nodes.frozen = self.frozen
        self.events: list[Event] = []

    def on_attempt_failed(self, template: Mapping[str, Any], node: Node, scope: Scope) -> None:
        """Argo emits a template's metrics for each failed attempt that is retried, too."""
        if template.get("metrics"):
            self.events.append(Event("node_finished", template, node, scope))

    def wake(self, at: float) -> None:
        """Ask to be reconciled again at `at` (epoch seconds) at the latest."""
        if self.wake_at is None or at < self.wake_at:
            self.wake_at = at

    def halted(self, frame: Frame) -> str | None:
        """Why a node running in `frame` must stop now: `stopping`, or (outside exit handlers)
        its frame's deadline has passed; a deadline still to come is when to be called again."""
        reason = self.stopping(on_exit=frame.on_exit)
        deadline = frame.deadline
        if reason is None and deadline is not None and not frame.on_exit:
            if self.now >= deadline:
                return DEADLINE_MESSAGE
            self.wake(deadline)
        return reason

    def stopping(self, *, on_exit: bool = False) -> str | None:
        """Why no new work may start: a shutdown (Terminate also stops exit handlers) or, outside
        exit handlers, the workflow's deadline."""
        if self.shutdown == SHUTDOWN_TERMINATE:
            return TERMINATE_MESSAGE
        if on_exit:
            return None
        if self.shutdown:
            return f"Stopped with strategy '{self.shutdown}'"
        if self.deadline is not None and self.now >= self.deadline:
            return DEADLINE_MESSAGE
        return None
