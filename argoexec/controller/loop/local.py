"""Runs on this machine: what a controller needs to drive a run besides its Workflow (the run's
options, `run.json` in its directory, so that any controller can take the run over), which
process drives it (a lock on `controller.lock`: one controller per run; it is released when
that process dies, however it dies), and the pods of every run (`LocalRuns`: one `LocalPods`
per run, under the run's `pods/` directory, which `argoexec logs` reads)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from argoexec.contract import (
    DEFAULT_EXECUTOR_IMAGE,
    DEFAULT_POD_NETWORK,
    LABEL_WORKFLOW,
    LOCAL_RUNTIME,
    MAX_OUTPUT_PARAMETERS_BYTES,
    POD_NETWORKS,
)
from argoexec.controller.loop.options import RunOptions
from argoexec.controller.metrics import MetricsRecorder
from argoexec.controller.reconcile import Outcome, Settings
from argoexec.controller.reconcile.clock import epoch
from argoexec.controller.reconcile.context import DEFAULT_MAX_CHILDREN
from argoexec.controller.runtime.images import image_index, index_to_wire
from argoexec.controller.state import RunDir, StateError, write_atomic
from argoexec.controller.workflow.errors import DocumentError
from argoexec.controller.workflow.store import TemplateStore
from argoexec.models import ArtifactRepository
from artifacts.driver import DriverContext

from .artgc import LocalArtifactGC, driver_context
from .local_pods import LocalPods
from .locks import FileLocks
from .podhost import RuntimeSettings
from .run_metrics import record_events
from .seams import PodObservation
from .state_store import DirectoryStore

log = logging.getLogger("argoexec.controller")
RUN_FILE = "run.json"
# How long a controller letting runs go waits for their pods to end (a grace period is 30 s
# unless the pod says otherwise).
SETTLE_SECONDS = 40.0
LOCK_FILE = "controller.lock"
PODS_DIR = "pods"
CLAIMS_DIR = "claims"


@dataclass
class RunConfig:
    """A run's options, as `argoexec run` was given them (JSON in `run.json`)."""

    sandbox: bool = True
    secrets_dir: str | None = None
    kubeconfig: str | None = None
    executor_image: str = DEFAULT_EXECUTOR_IMAGE
    namespace: str = "default"
    log_level: str = "info"
    executor_env: list[list[str]] = field(default_factory=list)
    max_children: int = DEFAULT_MAX_CHILDREN
    max_pods: int = 0
    max_output_parameters_bytes: int = MAX_OUTPUT_PARAMETERS_BYTES
    artifact_repository: dict[str, Any] | None = None
    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    templates: list[dict[str, Any]] = field(default_factory=list)  # (Cluster)WorkflowTemplates
    runtime: str = LOCAL_RUNTIME
    images: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # Argo's `images`
    pod_network: str = DEFAULT_POD_NETWORK

    @classmethod
    def of(cls, options: RunOptions, *, sandbox: bool, templates: TemplateStore) -> RunConfig:
        repository = options.artifact_repository
        return cls(
            sandbox=sandbox,
            secrets_dir=str(options.secrets_dir) if options.secrets_dir else None,
            kubeconfig=str(options.kubeconfig) if options.kubeconfig else None,
            executor_image=options.executor_image,
            namespace=options.namespace,
            log_level=options.log_level,
            executor_env=[[k, v] for k, v in options.executor_env],
            max_children=options.max_children,
            max_pods=options.max_pods,
            max_output_parameters_bytes=options.max_output_parameters_bytes,
            artifact_repository=repository.to_wire() if repository is not None else None,
            config_maps={k: dict(v) for k, v in options.config_maps.items()},
            templates=[owner.document for owner in templates.owners()],
            runtime=options.runtime,
            images=index_to_wire(options.images),
            pod_network=options.pod_network,
        )

    def options(self) -> RunOptions:
        repository = self.artifact_repository
        return RunOptions(
            artifact_repository=ArtifactRepository.model_validate(repository)
            if repository is not None
            else None,
            config_maps=self.config_maps,
            secrets_dir=Path(self.secrets_dir) if self.secrets_dir else None,
            kubeconfig=Path(self.kubeconfig) if self.kubeconfig else None,
            executor_image=self.executor_image,
            namespace=self.namespace,
            log_level=self.log_level,
            executor_env=tuple((k, v) for k, v in self.executor_env),
            max_children=self.max_children,
            max_pods=self.max_pods,
            max_output_parameters_bytes=self.max_output_parameters_bytes,
            runtime=self.runtime,
            images=image_index(self.images),
            pod_network=self.pod_network,
        )

    def template_store(self) -> TemplateStore:
        store = TemplateStore()
        for document in self.templates:
            store.add(document)
        return store

    def text(self) -> str:
        """What `run.json` holds."""
        return json.dumps(asdict(self), indent=1) + "\n"

    def save(self, run_path: Path) -> None:
        write_atomic(run_path / RUN_FILE, self.text())

    @classmethod
    def load(cls, run_path: Path) -> RunConfig:
        path = run_path / RUN_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            found = cls(**data)
            if found.pod_network not in POD_NETWORKS:
                raise ValueError(f"pod_network {found.pod_network!r} is none of {POD_NETWORKS}")
            return found
        except (OSError, ValueError, TypeError) as exc:
            raise StateError(f"cannot read the run's options {path}: {exc}") from None


class RunLock:
    """The right to drive one run (flock on `controller.lock`): held by one process at a time,
    released when it exits, however it exits."""

    def __init__(self, run_path: Path) -> None:
        self.path = run_path / LOCK_FILE
        self._fd: int | None = None

    def take(self) -> bool:
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class LocalRuns:
    """A `PodBackend` for every run of a state directory: each run's pods are a `LocalPods`
    under its own directory, set up with that run's options."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._backends: dict[str, LocalPods] = {}
        self._config_maps: dict[str, dict[str, dict[str, str]]] = {}  # a run's ConfigMaps
        self._owner: dict[str, str] = {}  # pod name -> workflow name

    def backend(self, workflow: str, config: RunConfig | None = None) -> LocalPods:
        found = self._backends.get(workflow)
        if found is None:
            config = config or RunConfig.load(self.root / workflow)
            self._config_maps[workflow] = config.config_maps
            run_path = self.root / workflow
            found = LocalPods(
                run_path / PODS_DIR,
                settings=RuntimeSettings(
                    kind=config.runtime,
                    executor_image=config.executor_image,
                    sandbox=config.sandbox,
                    claims=str(run_path / CLAIMS_DIR),
                    pod_network=config.pod_network,
                ),
                secrets=Path(config.secrets_dir) if config.secrets_dir else None,
                max_parameters_bytes=config.max_output_parameters_bytes,
                kubeconfig=Path(config.kubeconfig) if config.kubeconfig else None,
            )
            self._backends[workflow] = found
        return found

    def _of(self, pod: Mapping[str, Any]) -> str:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        return str(labels.get(LABEL_WORKFLOW) or "")

    def adapt(self, pod: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
        return self.backend(self._of(pod)).adapt(pod, template)

    def create(self, pod: Mapping[str, Any], config_maps: Mapping[str, Mapping[str, str]]) -> None:
        workflow = self._of(pod)
        self._owner[str(pod["metadata"]["name"])] = workflow
        backend = self.backend(workflow)
        # The run's ConfigMaps (given with --templates) back its pods' volumes and env too.
        backend.create(pod, {**self._config_maps.get(workflow, {}), **config_maps})

    def observe(self, workflow_name: str) -> dict[str, PodObservation]:
        found = self.backend(workflow_name).observe(workflow_name)
        for observation in found.values():
            self._owner[observation.pod_name] = workflow_name
        return found

    def signal(self, pod_name: str, container: str, signum: int) -> None:
        workflow = self._owner.get(pod_name)
        if workflow is not None:
            self.backend(workflow).signal(pod_name, container, signum)

    def delete(self, pod_name: str) -> None:
        workflow = self._owner.get(pod_name)
        if workflow is not None:
            self.backend(workflow).delete(pod_name)

    def wait(self, timeout: float) -> bool:
        backends = list(self._backends.values())
        if not backends:
            time.sleep(min(timeout, 0.05))
            return False
        if len(backends) == 1:
            return backends[0].wait(timeout)
        share = max(timeout / len(backends), 0.005)
        return any(backend.wait(share) for backend in backends)

    def settle(self, workflow: str, timeout: float) -> bool:
        """Wait until no pod of `workflow` runs (deleted ones end after their grace period)."""
        return self.backend(workflow).settle(timeout)

    def logs(self, workflow: str, pod_name: str, container: str) -> str:
        return self.backend(workflow).logs(pod_name, container)

    def forget(self, workflow: str) -> None:
        """Stop watching `workflow`'s pods (they go on; a later call starts again)."""
        backend = self._backends.pop(workflow, None)
        if backend is not None:
            with contextlib.suppress(OSError):
                backend.close()
        self._owner = {pod: wf for pod, wf in self._owner.items() if wf != workflow}

    def close(self) -> None:
        for backend in self._backends.values():
            with contextlib.suppress(OSError):
                backend.close()


def file_locks(root: Path, store: DirectoryStore) -> FileLocks:
    """The locks every run of the state directory `root` shares."""
    return FileLocks(root, get=store.get, workflows=store.list)


def settings_for(config: RunConfig) -> Settings:
    """The reconciler's settings for a run with these options."""
    from .runner import settings_of

    try:
        store = config.template_store()
    except DocumentError as exc:
        raise StateError(f"the run's WorkflowTemplates cannot be read: {exc}") from None
    return settings_of(config.options(), store)


def run_driver_context(root: Path, name: str) -> DriverContext:
    """What a run's artifacts are deleted with (artifact GC): its secrets directory (none for
    a run without recorded options)."""
    try:
        secrets = RunConfig.load(root / name).secrets_dir
    except StateError:
        secrets = None
    return driver_context(Path(secrets) if secrets else None)


class LocalController:
    """Drives runs of a state directory, each with its own options, one process per run."""

    def __init__(self, root: Path) -> None:
        from .caches import DirectoryCaches
        from .controller import Controller
        from .tasks import ThreadTasks

        self.root = root
        self.store = DirectoryStore(root)
        self.locks = file_locks(root, self.store)
        self.pods = LocalRuns(root)
        self._settings: dict[str, Settings] = {}
        self._locks: dict[str, RunLock] = {}
        self._metrics: dict[str, MetricsRecorder] = {}
        self.controller = Controller(
            self.store,
            self.pods,
            self.settings,
            claim=self.claim,
            release=self.release,
            on_events=self._on_events,
            collect=LocalArtifactGC(self.driver_context),
            tasks=ThreadTasks(secrets_for=lambda name: self.pods.backend(name).secrets),
            caches=DirectoryCaches(root),
        )

    def driver_context(self, name: str) -> DriverContext:
        return run_driver_context(self.root, name)

    def settings(self, name: str) -> Settings:
        found = self._settings.get(name)
        if found is None:
            settings = settings_for(RunConfig.load(self.root / name))
            found = self._settings[name] = replace(settings, locks=self.locks)
        return found

    def claim(self, name: str) -> bool:
        """Take the run if no other process drives it (and it has its options)."""
        if name in self._locks:
            return True
        run_path = self.root / name
        if not (run_path / RUN_FILE).exists():
            return False  # not a run this controller can drive (none of its options)
        lock = RunLock(run_path)
        if not lock.take():
            return False
        self._locks[name] = lock
        self.runs_owner(run_path)
        return True

    def release(self, name: str) -> None:
        """Let go of a run this controller no longer drives (finished, or deleted): its lock,
        its options, its pods' backend (its metrics written a last time)."""
        self._write_metrics(name)
        self._metrics.pop(name, None)
        lock = self._locks.pop(name, None)
        if lock is not None:
            lock.release()
        self._settings.pop(name, None)
        self.pods.forget(name)

    def _on_events(self, name: str, outcome: Outcome) -> None:
        """The run's custom metrics, rewritten in its directory as they change. A run taken
        over records what its new controller emits from then on, as Argo's metrics, which live
        in the controller's memory, start again with a new controller."""
        metrics = self._metrics.get(name)
        if metrics is None:
            started = epoch((outcome.workflow.get("status") or {}).get("startedAt"))
            metrics = self._metrics[name] = MetricsRecorder(started=started)
        record_events(metrics, name, self.settings(name).namespace, outcome)
        self._write_metrics(name)

    def _write_metrics(self, name: str) -> None:
        metrics = self._metrics.get(name)
        if metrics is None or not metrics.registry:  # none emitted: an earlier file stays
            return
        try:
            RunDir(name, self.root / name).write_metrics(metrics.text())
        except StateError as exc:  # a full disk: written again with the next change
            log.warning("%s", exc)

    @staticmethod
    def runs_owner(run_path: Path) -> None:
        with contextlib.suppress(StateError, OSError):
            RunDir(run_path.name, run_path).mark_owner(os.getpid())

    def tidy(self, name: str) -> None:
        """Before letting a run go: its pods' supervisors have ended (a deleted pod's within
        its grace period), and what deleted pods left is removed (but their logs)."""
        backend = self.pods.backend(name)
        if not backend.settle(SETTLE_SECONDS):
            log.warning("pods of %s still running after %.0f s; leaving them", name, SETTLE_SECONDS)
        with contextlib.suppress(OSError, StateError):
            backend.observe(name)  # collects the deleted pods whose supervisor is gone

    def drive(
        self,
        names: list[str] | None = None,
        *,
        until_done: bool = True,
        stopping: Any = None,
        every_round: Callable[[], None] | None = None,
    ) -> None:
        """`every_round` is called before each round (the CronWorkflow scheduler: the runs it
        creates are driven from the next round on)."""
        stop: Callable[[], bool] = stopping or (lambda: False)

        def stopping_after_round() -> bool:
            if every_round is not None:
                every_round()
            return stop()

        try:
            self.controller.drive(names, until_done=until_done, stopping=stopping_after_round)
        finally:
            self.close()

    def close(self) -> None:
        for name in list(self._locks):
            self.tidy(name)
        self.pods.close()
        for lock in self._locks.values():
            lock.release()
        self._locks.clear()
