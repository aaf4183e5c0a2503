"""`ThreadTasks`: the `TaskBackend` of this machine's runtimes. Argo's agent pod runs a
workflow's `http` tasks with a pool of workers (ARGO_AGENT_TASK_WORKERS, 16 by default); here
the same request code (`controller.tasks.http`) runs in a pool of that size in the controller's
process, each task at most once, its result kept in memory until the workflow is released.

A controller that dies loses the results of tasks not yet recorded in the Workflow; the next
one asks for them again (as Argo's agent, restarted, makes the requests of tasks without a
result again)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from argoexec.controller.tasks.agent import run_task
from argoexec.controller.tasks.http import TaskResult
from artifacts.secrets import DirSecretResolver, NoSecrets, SecretResolver

from .seams import TaskObservation

TASK_WORKERS = 16  # Argo's agent default (ARGO_AGENT_TASK_WORKERS)


class ThreadTasks:
    """Tasks as threads of this process. Header secrets are read where pods read theirs: the
    `--secrets-dir` (`secrets`), or each workflow's own (`secrets_for(key)`)."""

    def __init__(
        self,
        *,
        secrets: Path | None = None,
        secrets_for: Callable[[str], Path | None] | None = None,
        workers: int = TASK_WORKERS,
    ) -> None:
        self.secrets_for = secrets_for or (lambda key: secrets)
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._tasks: dict[str, dict[str, Future[TaskResult]]] = {}
        self._lock = threading.Lock()
        self.changed = threading.Event()  # set whenever a task ends

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="agent-task")
        return self._pool

    def run(
        self, key: str, workflow: Mapping[str, Any], node_id: str, template: Mapping[str, Any]
    ) -> None:
        with self._lock:
            tasks = self._tasks.setdefault(key, {})
            if node_id in tasks:
                return
            where = self.secrets_for(key)
            secrets = DirSecretResolver(where) if where else NoSecrets()
            future = self._executor().submit(self._run, node_id, dict(template), secrets)
            tasks[node_id] = future

    def _run(self, node_id: str, template: dict[str, Any], secrets: SecretResolver) -> TaskResult:
        try:
            return run_task(template, secrets)
        finally:
            self.changed.set()

    def observe(self, key: str) -> dict[str, TaskObservation]:
        with self._lock:
            tasks = dict(self._tasks.get(key) or {})
        seen = {}
        for node_id, future in tasks.items():
            if future.done():
                result = future.result()
                seen[node_id] = TaskObservation(
                    node_id, result.phase, result.message, result.outputs
                )
        return seen

    def release(self, key: str) -> None:
        with self._lock:
            self._tasks.pop(key, None)

    def close(self) -> None:
        """Stop taking tasks; requests in flight end within their timeout."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
