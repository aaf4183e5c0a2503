"""Agent tasks on the API server: the loop's `TaskBackend` seam, as Argo's controller drives
them (workflow/controller/taskset.go, agent.go).

- `run`: the task goes into the `WorkflowTaskSet` named after the workflow (POST with
  `spec.tasks[nodeID]` and the workflow as owner; when it exists, a merge patch of
  `spec.tasks`), and the workflow's agent pod (`<workflow>-<fnv("agent")>-agent`, running
  `argoexec agent main`) is created once (AlreadyExists is the pod asked for).
- `observe`: the results the agent patched into the task set's `status.nodes`, read from a
  watch-fed cache (no call per pass).
- `release`: the workflow completed: the task set is labelled `workflows.argoproj.io/completed:
  "true"` and its fulfilled tasks removed (Argo's completeTaskSet); the agent sees it and ends.
  The task set itself goes with the Workflow (owner reference), as in Argo.

A task set the API server refuses for good (403, 422) makes the node an Error with its message
(the agent would never see the task); a transient refusal is asked again by the next pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from argoexec import contract as c
from argoexec.controller.loop.seams import TaskObservation
from argoexec.controller.pod.context import PodBuildError
from argoexec.controller.pod.naming import node_id as argo_node_id
from argoexec.kube.client import resource_path
from argoexec.kube.errors import KubeAlreadyExistsError, KubeError, is_transient

from .api import ClusterApi
from .informer import Informer
from .pods import ClusterPods
from .store import split_key

log = logging.getLogger("argoexec.controller")

AgentPod = Callable[[Mapping[str, Any]], dict[str, Any]]


def task_sets_path(namespace: str | None = None, name: str | None = None) -> str:
    return resource_path(c.API_GROUP, c.API_GROUP_VERSION, c.WORKFLOW_TASK_SETS,
                         namespace=namespace, name=name)  # fmt: skip


def agent_pod_name(workflow_name: str) -> str:
    """Argo's getAgentPodName: `wf.NodeID("agent") + "-agent"`."""
    return f"{argo_node_id(workflow_name, 'agent')}-agent"


def _owner(workflow: Mapping[str, Any]) -> dict[str, Any]:
    meta = workflow.get("metadata") or {}
    return {
        "apiVersion": c.API_VERSION,
        "kind": "Workflow",
        "name": meta.get("name"),
        "uid": meta.get("uid") or "",
    }


class ClusterTasks:
    def __init__(
        self, api: ClusterApi, pods: ClusterPods, *, agent_pod: AgentPod, namespace: str | None
    ) -> None:
        self.api = api
        self.pods = pods
        self.agent_pod = agent_pod
        self.task_sets = Informer(
            api, task_sets_path(namespace), handler=pods.poke, what=c.WORKFLOW_TASK_SETS
        )
        self._sent: set[tuple[str, str]] = set()
        self._agents: set[str] = set()
        self._released: set[str] = set()
        self._refused: dict[tuple[str, str], TaskObservation] = {}

    def start(self) -> None:
        self.task_sets.start()

    def wait_synced(self, timeout: float) -> bool:
        return self.task_sets.wait_synced(timeout)

    def stop(self) -> None:
        self.task_sets.stop()

    def run(
        self, key: str, workflow: Mapping[str, Any], node_id: str, template: Mapping[str, Any]
    ) -> None:
        if (key, node_id) in self._sent:
            return
        namespace, name = split_key(key)
        existing = self.task_sets.get(namespace, name)
        tasks = ((existing or {}).get("spec") or {}).get("tasks") or {}
        if node_id not in tasks and not self._add(namespace, workflow, node_id, template):
            return
        self._sent.add((key, node_id))
        self._released.discard(key)
        if key not in self._agents:
            try:
                pod = self.agent_pod(workflow)
            except PodBuildError as exc:  # the workflow's podSpecPatch cannot apply to it
                self._refused[(key, node_id)] = TaskObservation(node_id, "Error", str(exc))
                return
            self.pods.create(namespace, pod, {})
            self._agents.add(key)

    def _add(
        self, namespace: str, workflow: Mapping[str, Any], node_id: str, template: Mapping[str, Any]
    ) -> bool:
        name = str((workflow.get("metadata") or {}).get("name"))
        body = {
            "apiVersion": c.API_VERSION,
            "kind": "WorkflowTaskSet",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "ownerReferences": [_owner(workflow)],
            },
            "spec": {"tasks": {node_id: dict(template)}},
        }
        try:
            try:
                created = self.api.create(task_sets_path(namespace), body)
            except KubeAlreadyExistsError:
                patch = {"spec": {"tasks": {node_id: dict(template)}}}
                created = self.api.merge_patch(task_sets_path(namespace, name), patch)
        except KubeError as exc:
            if is_transient(exc):
                log.warning("task %s of %s/%s not handed over yet: %s", node_id, namespace,
                            name, exc)  # fmt: skip
                return False
            message = f"the WorkflowTaskSet {namespace}/{name} was refused: {exc}"
            self._refused[(f"{namespace}/{name}", node_id)] = TaskObservation(
                node_id, "Error", message
            )
            return False
        self.task_sets.put(created)
        return True

    def observe(self, key: str) -> dict[str, TaskObservation]:
        namespace, name = split_key(key)
        task_set = self.task_sets.get(namespace, name) or {}
        found = {
            node_id: TaskObservation(
                node_id,
                str(result.get("phase") or ""),
                str(result.get("message") or ""),
                result.get("outputs"),
            )
            for node_id, result in ((task_set.get("status") or {}).get("nodes") or {}).items()
            if isinstance(result, Mapping)
        }
        for (owner, node_id), refused in self._refused.items():
            if owner == key:
                found.setdefault(node_id, refused)
        return found

    def release(self, key: str) -> None:
        if key in self._released:
            return
        namespace, name = split_key(key)
        task_set = self.task_sets.get(namespace, name)
        labels = ((task_set or {}).get("metadata") or {}).get("labels") or {}
        if task_set is not None and labels.get(c.LABEL_COMPLETED) != "true":
            done = {node_id: None for node_id in (task_set.get("spec") or {}).get("tasks") or {}}
            patch = {
                "metadata": {"labels": {c.LABEL_COMPLETED: "true"}},
                "spec": {"tasks": done},
                "status": {"nodes": done},
            }
            try:
                self.task_sets.put(self.api.merge_patch(task_sets_path(namespace, name), patch))
            except KubeError as exc:
                log.warning("task set %s not completed yet: %s", key, exc)
                return
        self._released.add(key)
        self._agents.discard(key)
        self._sent = {sent for sent in self._sent if sent[0] != key}
        self._refused = {k: v for k, v in self._refused.items() if k[0] != key}
