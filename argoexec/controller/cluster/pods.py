"""Pods on the API server: the loop's `PodBackend` seam, as Argo's controller drives them.

What it reads comes from two watch-fed caches: the workflows' pods (label
`workflows.argoproj.io/workflow`) and their `WorkflowTaskResult`s (named after the node id, with
`report-outputs-completed`). Creating is a POST (an `AlreadyExists` pod is the one asked for:
pod names are deterministic), signalling is `argoexec kill` through `pods/exec` (in a small pool
of threads: the loop never waits on a container), deleting is a DELETE with the configured grace
period. A pod the API server refuses for good (403, 422: a quota, an admission webhook, an
invalid spec) is observed as a pod that failed to start, with the server's message, so its node
fails with it as in Argo; a transient refusal (429, 5xx, a lost connection) is asked again by
the next pass, which still sees no pod.

One `ClusterPods` serves every namespace; the loop talks to the view of one workflow
(`of(key)`), whose pod names are unique within its namespace.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from argoexec import contract as c
from argoexec.controller.loop.clone import clone
from argoexec.controller.loop.seams import PodObservation
from argoexec.controller.runtime.kill import kill_command
from argoexec.controller.runtime.status import PodResult
from argoexec.kube.client import resource_path
from argoexec.kube.errors import KubeAlreadyExistsError, KubeError, KubeNotFoundError, is_transient
from argoexec.models import NodeResult

from .api import ClusterApi
from .informer import Informer, key_of, version_of
from .store import split_key

log = logging.getLogger("argoexec.controller")

TASK_RESULTS = "workflowtaskresults"
SIGNAL_THREADS = 4
EXEC_TIMEOUT = 10.0


def pods_path(namespace: str | None = None, name: str | None = None) -> str:
    return resource_path("", "v1", "pods", namespace=namespace, name=name)


def task_results_path(namespace: str | None = None) -> str:
    return resource_path(c.API_GROUP, c.API_GROUP_VERSION, TASK_RESULTS, namespace=namespace)


def _workflow_of(pod: Mapping[str, Any]) -> tuple[str, str]:
    meta = pod.get("metadata") or {}
    return str(meta.get("namespace") or ""), str((meta.get("labels") or {}).get(c.LABEL_WORKFLOW))


def _selector(instance_id: str) -> str:
    instance = f"{c.LABEL_INSTANCE_ID}={instance_id}" if instance_id else f"!{c.LABEL_INSTANCE_ID}"
    return f"{c.LABEL_WORKFLOW},{instance}"


def _is_gc_pod(meta: Mapping[str, Any]) -> bool:
    return (meta.get("labels") or {}).get(c.LABEL_COMPONENT) == c.COMPONENT_ARTIFACT_GC


class ClusterPods:
    def __init__(
        self,
        api: ClusterApi,
        *,
        namespace: str | None = None,
        instance_id: str = "",
        grace_period: int | None = None,
    ) -> None:
        self.api = api
        self.grace_period = grace_period  # podGCGracePeriod, seconds (None: the pod's own)
        selector = _selector(instance_id)
        self.pods = Informer(
            api,
            pods_path(namespace),
            label_selector=selector,
            handler=self.poke,
            what="pods",
            index=_workflow_of,
        )
        self.results = Informer(
            api,
            task_results_path(namespace),
            label_selector=selector,
            handler=self.poke,
            what="workflowtaskresults",
        )
        self.created = 0
        self._changed = threading.Condition()
        self._events = 0
        # Pods the API server refused for good: (namespace, pod) -> (workflow, observation).
        self._refused: dict[tuple[str, str], tuple[str, PodObservation]] = {}
        self._parsed: dict[tuple[str, str], tuple[str, PodResult]] = {}
        self._signals = ThreadPoolExecutor(SIGNAL_THREADS, thread_name_prefix="pod-signal")

    def start(self) -> None:
        self.pods.start()
        self.results.start()

    def wait_synced(self, timeout: float) -> bool:
        return self.pods.wait_synced(timeout) and self.results.wait_synced(timeout)

    def stop(self) -> None:
        self.pods.stop()
        self.results.stop()
        self._signals.shutdown(wait=False, cancel_futures=True)

    def of(self, key: str) -> WorkflowPods:
        return WorkflowPods(self, *split_key(key))

    def poke(self, kind: str = "", obj: Mapping[str, Any] | None = None) -> None:
        """Something changed (a pod, a task result, a Workflow): the loop looks again."""
        if kind == "DELETED" and obj is not None and obj.get("kind", "Pod") == "Pod":
            self._parsed.pop(key_of(obj), None)  # gone however it went (podGC, a user, GC)
        with self._changed:
            self._events += 1
            self._changed.notify_all()

    def wait(self, timeout: float) -> bool:
        with self._changed:
            seen = self._events
            self._changed.wait_for(lambda: self._events != seen, timeout)
            return self._events != seen

    # --- per workflow ----------------------------------------------------------------------

    def observe(self, namespace: str, workflow: str) -> dict[str, PodObservation]:
        found: dict[str, PodObservation] = {}
        for pod in self.pods.indexed((namespace, workflow)):
            meta = pod.get("metadata") or {}
            if _is_gc_pod(meta):
                continue  # no node's pod: artifact GC (`cluster.artgc`) looks after it
            if (meta.get("labels") or {}).get(c.LABEL_COMPONENT) == "agent":
                continue  # the agent pod runs tasks, no node of its own (`tasksets`)
            node_id = str((meta.get("annotations") or {}).get(c.ANNOTATION_NODE_ID) or "")
            found[node_id or str(meta.get("name"))] = self._observation(pod, node_id)
        for (ns, _), (owner, refused) in list(self._refused.items()):
            if (ns, owner) == (namespace, workflow) and refused.node_id not in found:
                found[refused.node_id] = refused
        return found

    def gc_pods(self, namespace: str, workflow: str) -> list[dict[str, Any]]:
        """The workflow's artifact-GC pods."""
        pods = self.pods.indexed((namespace, workflow))
        return [p for p in pods if _is_gc_pod(p.get("metadata") or {})]

    def _observation(self, pod: Mapping[str, Any], node_id: str) -> PodObservation:
        namespace, name = key_of(pod)
        version = version_of(pod)
        parsed = self._parsed.get((namespace, name))
        if parsed is None or parsed[0] != version:
            parsed = (version, PodResult.from_k8s(name, pod.get("status") or {}))
            self._parsed[(namespace, name)] = parsed
        status = parsed[1]
        if not status.containers:
            status = PodResult.pending(pod)
        status.node_name = str((pod.get("spec") or {}).get("nodeName") or "")
        result, completed, error = None, False, ""
        report = self.results.get(namespace, node_id) if node_id else None
        if report is not None:
            labels = (report.get("metadata") or {}).get("labels") or {}
            completed = labels.get(c.LABEL_REPORT_OUTPUTS_COMPLETED) == "true"
            try:
                fields = ("phase", "message", "outputs", "progress")
                result = NodeResult.model_validate({k: report[k] for k in fields if k in report})
            except ValueError:
                error = f"the WorkflowTaskResult {node_id} of pod {name} is not valid"
        labels = (pod.get("metadata") or {}).get("labels") or {}
        return PodObservation(name, node_id, status, result=result, completed=completed,
                              result_error=error, labels=labels)  # fmt: skip

    def create(
        self,
        namespace: str,
        pod: Mapping[str, Any],
        config_maps: Mapping[str, Mapping[str, str]],
    ) -> None:
        name = str(pod["metadata"]["name"])
        owners = (pod.get("metadata") or {}).get("ownerReferences") or []
        try:
            for cm_name, data in config_maps.items():
                body = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": cm_name,
                        "namespace": namespace,
                        "ownerReferences": owners,
                    },
                    "data": dict(data),
                }
                self._create(resource_path("", "v1", "configmaps", namespace=namespace), body)
            created = self._create(pods_path(namespace), {**pod, "metadata": {**pod["metadata"],
                                                          "namespace": namespace}})  # fmt: skip
        except KubeError as exc:
            if is_transient(exc):
                log.warning("pod %s/%s not created yet: %s", namespace, name, exc)
                return
            self._refuse(namespace, pod, exc)
            return
        self.created += 1
        if created:
            self.pods.put(created)

    def _create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        try:
            return self.api.create(path, body)
        except KubeAlreadyExistsError:
            return None

    def _refuse(self, namespace: str, pod: Mapping[str, Any], exc: KubeError) -> None:
        meta = pod["metadata"]
        node_id = str((meta.get("annotations") or {}).get(c.ANNOTATION_NODE_ID) or meta["name"])
        log.warning("pod %s/%s refused: %s", namespace, meta["name"], exc)
        status = PodResult.pending(pod)
        status.fail_to_start(exc.reason or "Error", exc.message)
        status.message = exc.message
        workflow = str((meta.get("labels") or {}).get(c.LABEL_WORKFLOW) or "")
        observation = PodObservation(str(meta["name"]), node_id, status, completed=True)
        self._refused[(namespace, str(meta["name"]))] = (workflow, observation)

    def signal(self, namespace: str, pod_name: str, container: str, signum: int) -> None:
        pod = self.pods.get(namespace, pod_name)
        if pod is None:
            return
        running = {
            s.get("name")
            for s in (pod.get("status") or {}).get("containerStatuses") or []
            if "running" in (s.get("state") or {})
        }
        if container not in running:
            return
        command = kill_command(pod, container, signum)
        self._signals.submit(self._exec, namespace, pod_name, container, command)

    def _exec(self, namespace: str, pod: str, container: str, command: list[str]) -> None:
        from .podexec import exec_in_container

        try:
            outcome = exec_in_container(
                self.api, namespace, pod, container, command, timeout=EXEC_TIMEOUT
            )
        except KubeError as exc:
            log.info("could not signal %s/%s container %s: %s", namespace, pod, container, exc)
            return
        if outcome.exit_code not in (0, None):
            log.info(
                "signal to %s/%s container %s: exit code %s %s",
                namespace, pod, container, outcome.exit_code, outcome.stderr.strip()[:200],
            )  # fmt: skip

    def delete(self, namespace: str, pod_name: str) -> None:
        self._refused.pop((namespace, pod_name), None)
        self._parsed.pop((namespace, pod_name), None)
        query = {} if self.grace_period is None else {"gracePeriodSeconds": str(self.grace_period)}
        try:
            self.api.delete(pods_path(namespace, pod_name), **query)
        except KubeNotFoundError:
            pass
        except KubeError as exc:
            log.warning("pod %s/%s not deleted: %s", namespace, pod_name, exc)

    def forget(self, namespace: str, workflow: str) -> None:
        """A completed workflow's refused pods are no longer observed."""
        for key, (owner, _) in list(self._refused.items()):
            if (key[0], owner) == (namespace, workflow):
                self._refused.pop(key, None)

    def delete_task_results(self, namespace: str, workflow: str) -> None:
        """Argo deletes a completed workflow's task results (they outlive nothing)."""
        try:
            self.api.delete(
                task_results_path(namespace), labelSelector=f"{c.LABEL_WORKFLOW}={workflow}"
            )
        except KubeError as exc:
            log.warning("task results of %s/%s not deleted: %s", namespace, workflow, exc)


class WorkflowPods:
    """The `PodBackend` of one workflow: its namespace is the pods'."""

    def __init__(self, pods: ClusterPods, namespace: str, workflow: str) -> None:
        self.shared = pods
        self.namespace = namespace
        self.workflow = workflow

    def adapt(self, pod: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
        return clone(dict(pod))  # Argo's pod is what a cluster runs

    def create(self, pod: Mapping[str, Any], config_maps: Mapping[str, Mapping[str, str]]) -> None:
        self.shared.create(self.namespace, pod, config_maps)

    def observe(self, workflow_name: str) -> dict[str, PodObservation]:
        return self.shared.observe(self.namespace, self.workflow)

    def signal(self, pod_name: str, container: str, signum: int) -> None:
        self.shared.signal(self.namespace, pod_name, container, signum)

    def delete(self, pod_name: str) -> None:
        self.shared.delete(self.namespace, pod_name)

    def wait(self, timeout: float) -> bool:
        return self.shared.wait(timeout)
