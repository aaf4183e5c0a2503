"""Argo's agent (workflow/executor/agent.go) on its contract with the controller: the
`WorkflowTaskSet` named after the workflow holds the tasks (`spec.tasks`: node id ->
template); the agent runs each task once, in a pool of `workers`, and merge-patches the results
into the task set's status subresource (`status.nodes`: node id -> NodeResult), at most every
`patch_rate` seconds (the first results at once). It ends when the task set is labelled
`workflows.argoproj.io/completed: "true"` or is deleted.

Where Argo watches the task set (`fieldSelector=metadata.name=<workflow>`), this agent lists it
with that selector every `poll` seconds: the lean client has no watch, and the same RBAC verb
family (list) covers both. A patch refused for good (not transient) turns the results it
carried into Errors, as Argo's agent does, so a task never waits forever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from argoexec import contract as c
from argoexec.kube.client import KubeClient, resource_path
from argoexec.kube.errors import KubeError, is_transient
from argoexec.lifecycle import Stop
from artifacts.secrets import SecretResolver, redact

from .http import ERROR, TaskResult, run_http

log = logging.getLogger("argoexec.agent")

POLL_SECONDS = 1.0


def run_task(template: Mapping[str, Any], secrets: SecretResolver) -> TaskResult:
    """Argo's processTask: an `http` template's request; any other kind is an Error. Never
    raises: the agent pod and the local pool both go on with their other tasks."""
    try:
        if template.get("http") is not None:
            return run_http(template, secrets=secrets)
    except Exception as exc:  # a bug of ours: the node errors, as Argo's agent reports
        log.debug("task of template %r failed", template.get("name"), exc_info=exc)
        # Redacted: the exception may quote a header or URL the template was given.
        return TaskResult(ERROR, redact(f"error processing task: {type(exc).__name__}: {exc}"))
    kind = next((k for k in ("plugin", "container", "script") if template.get(k)), "unknown")
    return TaskResult(ERROR, f"agent cannot execute: unknown task type: {kind}")


def task_sets_path(namespace: str, name: str | None = None) -> str:
    return resource_path(c.API_GROUP, c.API_GROUP_VERSION, c.WORKFLOW_TASK_SETS,
                         namespace=namespace, name=name)  # fmt: skip


@dataclass
class Agent:
    client: KubeClient
    namespace: str
    workflow: str
    secrets: Callable[[], SecretResolver]  # a fresh resolver per task (rotated secrets)
    stop: Stop
    workers: int = c.DEFAULT_AGENT_TASK_WORKERS
    patch_rate: float = c.DEFAULT_AGENT_PATCH_RATE
    poll: float = POLL_SECONDS

    def run(self) -> None:
        """Serve the workflow's tasks until its task set is completed or deleted (or `stop`)."""
        considered: set[str] = set()
        running: dict[str, Future[TaskResult]] = {}
        pending: dict[str, dict[str, Any]] = {}
        patched_at = float("-inf")
        seen = False
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="agent-task")
        try:
            while not self.stop.is_set():
                task_set = self._read()
                if task_set is None and seen:
                    log.info("task set %s/%s deleted: stopping", self.namespace, self.workflow)
                    return
                if task_set is not None:
                    seen = True
                    if _completed(task_set):
                        log.info("workflow %s completed: stopping", self.workflow)
                        return
                    self._start(task_set, considered, running, pool)
                for node_id, future in list(running.items()):
                    if future.done():
                        pending[node_id] = future.result().to_wire()
                        del running[node_id]
                if pending and time.monotonic() - patched_at >= self.patch_rate:
                    self._patch(pending)
                    patched_at = time.monotonic()
                self.stop.wait(self.poll)
        finally:
            # Tasks not started when the workflow ended are never made (a pool's own exit
            # would make every queued request first); those in flight end within their timeout.
            pool.shutdown(wait=False, cancel_futures=True)

    def _read(self) -> dict[str, Any] | None:
        query = {"fieldSelector": f"metadata.name={self.workflow}"}
        try:
            items = self.client.get(task_sets_path(self.namespace), query=query).get("items")
        except KubeError as exc:
            log.warning("cannot read task set %s/%s: %s", self.namespace, self.workflow, exc)
            return {}  # not known to be gone: try again
        return dict(items[0]) if items else None

    def _start(
        self,
        task_set: Mapping[str, Any],
        considered: set[str],
        running: dict[str, Future[TaskResult]],
        pool: ThreadPoolExecutor,
    ) -> None:
        done = (task_set.get("status") or {}).get("nodes") or {}
        for node_id, template in ((task_set.get("spec") or {}).get("tasks") or {}).items():
            # A task is considered once, so an endpoint is never called twice by mistake.
            if node_id in considered or node_id in done:
                continue
            considered.add(node_id)
            log.info("processing task %s", node_id)
            running[node_id] = pool.submit(self._task, node_id, dict(template))

    def _task(self, node_id: str, template: dict[str, Any]) -> TaskResult:
        return run_task(template, self.secrets())

    def _patch(self, pending: dict[str, dict[str, Any]]) -> None:
        path = task_sets_path(self.namespace, self.workflow) + "/status"
        try:
            self.client.patch(path, {"status": {"nodes": pending}})
        except KubeError as exc:
            if is_transient(exc):
                log.warning("task set status not patched yet: %s", exc)
                return
            log.error("task set status patch refused: %s", exc)
            message = (
                "HTTP request completed successfully but an error occurred when patching its "
                f"result: {exc}"
            )
            for node_id in pending:
                pending[node_id] = {"phase": ERROR, "message": message}
            return
        log.info("patched task set %s/%s: %d result(s)", self.namespace, self.workflow,
                 len(pending))  # fmt: skip
        pending.clear()


def _completed(task_set: Mapping[str, Any]) -> bool:
    labels = (task_set.get("metadata") or {}).get("labels") or {}
    return labels.get(c.LABEL_COMPLETED) == "true"
