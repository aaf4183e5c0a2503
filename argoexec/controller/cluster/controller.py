"""`argoexec controller` on a cluster: the same level-triggered loop as on this machine
(`loop.controller.Controller`), with Workflows, pods and WorkflowTaskResults on the API server.

Kubernetes is the distributed engine: pods run where the scheduler puts them, and this process
keeps no state of its own (the Workflows' status is all; a controller restarted mid-run picks
every run up from it). Only the elected leader acts (a Lease); the others keep their caches
warm. The controller's configuration is Argo's `workflow-controller-configmap`, read at start.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from argoexec.controller.loop.controller import Controller, FinalWriteError, finished
from argoexec.controller.loop.locks import MemoryLocks, stale_holder
from argoexec.controller.loop.run_metrics import record_events
from argoexec.controller.loop.seams import NotFoundError
from argoexec.controller.metrics import MetricsRecorder
from argoexec.controller.metrics.registry import MetricRegistry
from argoexec.controller.reconcile import Outcome, Settings
from argoexec.controller.reconcile.clock import epoch
from argoexec.kube.errors import KubeError, KubeNotFoundError
from argoexec.models import ArtifactRepository

from .admit import admit, refused, started
from .agent_pod import AgentPodSettings, agent_pod
from .api import ClusterApi
from .artgc import ClusterArtifactGC
from .caches import ClusterCaches
from .config import (
    CONFIG_MAP,
    REPOSITORIES_CONFIG_MAP,
    ConfigError,
    ControllerConfig,
    parse_config,
    repository_from_config_map,
)
from .configmaps import NamespaceConfigMaps, config_map_path
from .crons import ClusterCrons
from .gauges import metrics_text
from .informer import Informer
from .lease import LeaderElector, LeaseTimes
from .pods import ClusterPods
from .serve import Endpoints
from .store import ClusterWorkflowStore, instance_selector, split_key, workflow_key, workflows_path
from .tasksets import ClusterTasks
from .templates import ClusterTemplates

log = logging.getLogger("argoexec.controller")

SYNC_TIMEOUT = 60.0  # seconds the caches may take to fill at start
RETRY = 1.0  # seconds before the loop goes on after a failed call
STALE_AFTER = 60.0  # a loop that has not gone round for this long is not healthy
DEFAULT_REPOSITORY_ANNOTATION = "workflows.argoproj.io/default-artifact-repository"


@dataclass(frozen=True)
class ClusterOptions:
    namespace: str | None = None  # the one namespace watched; None: all of them
    controller_namespace: str = "default"  # where its ConfigMap and its Lease are
    config_map: str = CONFIG_MAP
    instance_id: str = ""
    executor_image: str | None = None  # wins over the ConfigMap's
    identity: str = "argoexec-controller"
    lease_name: str = "argoexec-controller"
    leader_election: bool = True
    lease_times: LeaseTimes = field(default_factory=LeaseTimes)
    address: str = ""  # of the endpoints ("": every interface, as in a pod)
    health_port: int | None = 6060
    metrics_port: int | None = 9090
    log_level: str = "info"


class ControllerStartError(Exception):
    """The controller cannot start (its configuration, the API server); `str()` says why."""


class ClusterController:
    def __init__(self, api: ClusterApi, options: ClusterOptions) -> None:
        self.api = api
        self.options = options
        self.config = self._read_config()
        self.instance_id = options.instance_id or self.config.instance_id
        namespace = options.namespace
        self.pods = ClusterPods(
            api,
            namespace=namespace,
            instance_id=self.instance_id,
            grace_period=self.config.pod_gc_grace_period,
        )
        self.tasks = ClusterTasks(
            api,
            self.pods,
            agent_pod=lambda workflow: agent_pod(workflow, self._agent_settings()),
            namespace=namespace,
        )
        self.workflows = Informer(
            api,
            workflows_path(namespace),
            label_selector=instance_selector(self.instance_id),
            handler=self.pods.poke,
            resync=60.0,
            what="workflows",
        )
        self.store = ClusterWorkflowStore(api, self.workflows)
        self.crons = ClusterCrons(
            api, self.store, namespace=namespace, instance_id=self.instance_id
        )
        # Mutexes and semaphores (`synchronization`): this process's, rebuilt from the
        # Workflows' status whenever it starts leading, as Argo's sync manager at start.
        self.locks = MemoryLocks(
            stale=lambda: stale_holder(self._cached, lambda ns, n: f"{ns}/{n}")
        )
        self.templates = ClusterTemplates(api, namespace=namespace)
        self.registry = MetricRegistry()
        self.recorders: dict[str, MetricsRecorder] = {}
        self._repositories: dict[str, ArtifactRepository | None] = {}
        self._config_maps: dict[str, NamespaceConfigMaps] = {}
        self._cleaned: set[str] = set()
        self.elector: LeaderElector | None = None
        if options.leader_election:
            self.elector = LeaderElector(
                api,
                namespace=options.controller_namespace,
                name=self._lease_name(),
                identity=options.identity,
                times=options.lease_times,
            )
        self.controller = Controller(
            self.store,
            self.pods,
            self._settings,
            claim=self._claim,
            key=workflow_key,
            prepare=self._admit,
            on_events=self._on_events,
            on_stored=self._on_stored,
            collect=ClusterArtifactGC(
                api,
                self.pods,
                executor_image=self.config.executor_image,
                pull_policy=self.config.executor_image_pull_policy or "",
                log_level=options.log_level,
                instance_id=self.instance_id,
            ),
            tasks=self.tasks,
            caches=ClusterCaches(api),
        )
        self.last_round = time.monotonic()
        self.endpoints: list[Endpoints] = []

    def _lease_name(self) -> str:
        base = self.options.lease_name
        return f"{base}-{self.instance_id}" if self.instance_id else base

    # --- configuration ----------------------------------------------------------------------

    def _read_config(self) -> ControllerConfig:
        namespace, name = self.options.controller_namespace, self.options.config_map
        where = f"ConfigMap {namespace}/{name}"
        try:
            found = self.api.get(config_map_path(namespace, name))
        except KubeNotFoundError:
            log.info("%s not found: the defaults apply", where)
            found = {}
        except KubeError as exc:
            raise ControllerStartError(f"cannot read {where}: {exc}") from None
        try:
            config = parse_config(found, where=where) if found else ControllerConfig()
        except ConfigError as exc:
            raise ControllerStartError(str(exc)) from None
        if self.options.executor_image:
            config = replace(config, executor_image=self.options.executor_image)
        return config

    def config_maps(self, namespace: str) -> NamespaceConfigMaps:
        found = self._config_maps.get(namespace)
        if found is None:
            found = self._config_maps[namespace] = NamespaceConfigMaps(self.api, namespace)
        return found

    def _agent_settings(self) -> AgentPodSettings:
        return AgentPodSettings(
            executor_image=self.config.executor_image,
            executor_image_pull_policy=self.config.executor_image_pull_policy,
            instance_id=self.instance_id,
            log_level=self.options.log_level,
        )

    def _settings(self, key: str) -> Settings:
        namespace, name = split_key(key)
        repository = self._repository_of(key, namespace, name)
        config = self.config
        return Settings(
            executor_image=config.executor_image,
            executor_image_pull_policy=config.executor_image_pull_policy,
            executor_resources=config.executor_resources,
            executor_security_context=config.executor_security_context,
            executor_env=config.executor_env,
            namespace=namespace,
            log_level=self.options.log_level,
            config_maps=self.config_maps(namespace),
            artifact_repository=repository,
            kubernetes_api=True,
            store=self.templates.store(namespace),
            images=config.images,
            instance_id=self.instance_id,
            pod_gc_by_strategy=True,
            locks=self.locks,
        )

    def _cached(self, key: str) -> dict[str, Any]:
        found = self.workflows.get(*split_key(key))
        if found is None:
            raise NotFoundError(key)
        return found

    def _repository_of(self, key: str, namespace: str, name: str) -> ArtifactRepository | None:
        if key in self._repositories:
            return self._repositories[key]
        stored = self.workflows.get(namespace, name) or {}
        wire = ((stored.get("status") or {}).get("artifactRepositoryRef") or {}).get(
            "artifactRepository"
        )
        repository = ArtifactRepository.model_validate(wire) if wire else None
        repository = repository or self.config.artifact_repository
        self._repositories[key] = repository
        return repository

    # --- the loop's hooks -------------------------------------------------------------------

    def _admit(self, workflow: dict[str, Any]) -> dict[str, Any]:
        key = workflow_key(workflow)
        namespace, _ = split_key(key)
        admitted = admit(
            workflow,
            self.templates.store(namespace),
            self.config_maps(namespace),
            self.config.workflow_defaults,
        )
        if started(admitted):
            return admitted
        try:
            ref, repository = self._resolve_repository(namespace, admitted)
        except ConfigError as exc:
            return refused(workflow, str(exc))
        self._repositories[key] = repository
        if repository is not None:
            ref["artifactRepository"] = repository.to_wire()
            admitted.setdefault("status", {})["artifactRepositoryRef"] = ref
        return admitted

    def _resolve_repository(
        self, namespace: str, workflow: Mapping[str, Any]
    ) -> tuple[dict[str, Any], ArtifactRepository | None]:
        """Argo's order: the workflow's `artifactRepositoryRef`, else its namespace's
        `artifact-repositories` ConfigMap when it names a default, else the controller's."""
        ref = (workflow.get("spec") or {}).get("artifactRepositoryRef") or {}
        name = str(ref.get("configMap") or REPOSITORIES_CONFIG_MAP)
        where = f"spec.artifactRepositoryRef: ConfigMap {namespace}/{name}"
        found = self.config_maps(namespace).object(name)
        if ref and found is None:
            raise ConfigError(f"{where} not found")
        annotations = ((found or {}).get("metadata") or {}).get("annotations") or {}
        if found is not None and (ref or DEFAULT_REPOSITORY_ANNOTATION in annotations):
            key = ref.get("key") or annotations.get(DEFAULT_REPOSITORY_ANNOTATION)
            repository = repository_from_config_map(found, key, where=where)
            return {"configMap": name, "key": key, "namespace": namespace}, repository
        return {"default": True}, self.config.artifact_repository

    def _claim(self, key: str) -> bool:
        """Whether a workflow may start: `parallelism` and `namespaceParallelism` (running
        ones are always taken: they count, they are not held back)."""
        namespace, name = split_key(key)
        workflow = self.workflows.get(namespace, name) or {}
        if started(workflow) or finished(workflow):
            return True
        running = [k for k, run in self.controller.runs.items() if not finished(run.workflow)]
        limit, per_namespace = self.config.parallelism, self.config.namespace_parallelism
        if limit and len(running) >= limit:
            return False
        in_namespace = [k for k in running if k.startswith(f"{namespace}/")]
        return not (per_namespace and len(in_namespace) >= per_namespace)

    def _on_events(self, key: str, outcome: Outcome) -> None:
        namespace, name = split_key(key)
        recorder = self.recorders.get(key)
        if recorder is None:
            begun = epoch((outcome.workflow.get("status") or {}).get("startedAt"))
            recorder = MetricsRecorder(started=begun or time.time(), registry=self.registry)
            self.recorders[key] = recorder
        record_events(recorder, name, namespace, outcome)
        conditions = recorder.conditions()
        if conditions:  # Argo's MetricsError condition, stored with this pass's changes
            status = outcome.workflow.setdefault("status", {})
            kept = [c for c in status.get("conditions") or [] if c.get("type") != "MetricsError"]
            status["conditions"] = kept + conditions

    def _on_stored(self, workflow: dict[str, Any]) -> None:
        if not finished(workflow):
            return
        key = workflow_key(workflow)
        self.recorders.pop(key, None)
        self._repositories.pop(key, None)
        if key not in self._cleaned:
            self._cleaned.add(key)
            self.pods.delete_task_results(*split_key(key))
            self.pods.forget(*split_key(key))

    # --- running ----------------------------------------------------------------------------

    def healthy(self) -> bool:
        if not self.workflows.synced.is_set():
            return False
        leading = self.elector is None or self.elector.leading.is_set()
        return not leading or time.monotonic() - self.last_round < STALE_AFTER

    def metrics(self) -> bytes:
        leading = self.elector is None or self.elector.leading.is_set()
        return metrics_text(self, leading=leading) + self.registry.text().encode()

    def start(self) -> None:
        """Caches filled, endpoints serving, the election begun."""
        self.pods.start()
        self.tasks.start()
        self.workflows.start()
        self.templates.start()
        self.crons.start()
        parts = (self.pods, self.tasks, self.workflows, self.templates, self.crons)
        synced = all(part.wait_synced(SYNC_TIMEOUT) for part in parts)
        if not synced:
            raise ControllerStartError(
                f"the caches of {self.api.host} did not fill in {SYNC_TIMEOUT:.0f} s"
            )
        ports = {self.options.health_port, self.options.metrics_port} - {None}
        for port in sorted(p for p in ports if p is not None):
            endpoints = Endpoints(
                self.options.address, port, healthy=self.healthy, metrics=self.metrics
            )
            endpoints.start()
            self.endpoints.append(endpoints)
        if self.elector is not None:
            self.elector.start()

    def run(self, stopping: Callable[[], bool]) -> int:
        """Drive workflows while leading, until `stopping()`; 1 if leadership was lost (the
        process should end: another replica leads now), else 0."""
        self.start()
        try:
            while not stopping():
                if self.elector is not None and not self.elector.leading.wait(0.5):
                    self.last_round = time.monotonic()
                    continue
                self._drive(stopping)
                if self.elector is not None and self.elector.lost.is_set():
                    return 1
            return 0
        finally:
            self.close()

    def _drive(self, stopping: Callable[[], bool]) -> None:
        """The loop until stopped; a failed call to the API server (a burst of 429 or 5xx
        answers, a lost connection) ends a round, not the controller: the next round reads
        the Workflows again and goes on where their status says."""
        self.locks.restore(self.workflows.items())
        try:
            self.controller.drive(None, until_done=False, stopping=lambda: self._stop(stopping))
        except (KubeError, FinalWriteError) as exc:
            cause = exc.cause if isinstance(exc, FinalWriteError) else str(exc)
            log.warning("the API server failed a call: %s; going on in %.0f s", cause, RETRY)
            time.sleep(RETRY)

    def _stop(self, stopping: Callable[[], bool]) -> bool:
        """Called before each round: the CronWorkflows and TTLs are seen to there (while
        leading: `_drive` runs only then), their new runs driven from the next round on."""
        self.last_round = time.monotonic()
        done = stopping() or (self.elector is not None and not self.elector.leading.is_set())
        if not done:
            self.crons.tick()
        return done

    def close(self) -> None:
        if self.elector is not None:
            self.elector.stop()
        for endpoints in self.endpoints:
            endpoints.stop()
        self.pods.stop()
        self.tasks.stop()
        self.workflows.stop()
        self.templates.stop()
        self.crons.stop()


__all__ = ["ClusterController", "ClusterOptions", "ControllerStartError"]
