"""Shared state of one workflow run, and the immutable frame each node executes in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from argoexec.controller.metrics import MetricsRecorder
from argoexec.controller.runtime.protocol import Runtime
from argoexec.lifecycle import Stop
from argoexec.models import ArtifactRepository

from .nodes import NodeTree
from .pods import ResultChannel
from .scope import Scope, with_outputs

DEADLINE_MESSAGE = "Step exceeded its deadline"


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
    executor_image: str = "quay.io/argoproj/argoexec:latest"
    namespace: str = "default"
    max_depth: int = 100
    poll_interval: float = 0.05
    log_level: str = "info"
    # (name, value) pairs added to the env of every executor container (Argo's `executor.env`).
    executor_env: tuple[tuple[str, str], ...] = ()


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
        self.pod_slots = threading.BoundedSemaphore(int(parallelism)) if parallelism else None
        self._pod_stops: set[Stop] = set()
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

    def stopping(self) -> str | None:
        """Why no new work may start (stop request or workflow deadline), else None."""
        if self.stop.is_set():
            return self.stop.reason or "stopped"
        if self.deadline is not None and time.time() >= self.deadline:
            self.halt(DEADLINE_MESSAGE)
            return DEADLINE_MESSAGE
        return None

    def halt(self, reason: str) -> None:
        with self.lock:
            if not self.stop.is_set():
                self.stop.set(reason)
            stops = list(self._pod_stops)
            self.changed.notify_all()
        for stop in stops:
            if not stop.is_set():
                stop.set(reason)

    def register_pod(self, stop: Stop) -> None:
        with self.lock:
            self._pod_stops.add(stop)
            if self.stop.is_set():
                stop.set(self.stop.reason)

    def unregister_pod(self, stop: Stop) -> None:
        with self.lock:
            self._pod_stops.discard(stop)
