"""`ThreadTasks`: the `TaskBackend` of this machine's runtimes. Argo's agent pod runs a
workflow's `http` tasks with a pool of workers (ARGO_AGENT_TASK_WORKERS, 16 by default); here
the same request code (`controller.tasks.http`) runs in a pool of that size in the controller's
process, each task at most once, its result kept in memory until the workflow is released.

A controller that dies loses the results of tasks not yet recorded in the Workflow; the next
one asks for them again (as Argo's agent, restarted, makes the requests of tasks without a
result again)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artifacts.secrets import DirSecretResolver, NoSecrets, SecretResolver

from .seams import TaskObservation

if TYPE_CHECKING:
    from argoexec.controller.tasks.http import TaskResult

_Job = tuple["Future[TaskResult]", dict[str, Any], SecretResolver]
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
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._started = 0
        self._tasks: dict[str, dict[str, Future[TaskResult]]] = {}
        self._lock = threading.Lock()
        self.changed = threading.Event()  # set whenever a task ends

    def _start_workers(self) -> None:
        # Daemon threads: a run that ends (a deadline, a stop) while a request is in flight
        # exits at once, as Argo's agent pod goes with its workflow, instead of waiting up to
        # the request's timeoutSeconds for the interpreter to join a pool's threads.
        while self._started < self.workers:
            self._started += 1
            name = f"agent-task-{self._started}"
            threading.Thread(target=self._work, name=name, daemon=True).start()

    def _work(self) -> None:
        # The request code (ssl, http.client, expr-lang) is loaded by the first worker, not by
        # every `argoexec run`: most workflows have no http template.
        from argoexec.controller.tasks.agent import run_task

        while (job := self._queue.get()) is not None:
            future, template, secrets = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(run_task(template, secrets))
            finally:
                self.changed.set()

    def run(
        self, key: str, workflow: Mapping[str, Any], node_id: str, template: Mapping[str, Any]
    ) -> None:
        with self._lock:
            tasks = self._tasks.setdefault(key, {})
            if node_id in tasks:
                return
            where = self.secrets_for(key)
            secrets = DirSecretResolver(where) if where else NoSecrets()
            future: Future[TaskResult] = Future()
            tasks[node_id] = future
            self._start_workers()
            self._queue.put((future, dict(template), secrets))

    def observe(self, key: str) -> dict[str, TaskObservation]:
        with self._lock:
            tasks = dict(self._tasks.get(key) or {})
        seen = {}
        for node_id, future in tasks.items():
            if future.done() and not future.cancelled():
                result = future.result()
                seen[node_id] = TaskObservation(
                    node_id, result.phase, result.message, result.outputs
                )
        return seen

    def release(self, key: str) -> None:
        with self._lock:
            self._tasks.pop(key, None)

    def close(self) -> None:
        """Stop taking tasks: those not started are cancelled, the workers end after the
        request in hand (or with the process, which does not wait for them)."""
        with self._lock:
            for tasks in self._tasks.values():
                for future in tasks.values():
                    future.cancel()
            for _ in range(self._started):
                self._queue.put(None)
            self._started = self.workers  # no new workers: a closed backend takes no task
