"""Running one Workflow end to end: arguments, the entrypoint, the exit handler, and the
Workflow object (metadata, spec, status in Argo's shape) kept current while it runs.

`WorkflowRunner.run()` blocks until the workflow finished and returns the final Workflow.
`on_change(workflow)` is called from a publisher thread at most every `poll_interval` seconds
with a fresh snapshot (and once at the end), so persisting or drawing never slows scheduling.
The same thread polls `control` for `argoexec stop` / `argoexec resume` requests, and acts on
the interrupts `interrupt()` counts (first: stop; second: abort, see `RunState.abort`).
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from argoexec.contract import API_VERSION
from argoexec.controller.pod import pod_name
from argoexec.controller.runtime.protocol import Runtime
from argoexec.durations import rfc3339

from . import nodes as n
from .children import exit_hook, run_exit_hook
from .context import (
    DEADLINE_MESSAGE,
    Control,
    EngineError,
    Frame,
    Owner,
    RunOptions,
    RunState,
    TemplateStoreLike,
)
from .execute import TemplateError, execute, resolve
from .pods import ResultChannel
from .scope import exit_handler_entries, parameter_text, workflow_scope
from .substitute import ArgumentError, resolve_arguments

log = logging.getLogger("argoexec.controller.engine")

STOP_MESSAGE = "Stopped with strategy 'Stop'"
ABORT_MESSAGE = "aborted: every pod was killed, the exit handlers' too"
# After an abort, how long the run waits for its killed pods to end and be cleaned up before it
# gives up on them (each SIGKILLed container ends at once; this bounds a runtime that hangs).
SETTLE_SECONDS = 10.0


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


def _arguments(spec: Mapping[str, Any], options: RunOptions) -> list[dict[str, Any]]:
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


def _failure(workflow: str, node: n.Node) -> dict[str, Any]:
    """One entry of `workflow.failures`: every Failed or Errored node, as Argo lists them."""
    template = node.template_name or (node.template_ref or {}).get("template") or ""
    return {
        "displayName": node.display_name,
        "message": node.message,
        "templateName": template,
        "phase": node.phase,
        "podName": pod_name(workflow, node.name, template, node.id),
        "finishedAt": rfc3339(node.finished_at) if node.finished_at else None,
    }


class WorkflowRunner:
    def __init__(
        self,
        workflow: Mapping[str, Any],
        *,
        name: str,
        runtime: Runtime,
        results: ResultChannel,
        store: TemplateStoreLike | None = None,
        options: RunOptions | None = None,
        on_change: Callable[[dict[str, Any]], None] | None = None,
        control: Control | None = None,
    ) -> None:
        self.options = options or RunOptions()
        self.source = copy.deepcopy(dict(workflow))
        spec = dict(self.source.get("spec") or {})
        if self.options.entrypoint:
            spec["entrypoint"] = self.options.entrypoint
        self.created = datetime.now(UTC)
        self.on_change = on_change
        self.control = control
        self._dirty = threading.Event()
        self._finished = threading.Event()
        self._interrupts = 0  # SIGINT/SIGTERM seen; only counted in the signal handler
        self.phase = n.PENDING
        self.message = ""
        self.finished_at: float | None = None
        self.run_state = RunState(
            name=name,
            uid=str(uuid.uuid4()),
            workflow={**self.source, "spec": spec},
            options=self.options,
            runtime=runtime,
            results=results,
            store=store,
            on_change=self._dirty.set,
        )
        self.spec = spec
        self.parameters = _arguments(spec, self.options)
        spec["arguments"] = {
            **(spec.get("arguments") or {}),
            "parameters": self.parameters,
        }
        self.owner = Owner(
            name,
            {str(t.get("name")): t for t in spec.get("templates") or []},
        )
        self._check_entrypoint()

    # --- validation before anything runs ---------------------------------------------------

    def _check_entrypoint(self) -> None:
        entry = self.spec.get("entrypoint")
        if not entry:
            raise EngineError("spec.entrypoint is not set (use --entrypoint NAME)")
        try:
            template, _, _, _ = resolve(self.run_state, {"template": entry}, self.owner)
        except TemplateError as exc:
            raise EngineError(f"spec.entrypoint: {exc}") from None
        args = {
            "parameters": self.parameters,
            "artifacts": (self.spec.get("arguments") or {}).get("artifacts") or [],
        }
        try:
            resolve_arguments(
                template.get("inputs"), args, self.run_state.globals, template_name=str(entry)
            )
        except ArgumentError as exc:
            raise EngineError(f"{exc}; pass it with -p NAME=VALUE") from None

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        run = self.run_state
        meta = self.source.get("metadata") or {}
        run.globals = workflow_scope(
            name=run.name,
            namespace=self.options.namespace,
            uid=run.uid,
            service_account_name=str(self.spec.get("serviceAccountName") or "default"),
            parameters=self.parameters,
            labels=meta.get("labels"),
            annotations=meta.get("annotations"),
            creation_timestamp=self.created,
            main_entrypoint=str(self.spec.get("entrypoint")),
            priority=self.spec.get("priority"),
        )
        self.phase = n.RUNNING
        run.metrics.workflow_started(self.spec, variables=run.globals)
        publisher = threading.Thread(target=self._publish_loop, daemon=True)
        publisher.start()
        frame = Frame(scope=run.globals, artifacts={}, owner=self.owner)
        args = {
            "parameters": self.parameters,
            "artifacts": (self.spec.get("arguments") or {}).get("artifacts") or [],
        }
        try:
            entry = execute(
                run,
                {"template": self.spec["entrypoint"]},
                name=run.name,
                display=run.name,
                parent=None,
                frame=frame,
                args=args,
            )
            self.phase, self.message = self._final_phase(entry)
            self._run_exit_handler(frame)
            if run.aborted:
                self.phase, self.message = n.FAILED, run.aborted
            run.metrics.workflow_finished(
                self.spec,
                entry.to_status(),
                phase=self.phase,
                variables=run.globals,
                entry_duration=(entry.finished_at or time.time()) - entry.started_at,
            )
        except BaseException as exc:
            self._abandon(exc)
            if not isinstance(exc, Exception):
                raise  # an interrupt (a third Ctrl-C): the caller exits at once
        finally:
            self.finished_at = time.time()
            self._finished.set()
            self._dirty.set()
            publisher.join()
        return self.workflow()

    def interrupt(self) -> int:
        """Count a SIGINT/SIGTERM (safe in a signal handler: no lock is taken) and return the
        count. The publisher thread acts on it: the first stops the run, the second aborts
        it (`RunState.abort`)."""
        self._interrupts += 1
        return self._interrupts

    def _abandon(self, exc: BaseException) -> None:
        """The run ends on an exception (an interrupt, or a bug outside any node): its pods are
        killed and cleaned up, and no node is left unfinished."""
        run = self.run_state
        if isinstance(exc, Exception):
            log.error("the controller failed: internal error (%s)", type(exc).__name__)
            log.debug("the controller failed", exc_info=exc)
            self.phase = n.ERROR
            self.message = (
                f"the controller failed: internal error ({type(exc).__name__}), a bug of "
                "argoexec (--loglevel debug shows where)"
            )
        else:
            self.phase, self.message = n.FAILED, ABORT_MESSAGE
        run.abort(self.message)
        if not run.settle(SETTLE_SECONDS):
            log.warning("pods still running after %.0f s; leaving them", SETTLE_SECONDS)
        run.tree.close_open(n.FAILED, self.message)

    def _final_phase(self, entry: n.Node) -> tuple[str, str]:
        run = self.run_state
        if run.stop.is_set():
            reason = run.stop.reason
            return n.FAILED, reason if reason == DEADLINE_MESSAGE else reason or STOP_MESSAGE
        if entry.phase == n.SUCCEEDED:
            return n.SUCCEEDED, ""
        if entry.phase in (n.SKIPPED, n.OMITTED):
            return n.SUCCEEDED, ""
        return (entry.phase if entry.phase == n.ERROR else n.FAILED), entry.message

    def _run_exit_handler(self, frame: Frame) -> None:
        spec = self.spec
        hook = exit_hook(spec, spec.get("arguments") or {})
        if hook is None:
            return
        run = self.run_state
        failures = [
            _failure(run.name, node) for node in run.tree if node.phase in (n.FAILED, n.ERROR)
        ]
        extra = exit_handler_entries(
            status=self.phase, failures=failures, duration_seconds=time.time() - run.started
        )
        exit_node = run_exit_hook(
            run,
            hook,
            name=f"{run.name}{n.EXIT_SUFFIX}",
            display=f"{run.name}{n.EXIT_SUFFIX}",
            parent=None,
            frame=frame.but(extra=extra, on_exit=True, scope=run.globals.child(extra)),
            where="spec.onExit",
        )
        if exit_node.phase in (n.FAILED, n.ERROR) and self.phase == n.SUCCEEDED:
            # Argo's operate(): a failed exit handler fails a succeeded workflow, an errored
            # one errors it, with the exit node's own message.
            self.phase, self.message = exit_node.phase, exit_node.message

    # --- status ------------------------------------------------------------------------------

    def _publish_loop(self) -> None:
        interval = self.options.poll_interval
        while True:
            finished = self._finished.is_set()
            self._poll_interrupts()
            self._poll_control()
            if self._dirty.is_set() or finished:
                self._dirty.clear()
                self._publish()
            if finished:
                return
            self._dirty.wait(interval)
            time.sleep(interval)  # coalesce bursts of changes into one snapshot

    def _publish(self) -> None:
        if self.on_change is None:
            return
        try:
            self.on_change(self.workflow())
        except Exception as exc:  # the run goes on; the next change is published again
            log.error("could not publish the workflow's status: %s", exc)

    def _poll_interrupts(self) -> None:
        run = self.run_state
        if self._interrupts >= 1 and not run.stop.is_set():
            run.halt(STOP_MESSAGE)
        if self._interrupts >= 2 and not run.aborted:
            run.abort(ABORT_MESSAGE)
        run.kill_pods()  # again and again while aborting: pods that were starting

    def _poll_control(self) -> None:
        run = self.run_state
        if self.control is None or self._finished.is_set():
            return
        message = self.control.stop_requested()
        if message is not None and not run.stop.is_set():
            run.halt(message or STOP_MESSAGE)
        # Resumes first: values supplied with a resume are written before it, so they are
        # taken in the same poll.
        requests = self.control.take_resume_requests()
        supplied = self.control.take_supplied()
        if not requests and not supplied:
            return
        suspended = [
            node for node in run.tree if node.type == n.SUSPEND and node.phase == n.RUNNING
        ]

        def matching(wanted: str | None) -> list[n.Node]:
            return [
                node
                for node in suspended
                if wanted is None or wanted in (node.id, node.name, node.display_name)
            ]

        with run.lock:
            for wanted, values in supplied:
                for node in matching(wanted):
                    run.supplied.setdefault(node.id, {}).update(values)
            for wanted in requests:
                run.resumed.update(node.id for node in matching(wanted))
            run.changed.notify_all()

    def workflow(self) -> dict[str, Any]:
        """The Workflow object now: metadata, spec (arguments resolved) and status."""
        run = self.run_state
        meta = dict(self.source.get("metadata") or {})
        meta.update(
            {
                "name": run.name,
                "namespace": self.options.namespace,
                "uid": run.uid,
                "creationTimestamp": rfc3339(self.created),
            }
        )
        nodes = run.tree.status()
        pods = [v for v in nodes.values() if v["type"] == n.POD]
        done = sum(1 for v in pods if v["phase"] == n.SUCCEEDED)
        status: dict[str, Any] = {
            "phase": self.phase,
            "startedAt": rfc3339(run.started),
            "finishedAt": rfc3339(self.finished_at) if self.finished_at else None,
            "progress": f"{done}/{len(pods)}",
        }
        if self.message:
            status["message"] = self.message
        status["nodes"] = nodes
        conditions = run.metrics.conditions()
        if conditions:
            status["conditions"] = conditions
        outputs: dict[str, Any] = {}
        if run.output_parameters:
            outputs["parameters"] = list(run.output_parameters)
        if run.output_artifacts:
            outputs["artifacts"] = list(run.output_artifacts)
        if outputs:
            status["outputs"] = outputs
        repository = self.options.artifact_repository
        if repository is not None:
            # Key-only output artifacts resolve against this repository, as in Argo's status.
            status["artifactRepositoryRef"] = {"artifactRepository": repository.to_wire()}
        return {
            "apiVersion": self.source.get("apiVersion", API_VERSION),
            "kind": "Workflow",
            "metadata": meta,
            "spec": copy.deepcopy(self.spec),
            "status": status,
        }
