"""Shared state of one workflow run, and the immutable frame each node executes in."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from argoexec.contract import DEFAULT_EXECUTOR_IMAGE, MAX_OUTPUT_PARAMETERS_BYTES
from argoexec.controller.metrics import MetricsRecorder
from argoexec.controller.runtime.protocol import Runtime
from argoexec.lifecycle import Stop
from argoexec.models import ArtifactRepository

from .nodes import NodeTree
from .pods import ResultChannel
from .scope import Scope, with_outputs
from .slots import PodSlots

DEADLINE_MESSAGE = "Step exceeded its deadline"
# Argo has no cap on the children of a node; a laptop needs one. Each child is a node in the
# status (and a thread while it runs): 10,000 keeps a run's memory and `workflow.json` in the
# tens of MB, and is of the order of the nodes an Argo workflow's status holds without node
# status offloading (its 1 MiB limit applies after compression).
DEFAULT_MAX_CHILDREN = 10000


class EngineError(Exception):
    """The workflow cannot start (bad reference, missing argument...): nothing has run."""


class TemplateStoreLike(Protocol):
    def resolve_template_ref(self, ref: Mapping[str, Any]) -> tuple[dict[str, Any], Any]: ...


class Control(Protocol):
    """Requests from outside the run (`argoexec stop` / `argoexec resume`)."""

    def stop_requested(self) -> str | None: ...

    def take_resume_requests(self) -> list[str | None]: ...

    def take_supplied(self) -> list[tuple[str | None, dict[str, str]]]:
        """Values for suspended nodes' `valueFrom.supplied` outputs: (node or None, values)."""
        ...


@dataclass(frozen=True)
class Owner:
    """The template namespace a template came from: the workflow, or a (Cluster)WorkflowTemplate
    whose own `template:` references resolve among its templates."""

    name: str
    templates: Mapping[str, Mapping[str, Any]]
    scope: str = "local/"  # Argo's templateScope: local/, namespaced/<wft>, cluster/<cwft>


@dataclass(frozen=True)
class Frame:
    """What a node executes with: the caller's variables (to resolve its arguments), the
    template namespace, the enclosing boundary, the tightest deadline, and exit-handler extras."""

    scope: Scope
    artifacts: Mapping[str, Mapping[str, Any]]
    owner: Owner
    boundary_id: str | None = None
    boundary_kind: str = ""  # "steps" or "dag": how siblings see a child (steps.X / tasks.X)
    deadline: float | None = None  # epoch seconds
    extra: Mapping[str, str] = field(default_factory=dict)
    on_exit: bool = False
    depth: int = 0

    def but(self, **changes: Any) -> Frame:
        return replace(self, **changes)


@dataclass
class RunOptions:
    parameters: Mapping[str, str] = field(default_factory=dict)
    entrypoint: str | None = None
    artifact_repository: ArtifactRepository | None = None
    config_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    secrets_dir: Path | None = None
    kubeconfig: Path | None = None
    executor_image: str = DEFAULT_EXECUTOR_IMAGE
    namespace: str = "default"
    max_depth: int = 100
    poll_interval: float = 0.05
    log_level: str = "info"
    # (name, value) pairs added to the env of every executor container (Argo's `executor.env`).
    executor_env: tuple[tuple[str, str], ...] = ()
    # Children of one node (loop items, retry attempts); 0 = no cap.
    max_children: int = DEFAULT_MAX_CHILDREN
    # Pods running at once in this run (the local runtime's machine); 0 = no cap.
    max_pods: int = 0
    # Bytes of one node's output parameters, all together; 0 = no cap.
    max_output_parameters_bytes: int = MAX_OUTPUT_PARAMETERS_BYTES


class RunState:
    """Mutable, thread-safe state shared by every node of the run."""

    def __init__(
        self,
        *,
        name: str,
        uid: str,
        workflow: Mapping[str, Any],
        options: RunOptions,
        runtime: Runtime,
        results: ResultChannel,
        store: TemplateStoreLike | None,
        on_change: Callable[[], None],
    ) -> None:
        self.name = name
        self.uid = uid
        self.workflow = workflow
        self.spec: Mapping[str, Any] = workflow.get("spec") or {}
        self.options = options
        self.runtime = runtime
        self.results = results
        self.store = store
        self.tree = NodeTree(name, on_change)
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.globals = Scope()
        self.global_artifacts: dict[str, dict[str, Any]] = {}
        self.output_parameters: list[dict[str, Any]] = []
        self.output_artifacts: list[dict[str, Any]] = []
        self.stop = Stop()
        self.started = time.time()
        self.metrics = MetricsRecorder(started=self.started)
        deadline = self.spec.get("activeDeadlineSeconds")
        self.deadline = self.started + float(deadline) if deadline else None
        parallelism = self.spec.get("parallelism")
        self.pod_slots = PodSlots(int(parallelism) if parallelism else None, options.max_pods)
        self._pods: dict[Stop, tuple[str, bool]] = {}  # running pods: (name, of an exit handler)
        # Set by a second interrupt: every pod is killed at once, exit handlers' too.
        self.aborted = ""
        self.resumed: set[str] = set()  # ids of suspended nodes to resume
        self.supplied: dict[str, dict[str, str]] = {}  # node id -> supplied output values

    # --- globals ----------------------------------------------------------------------------

    def export_parameter(self, name: str, value: str) -> None:
        with self.lock:
            self.globals = with_outputs(self.globals, {name: value})
            self.output_parameters = [p for p in self.output_parameters if p["name"] != name]
            self.output_parameters.append({"name": name, "value": value})

    def export_artifact(self, name: str, artifact: Mapping[str, Any]) -> None:
        with self.lock:
            self.global_artifacts[f"workflow.outputs.artifacts.{name}"] = dict(artifact)
            self.output_artifacts = [a for a in self.output_artifacts if a["name"] != name]
            self.output_artifacts.append({**artifact, "name": name})

    # --- stopping ---------------------------------------------------------------------------

    def stopping(self, *, on_exit: bool = False) -> str | None:
        """Why no new work may start, else None: an abort; for work outside exit handlers also
        a stop request or the workflow deadline."""
        if self.aborted:
            return self.aborted
        if on_exit:
            return None
        if self.stop.is_set():
            return self.stop.reason or "stopped"
        if self.deadline is not None and time.time() >= self.deadline:
            self.halt(DEADLINE_MESSAGE)
            return DEADLINE_MESSAGE
        return None

    def halt(self, reason: str) -> None:
        """Stop the run: nothing new starts and running pods are terminated; exit handlers and
        their pods still run."""
        with self.lock:
            if not self.stop.is_set():
                self.stop.set(reason)
            stops = [stop for stop, (_, on_exit) in self._pods.items() if not on_exit]
            self.changed.notify_all()
        for stop in stops:
            stop.set(reason)

    def abort(self, reason: str) -> None:
        """Stop the run now: every pod is terminated, exit handlers' too, and killed (see
        `kill_pods`)."""
        with self.lock:
            self.aborted = self.aborted or reason
            stops = list(self._pods)
        self.halt(reason)
        for stop in stops:
            stop.set(reason)
        self.kill_pods()

    def kill_pods(self) -> None:
        """While aborting, SIGKILL the containers of every pod still registered: called again
        and again, since a pod that was starting has its processes only later."""
        if not self.aborted:
            return
        with self.lock:
            names = [name for name, _ in self._pods.values()]
        for name in names:
            with contextlib.suppress(OSError, KeyError):  # it ended meanwhile
                self.runtime.kill(name, None, signal.SIGKILL)

    def register_pod(self, stop: Stop, name: str, *, on_exit: bool) -> None:
        """A pod about to run; its `stop` is set when the run halts (aborts, for an exit
        handler's pod)."""
        with self.lock:
            self._pods[stop] = (name, on_exit)
            reason = self.aborted
            if not reason and not on_exit and self.stop.is_set():
                reason = self.stop.reason or "stopped"
        if reason:
            stop.set(reason)

    def unregister_pod(self, stop: Stop) -> None:
        with self.lock:
            self._pods.pop(stop, None)
            self.changed.notify_all()

    def settle(self, timeout: float) -> bool:
        """Wait until no pod is registered (each ended and was cleaned up); False on timeout."""
        end = time.monotonic() + timeout
        with self.lock:
            while self._pods:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(min(left, 0.1))
        return True
