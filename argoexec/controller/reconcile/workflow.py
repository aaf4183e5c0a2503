"""`reconcile(workflow, observed, now, settings)`: one pass over one Workflow (Argo's `operate`).

Everything the pass needs to remember is in the Workflow: `status.nodes` (phases, children,
outbound nodes, inputs, outputs, retries as Retry nodes, loop items), `status.phase`,
`startedAt`/`finishedAt`, `message`, `progress`, `outputs` (global outputs), `conditions`,
`artifactRepositoryRef`. Control is a change to the Workflow (`spec.shutdown`, `spec.suspend`,
node phases set by a resume). The pass does no I/O and reads no clock: for a given Workflow,
observation, time and settings it makes the same changes and asks for the same actions.

The Workflow is changed in place and returned (copying a status of thousands of nodes on every
pass would cost more than the pass).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from argoexec.contract import LABEL_COMPLETED, LABEL_PHASE
from argoexec.controller.engine.scope import Scope, exit_handler_entries, workflow_scope
from argoexec.controller.loop.seams import Observed
from argoexec.controller.runtime import status as st
from argoexec.durations import rfc3339

from . import daemon
from . import nodes as n
from . import synchronization as sync
from .actions import Action
from .children import exit_hook
from .clock import epoch
from .context import (
    DEADLINE_MESSAGE,
    SHUTDOWN_TERMINATE,
    Event,
    Frame,
    Owner,
    Pass,
    Settings,
    Visit,
)
from .errors import NodeError
from .hooks import advance_hook, advance_workflow_hooks, workflow_failures
from .kinds import KINDS
from .memoize import save_entries
from .metadata import MetadataError, apply_labels_from, apply_static_metadata
from .nodes import Node
from .outputs import load_globals
from .podgc import collect_pods
from .walk import execute

log = logging.getLogger("argoexec.controller")


@dataclass
class Outcome:
    workflow: dict[str, Any]
    actions: list[Action] = field(default_factory=list)
    wake_at: float | None = None  # call again by then (epoch seconds), even with no event
    changed: bool = False  # the Workflow changed (it must be stored)
    events: list[Event] = field(default_factory=list)
    started: bool = False  # this pass started the workflow
    finished: bool = False  # this pass completed it


def reconcile(
    workflow: dict[str, Any], observed: Observed, now: float, settings: Settings
) -> Outcome:
    status = workflow.setdefault("status", {})
    outcome = Outcome(workflow)
    if status.get("phase") in n.FINAL_PHASES:
        outcome.actions, outcome.wake_at = collect_pods(
            workflow, observed, settings, everything=True, now=now
        )
        return outcome
    spec = workflow.get("spec") or {}
    unstarted = status.get("phase") in (None, "", n.PENDING)
    if unstarted and spec.get("synchronization") and not _locked(workflow, outcome, now, settings):
        return outcome
    if status.get("phase") in (None, "", n.PENDING):
        outcome.started = True
        outcome.changed = True
        status["phase"] = n.RUNNING
        status["startedAt"] = rfc3339(now)
        status["finishedAt"] = None
        repository = settings.artifact_repository
        if repository is not None:  # where it came from (a ConfigMap's key) is kept
            ref = dict(status.get("artifactRepositoryRef") or {})
            status["artifactRepositoryRef"] = {**ref, "artifactRepository": repository.to_wire()}
        _label(workflow, LABEL_PHASE, n.RUNNING)
        _label(workflow, LABEL_COMPLETED, "false")
    started = epoch(status.get("startedAt")) or now
    p = Pass(workflow=workflow, spec=spec, pods=observed.pods, now=now, settings=settings,
             started=started, kinds=KINDS, tasks=observed.tasks)  # fmt: skip
    try:
        if outcome.started:
            apply_static_metadata(workflow, spec)
        p.globals_base = _globals(p, workflow, spec, now)
        if outcome.started and apply_labels_from(workflow, spec, p.globals_base):
            p.globals_base = _globals(p, workflow, spec, now)
    except MetadataError as exc:  # Argo's markWorkflowError
        _complete(p, outcome, n.ERROR, str(exc), {})
        return outcome
    load_globals(p, p.globals_base)
    p.active_pods = sum(
        1 for o in observed.pods.values() if o.status.phase in (st.PENDING, st.RUNNING)
    )
    if p.deadline is not None and now < p.deadline:
        p.wake(p.deadline)
    p.caches = observed.caches
    before = len(p.nodes.finished)
    _walk(p, outcome)
    daemon.follow(p)  # after the walk: a scope that ended in this pass stops its daemons now
    save_entries(p)
    if not outcome.finished and status.get("synchronization"):
        sync.release_fulfilled(p)
    collected, due = collect_pods(
        workflow, observed, settings, everything=outcome.finished, now=now
    )
    outcome.actions = p.actions + collected
    # A workflow that is over is called again only for its pods' collection.
    wakes = (due,) if outcome.finished else (p.wake_at, due)
    outcome.wake_at = min((t for t in wakes if t is not None), default=None)
    outcome.events = p.events
    outcome.changed = outcome.changed or p.nodes.changed > 0 or len(p.nodes.finished) > before
    if outcome.changed:
        status["progress"] = _progress(p)
    return outcome


def _locked(workflow: dict[str, Any], outcome: Outcome, now: float, settings: Settings) -> bool:
    """Argo's workflow-level synchronization: True when the workflow holds its locks (or is
    being stopped, which it is then without them), else it stays Pending with the message."""
    status = workflow["status"]
    held = copy.deepcopy(status.get("synchronization"))
    before = (status.get("phase"), status.get("message"), held)
    try:
        grant = sync.hold_workflow(workflow, settings, now)
    except NodeError as exc:
        outcome.changed = outcome.finished = True
        status["phase"], status["message"] = (
            n.FAILED,
            (f"Failed to acquire the synchronization lock. {exc.message}"),
        )
        status.setdefault("startedAt", rfc3339(now))
        status["finishedAt"] = rfc3339(now)
        status["conditions"] = [{"type": "Completed", "status": "True"}]
        sync.release_all(workflow, settings)
        _label(workflow, LABEL_PHASE, n.FAILED)
        _label(workflow, LABEL_COMPLETED, "true")
        return False
    if grant.acquired:
        status.pop("message", None)
        return True
    if (workflow.get("spec") or {}).get("shutdown"):
        sync.release_all(workflow, settings)  # Argo: a stopped pending workflow goes on, to fail
        return True
    status["phase"], status["message"] = n.PENDING, grant.message
    after = (status.get("phase"), status.get("message"), status.get("synchronization"))
    outcome.changed = outcome.changed or after != before
    status.setdefault("startedAt", None)
    status.setdefault("finishedAt", None)
    _label(workflow, LABEL_PHASE, n.PENDING)
    outcome.wake_at = now + sync.LOCK_RETRY
    return False


def _globals(p: Pass, workflow: Mapping[str, Any], spec: Mapping[str, Any], now: float) -> Scope:
    meta = workflow.get("metadata") or {}
    return workflow_scope(
        name=p.name,
        namespace=p.settings.namespace,
        uid=p.uid,
        service_account_name=str(spec.get("serviceAccountName") or "default"),
        parameters=(spec.get("arguments") or {}).get("parameters") or [],
        labels=meta.get("labels"),
        annotations=meta.get("annotations"),
        creation_timestamp=_created(meta, now),
        main_entrypoint=str(spec.get("entrypoint")),
        priority=spec.get("priority"),
    )


def _created(meta: Mapping[str, Any], now: float) -> datetime:
    moment = epoch(meta.get("creationTimestamp"))
    return datetime.fromtimestamp(moment if moment is not None else now, UTC)


def _label(workflow: dict[str, Any], key: str, value: str) -> None:
    workflow.setdefault("metadata", {}).setdefault("labels", {})[key] = value


def _walk(p: Pass, outcome: Outcome) -> None:
    spec = p.spec
    owner = Owner(p.name, {str(t.get("name")): t for t in spec.get("templates") or []})
    frame = Frame(scope=p.globals, artifacts={}, owner=owner)
    args = {
        "parameters": (spec.get("arguments") or {}).get("parameters") or [],
        "artifacts": (spec.get("arguments") or {}).get("artifacts") or [],
    }
    entry = execute(p, {"template": spec.get("entrypoint")}, name=p.name, display=p.name,
                    parent=None, frame=frame, args=args).node  # fmt: skip
    if not advance_workflow_hooks(p, entry, frame):
        return  # Argo's operate(): the workflow waits for its hooks, then its exit handler
    if not n.fulfilled(entry) or p.frozen:
        return
    phase, message = _final_phase(p, entry)
    hook = exit_hook(spec, spec.get("arguments") or {})
    exit_name = f"{p.name}{n.EXIT_SUFFIX}"
    if hook is not None and p.shutdown == SHUTDOWN_TERMINATE and p.nodes.by_name(exit_name) is None:
        hook = None  # Argo: a terminated workflow runs its exit handler only if it had started
    if hook is not None:
        extra = exit_handler_entries(
            status=phase, failures=workflow_failures(p), duration_seconds=p.now - p.started
        )
        exit_node: Visit = advance_hook(
            p, hook, name=f"{p.name}{n.EXIT_SUFFIX}", display=f"{p.name}{n.EXIT_SUFFIX}",
            parent=None, frame=frame.but(extra=extra, on_exit=True, scope=p.globals.child(extra)),
            where="spec.onExit",
        )  # fmt: skip
        if not n.fulfilled(exit_node.node):
            return
        node = exit_node.node
        if node["phase"] in (n.FAILED, n.ERROR) and phase == n.SUCCEEDED:
            # Argo's operate(): a failed exit handler fails a succeeded workflow, an errored one
            # errors it, with the exit node's own message.
            phase, message = node["phase"], node.get("message") or ""
    _complete(p, outcome, phase, message, entry)


def _final_phase(p: Pass, entry: Node) -> tuple[str, str]:
    if n.daemoned(entry):  # a daemon entrypoint serving: Argo's Successful(), stopped at the end
        return n.SUCCEEDED, ""
    reason = p.stopping()
    if reason is not None and entry["phase"] not in (n.SUCCEEDED, n.SKIPPED, n.OMITTED):
        return n.FAILED, reason
    if entry["phase"] in (n.SUCCEEDED, n.SKIPPED, n.OMITTED):
        return n.SUCCEEDED, ""
    phase = n.ERROR if entry["phase"] == n.ERROR else n.FAILED
    return phase, entry.get("message") or ""


def _complete(p: Pass, outcome: Outcome, phase: str, message: str, entry: Node) -> None:
    status = p.status
    if status.get("synchronization") or p.spec.get("synchronization"):
        sync.release_all(p.workflow, p.settings)
    # Nothing is left unfinished: nodes a failure or a stop left behind end with the workflow.
    leftover = message or DEADLINE_MESSAGE
    daemon.stop_all(p)  # Argo's killDaemonedChildren(""): no daemon outlives its workflow
    for node in list(p.nodes):
        if not n.fulfilled(node):
            p.nodes.finish(node, n.FAILED, leftover, now=p.now)
    status["phase"] = phase
    status["finishedAt"] = rfc3339(p.now)
    if message:
        status["message"] = message
    else:
        status.pop("message", None)
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Completed"]
    conditions.append({"type": "Completed", "status": "True"})
    status["conditions"] = conditions
    _label(p.workflow, LABEL_PHASE, phase)
    _label(p.workflow, LABEL_COMPLETED, "true")
    outcome.finished = True
    outcome.changed = True
    p.events.append(Event("workflow_finished", {}, entry, p.globals))


def _progress(p: Pass) -> str:
    pods = [node for node in p.nodes if node["type"] == n.POD]
    done = sum(1 for node in pods if node["phase"] == n.SUCCEEDED)
    return f"{done}/{len(pods)}"
