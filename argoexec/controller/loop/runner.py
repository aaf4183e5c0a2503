"""Running one Workflow to its end in this process: `WorkflowRunner` submits it (arguments
resolved, entrypoint checked: a workflow that cannot start is an `EngineError` before anything
runs) and drives the controller loop over it until it is finished.

The Workflow lives in a `WorkflowStore` (in memory unless one is given) and its pods run on a
`PodBackend` (by default `ThreadPods` over the given runtime). Control is a change to the
Workflow, as with Argo: a first interrupt (Ctrl-C) or a stop request sets `spec.shutdown: Stop`
(running pods are terminated, exit handlers run), a second one `Terminate` with every pod
killed at once, exit handlers' too; resume requests resume suspended nodes with their supplied
values (`control.resume` / `control.set_node`). `on_change(workflow)` gets each stored status.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from argoexec.contract import API_VERSION, PODMAN_RUNTIME
from argoexec.controller.engine.scope import Scope, parameter_text
from argoexec.controller.engine.substitute import ArgumentError, resolve_arguments
from argoexec.controller.loop.clone import clone
from argoexec.controller.metrics import MetricsRecorder
from argoexec.controller.reconcile import Outcome, Settings
from argoexec.controller.reconcile.context import STOP_MESSAGE, TERMINATE_MESSAGE
from argoexec.controller.reconcile.context import TemplateStoreLike as TemplateStore
from argoexec.controller.reconcile.locks import LockManager
from argoexec.controller.reconcile.nodes import FINAL_PHASES, PENDING
from argoexec.controller.runtime.images import PodmanImages
from argoexec.controller.runtime.protocol import Runtime
from argoexec.controller.runtime.results import ResultChannel
from argoexec.controller.state import StateError
from argoexec.durations import rfc3339

from . import control as ctl
from .artgc import LocalArtifactGC, driver_context
from .controller import Controller, FinalWriteError, finished
from .locks import MemoryLocks, stale_holder
from .memory import MemoryStore
from .options import Control, EngineError, RunOptions
from .run_metrics import record_events
from .seams import MemoizationCaches, PodBackend, WorkflowStore
from .tasks import ThreadTasks
from .thread_pods import ThreadPods

log = logging.getLogger("argoexec.controller")

ABORT_MESSAGE = TERMINATE_MESSAGE
__all__ = ["ABORT_MESSAGE", "STOP_MESSAGE", "WorkflowRunner", "override_parameters"]


def override_parameters(
    parameters: Iterable[Mapping[str, Any]], overrides: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Workflow argument parameters with `-p NAME=VALUE` applied: a given value replaces the
    declared value (or valueFrom); unknown names are added, as `argo submit -p` does."""
    params = [dict(p) for p in parameters]
    remaining = dict(overrides)
    for param in params:
        if param.get("name") in remaining:
            param["value"] = remaining.pop(str(param["name"]))
            param.pop("valueFrom", None)
    return params + [{"name": k, "value": v} for k, v in remaining.items()]


def resolve_workflow_arguments(
    spec: Mapping[str, Any], options: RunOptions
) -> list[dict[str, Any]]:
    """`spec.arguments.parameters` with `-p` overrides and ConfigMap references resolved;
    each must end with a value."""
    declared = (spec.get("arguments") or {}).get("parameters") or []
    params = override_parameters(declared, options.parameters)
    for index, param in enumerate(params):
        where = f"spec.arguments.parameters[{index}] ({param.get('name')})"
        ref = (param.get("valueFrom") or {}).get("configMapKeyRef")
        if param.get("value") is None and ref:
            data = options.config_maps.get(str(ref.get("name"))) or {}
            if str(ref.get("key")) not in data:
                raise EngineError(
                    f"{where}: ConfigMap {ref.get('name')!r} key {ref.get('key')!r} not found "
                    "(pass the ConfigMap with --templates)"
                )
            param["value"] = data[str(ref.get("key"))]
        if param.get("value") is None:
            raise EngineError(f"{where}: no value; pass -p {param.get('name')}=VALUE")
        param["value"] = parameter_text(param["value"])
        enum = param.get("enum")
        if enum is not None and param["value"] not in [parameter_text(v) for v in enum]:
            raise EngineError(
                f"{where}: value {param['value']!r} is not one of the enum values {enum}"
            )
    return params


def check_entrypoint(spec: Mapping[str, Any]) -> None:
    """The entrypoint names a template of the spec, and the workflow's arguments give its
    inputs (EngineError otherwise)."""
    entry = spec.get("entrypoint")
    if not entry:
        raise EngineError("spec.entrypoint is not set (use --entrypoint NAME)")
    templates = {str(t.get("name")): t for t in spec.get("templates") or []}
    if entry not in templates:
        raise EngineError(f"spec.entrypoint: template {entry!r} not found in the workflow")
    args = {
        "parameters": (spec.get("arguments") or {}).get("parameters") or [],
        "artifacts": (spec.get("arguments") or {}).get("artifacts") or [],
    }
    try:
        resolve_arguments(templates[entry].get("inputs"), args, Scope(), template_name=entry)
    except ArgumentError as exc:
        raise EngineError(f"{exc}; pass it with -p NAME=VALUE") from None


def settings_of(options: RunOptions, store: TemplateStore | None) -> Settings:
    return Settings(
        executor_image=options.executor_image,
        namespace=options.namespace,
        max_depth=options.max_depth,
        log_level=options.log_level,
        executor_env=options.executor_env,
        max_children=options.max_children,
        max_pods=options.max_pods,
        max_output_parameters_bytes=options.max_output_parameters_bytes,
        config_maps=options.config_maps,
        artifact_repository=options.artifact_repository,
        kubernetes_api=options.kubeconfig is not None,
        store=store,
        images=PodmanImages(options.images)
        if options.runtime == PODMAN_RUNTIME
        else dict(options.images),
    )


class _FinishedError(Exception):
    """A change asked for a Workflow that has finished meanwhile."""


class WorkflowRunner:
    def __init__(
        self,
        workflow: Mapping[str, Any],
        *,
        name: str,
        runtime: Runtime | None,
        results: ResultChannel | None,
        store: TemplateStore | None = None,
        options: RunOptions | None = None,
        on_change: Callable[[dict[str, Any]], None] | None = None,
        control: Control | None = None,
        workflows: WorkflowStore | None = None,
        pods: PodBackend | None = None,
        caches: MemoizationCaches | None = None,
        locks: LockManager | None = None,
    ) -> None:
        self.options = options or RunOptions()
        self.caches = caches  # memoization caches (the state directory's, for a `run`)
        self.name = name
        self.on_change = on_change
        self.control = control
        self.templates = store
        self.runtime = runtime
        self.thread_pods: ThreadPods | None = None
        if pods is None:
            if runtime is None or results is None:
                raise ValueError("a WorkflowRunner needs a pod backend, or a runtime and results")
            self.thread_pods = ThreadPods(
                runtime,
                results,
                secrets=self.options.secrets_dir,
                config_maps=self.options.config_maps,
                kubeconfig=self.options.kubeconfig,
            )
        self.pods: PodBackend = pods if pods is not None else self.thread_pods  # type: ignore[assignment]
        self.workflows: WorkflowStore = workflows or MemoryStore()
        if locks is None:  # this process's own (a state directory's runs share a FileLocks)
            store_get = self.workflows.get
            locks = MemoryLocks(stale=lambda: stale_holder(store_get, lambda _ns, name: name))
        self.settings = replace(settings_of(self.options, store), locks=locks)
        self._interrupts = 0  # only counted in the signal handler
        self._acted = 0
        self.aborted = False
        self.submitted = self._submission(workflow)
        self.metrics = MetricsRecorder(started=time.time())
        self._current: dict[str, Any] = clone(self.submitted)
        self.controller: Controller | None = None
        self._submitted = False

    # --- before anything runs ---------------------------------------------------------------

    def _submission(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        source = clone(dict(workflow))
        spec = dict(source.get("spec") or {})
        if self.options.entrypoint:
            spec["entrypoint"] = self.options.entrypoint
        parameters = resolve_workflow_arguments(spec, self.options)
        spec["arguments"] = {**(spec.get("arguments") or {}), "parameters": parameters}
        check_entrypoint(spec)
        meta = dict(source.get("metadata") or {})
        meta.pop("generateName", None)
        meta.update(
            {
                "name": self.name,
                "namespace": self.options.namespace,
                "uid": str(uuid.uuid4()),
                "creationTimestamp": rfc3339(time.time()),
            }
        )
        return {
            "apiVersion": source.get("apiVersion", API_VERSION),
            "kind": "Workflow",
            "metadata": meta,
            "spec": spec,
            "status": {"phase": PENDING, "startedAt": None, "finishedAt": None, "nodes": {}},
        }

    # --- the run ----------------------------------------------------------------------------

    def submit(
        self, create: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Create the Workflow (once) with `create` (the store's `create` by default, e.g. the
        store's with what else the run needs); the stored object."""
        if not self._submitted:
            submitted = clone(self.submitted)
            submitted["status"] = {}
            self._current = (create or self.workflows.create)(submitted)
            self._submitted = True
        return self._current

    def run(self) -> dict[str, Any]:
        self.submit()
        controller = self.controller = Controller(
            self.workflows,
            self.pods,
            self.settings,
            write_interval=self.options.poll_interval,
            on_events=self._on_events,
            on_stored=self._on_stored,
            collect=LocalArtifactGC(lambda _name: driver_context(self.options.secrets_dir)),
            tasks=ThreadTasks(secrets=self.options.secrets_dir),
            caches=self.caches,
        )
        try:
            controller.drive([self.name], stopping=self._act)
        except FinalWriteError as exc:
            self._current = exc.workflow
            phase = (exc.workflow.get("status") or {}).get("phase")
            raise StateError(
                f"workflow {self.name} ended {phase}, but its final state could not be "
                f"recorded: {exc.cause}"
            ) from None
        except BaseException as exc:
            self._abandon(exc)
            if not isinstance(exc, Exception):
                raise
        final = self.workflow()
        if self.thread_pods is not None and not self.thread_pods.settle(10.0):
            log.warning("pods still running after 10 s; leaving them")
        return final

    def interrupt(self) -> int:
        """Count a SIGINT/SIGTERM (safe in a signal handler); the loop acts on it between two
        rounds: the first stops the workflow, the second terminates it, killing every pod."""
        self._interrupts += 1
        return self._interrupts

    def workflow(self) -> dict[str, Any]:
        """The Workflow now: its last stored state, with the metrics' conditions."""
        current = clone(self._current)
        conditions = self.metrics.conditions()
        if conditions:
            status = current.setdefault("status", {})
            kept = [c for c in status.get("conditions") or [] if c.get("type") != "MetricsError"]
            status["conditions"] = kept + conditions
        return current

    # --- between rounds ---------------------------------------------------------------------

    def _act(self) -> bool:
        """Apply interrupts and control requests to the stored Workflow; never stops the loop
        by itself (the loop ends when the workflow is finished)."""
        count = self._interrupts
        if count > self._acted:
            self._acted = count
            if count == 1:
                self._change(ctl.stop)
            else:
                self._abort()
        if self.control is not None:
            self._take_requests(self.control)
        return False

    def _abort(self) -> None:
        self.aborted = True
        self._change(ctl.terminate)
        if self.thread_pods is not None:
            self.thread_pods.kill_all(ABORT_MESSAGE)
            return
        for observed in self.pods.observe(self.name).values():
            self.pods.delete(observed.pod_name)  # terminated now, exit handlers' too

    def _take_requests(self, control: Control) -> None:
        message = control.stop_requested()
        if message is not None:
            spec = self.workflows.get(self.name).get("spec") or {}
            if not spec.get("shutdown"):
                self._change(ctl.stop)
        supplied = control.take_supplied()
        for node, values in supplied:
            for selector in self._suspended(node):
                self._change(partial(ctl.set_node, node_field_selector=selector,
                                     output_parameters=values))  # fmt: skip
        for node in control.take_resume_requests():
            for selector in self._suspended(node):
                self._change(partial(ctl.resume, node_field_selector=selector))

    def _suspended(self, wanted: str | None) -> list[str]:
        nodes = (self.workflows.get(self.name).get("status") or {}).get("nodes") or {}
        return [
            f"id={node['id']}"
            for node in nodes.values()
            if node.get("type") == "Suspend"
            and node.get("phase") == "Running"
            and (wanted is None or wanted in (node["id"], node["name"], node.get("displayName")))
        ]

    def _change(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        def unless_finished(workflow: dict[str, Any]) -> dict[str, Any]:
            if finished(workflow):  # nothing is ever changed on a finished one
                raise _FinishedError
            return change(workflow)

        try:
            ctl.change(self.workflows, self.name, unless_finished)
        except _FinishedError:
            return
        except ctl.ControlError as exc:
            log.warning("%s", exc)
            return
        if self.controller is not None:
            self.controller.refresh(self.name)  # its next pass sees the change

    def _abandon(self, exc: BaseException) -> None:
        """The run ends on an exception (an interrupt at once, or a bug outside any node): its
        pods are killed and cleaned up, and no node is left unfinished."""
        if isinstance(exc, Exception):
            log.error("the controller failed: internal error (%s)", type(exc).__name__)
            log.debug("the controller failed", exc_info=exc)
            message = (
                f"the controller failed: internal error ({type(exc).__name__}), a bug of "
                "argoexec (--loglevel debug shows where)"
            )
        else:
            message = ABORT_MESSAGE
        pods = self.thread_pods
        if pods is not None:
            pods.kill_all(message)
            if not pods.settle(10.0):
                log.warning("pods still running after 10 s; leaving them")
            for observed in pods.observe(self.name).values():
                pods.delete(observed.pod_name)
        status = self._current.setdefault("status", {})
        status.setdefault("nodes", {})  # interrupted before the first pass was stored
        if status.get("phase") in FINAL_PHASES:
            return
        status["phase"] = "Error" if isinstance(exc, Exception) else "Failed"
        status["message"] = message
        now = rfc3339(time.time())
        for node in (status.get("nodes") or {}).values():
            if node.get("phase") not in FINAL_PHASES:
                node["phase"], node["message"] = "Failed", message
                node["finishedAt"] = node.get("finishedAt") or now
        status["finishedAt"] = now

    def _on_stored(self, workflow: dict[str, Any]) -> None:
        self._current = workflow
        if self.on_change is not None:
            try:
                self.on_change(self.workflow())
            except Exception as exc:  # the run goes on; the next change is published again
                log.error("could not publish the workflow's status: %s", exc)

    def _on_events(self, name: str, outcome: Outcome) -> None:
        record_events(self.metrics, name, self.options.namespace, outcome)
