"""Executing one node, every pass (Argo's `executeTemplate`): a fulfilled node is returned as it
is; otherwise its template is resolved, its inputs bound, and the handler of its kind
(`kinds.KINDS`, given to each pass) advances it from what the status and the observed pods say.

`execute` returns the node and, when the node was refused in this pass (it errored before
running anything: Argo's executeTemplate returned an error), the message: a step group or a DAG
that sees one is an Error at once, as Argo's executeStepGroup/executeDAG."""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from argoexec.controller.engine.io import InputError, resolve_input_artifacts, resolve_parameters
from argoexec.controller.engine.scope import Scope
from argoexec.controller.engine.substitute import ArgumentError, SubstitutionError, substitute
from argoexec.controller.expr import ExpressionError
from argoexec.controller.pod import pod_name
from argoexec.controller.workflow.errors import DocumentError
from argoexec.durations import parse_go_duration

from . import memoize
from . import nodes as n
from . import synchronization as sync
from .clock import epoch
from .context import Event, Frame, Owner, Pass, Run, Visit
from .errors import NodeError
from .nodes import Node
from .outputs import export_globals, suspend_outputs

log = logging.getLogger("argoexec.controller")

POD_KINDS = ("container", "script", "resource", "containerSet", "data")
# Kinds the agent runs (Argo's WorkflowTaskSet tasks), not a pod of their own.
TASK_KINDS = ("http",)
KINDS = (*POD_KINDS, *TASK_KINDS, "steps", "dag", "suspend")
NODE_TYPES = {"steps": n.STEPS, "dag": n.DAG, "suspend": n.SUSPEND, "http": n.HTTP}
_RESOLVE_ERRORS = (ArgumentError, SubstitutionError, ExpressionError, InputError, ValueError)


def seconds(text: str) -> float:
    """A duration as Argo accepts it: plain seconds (`20`) or a Go duration (`1m30s`)."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        return parse_go_duration(text)


def template_kind(template: Mapping[str, Any]) -> str:
    daemon = template.get("daemon")
    if daemon not in (None, False, True):
        raise NodeError(f"template {template.get('name')!r}: daemon must be true or false")
    for kind in KINDS:
        if template.get(kind) is not None:
            return kind
    unsupported = [k for k in ("plugin",) if template.get(k) is not None]
    if unsupported:
        raise NodeError(
            f"template {template.get('name')!r}: {unsupported[0]} templates are not supported "
            "by the thin controller"
        )
    raise NodeError(f"template {template.get('name')!r} has none of {', '.join(KINDS)}")


def substituted(run: Run) -> dict[str, Any]:
    """The node's template with its variables substituted (all must resolve), as Argo's
    `ProcessArgs` leaves it for the pod or the agent; a failure is the node's error."""
    template = run.template
    try:
        # `metrics` are evaluated when the node completes, with variables only known then.
        body = substitute(
            {k: v for k, v in template.items() if k != "metrics"},
            run.scope,
            allow_unresolved=False,
            location=f"template {template.get('name')!r}",
        )
    except (SubstitutionError, ExpressionError) as exc:
        raise NodeError(str(exc)) from None
    return dict(body)


def _merge_defaults(defaults: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(defaults))
    for key, value in template.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge_defaults(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve(
    p: Pass, call: Mapping[str, Any], owner: Owner
) -> tuple[dict[str, Any], Owner, str | None, dict[str, Any] | None]:
    """(template, its owner, templateName for the node, templateRef for the node)."""
    if call.get("templateRef"):
        ref = dict(call["templateRef"])
        store = p.settings.store
        if store is None:
            raise NodeError(f"templateRef {ref}: no WorkflowTemplates were given (--templates)")
        try:
            template, found = store.resolve_template_ref(ref)
        except (DocumentError, LookupError, ValueError) as exc:
            raise NodeError(str(exc)) from None
        kind = "cluster" if ref.get("clusterScope") else "namespaced"
        new_owner = Owner(str(found.name), dict(found.templates), f"{kind}/{found.name}")
        tref = {"name": ref.get("name"), "template": ref.get("template")}
        if ref.get("clusterScope"):
            tref["clusterScope"] = True
        template_name, owner = None, new_owner
    elif call.get("inline"):
        template = dict(call["inline"])
        template.setdefault("name", "")
        template_name, tref = None, None
    else:
        name = str(call.get("template") or "")
        if name not in owner.templates:
            where = "the workflow" if owner.scope == "local/" else owner.scope
            raise NodeError(f"template {name!r} not found in {where}")
        template, template_name, tref = dict(owner.templates[name]), name, None
    defaults = p.spec.get("templateDefaults")
    if defaults:
        template = _merge_defaults(defaults, template)
    return template, owner, template_name, tref


def retry_strategy(p: Pass, template: Mapping[str, Any]) -> dict[str, Any] | None:
    """Argo's `woc.retryStrategy(tmpl)`: the template's own, else the workflow's."""
    own = template.get("retryStrategy")
    strategy = own if own is not None else p.spec.get("retryStrategy")
    return dict(strategy) if strategy else None


def refuse(
    p: Pass,
    name: str,
    display: str,
    parent: Node | None,
    *,
    frame: Frame,
    message: str,
    phase: str = n.ERROR,
    type_: str = n.SKIPPED_TYPE,
    template_name: Any = None,
) -> Visit:
    """Node `name` finished as `phase` before it ran anything (created if it is not there: of
    type Skipped, as Argo's executeTemplate creates a node it could not start, which is how
    the step group or DAG above knows it was refused, pass after pass)."""
    node = p.nodes.by_name(name)
    if node is None:
        node = p.nodes.add(
            name, display, type_, now=p.now, parent=parent, boundary_id=frame.boundary_id,
            template_name=template_name,
        )  # fmt: skip
    elif n.fulfilled(node):
        return Visit(node)
    p.nodes.finish(node, phase, message, now=p.now)
    return Visit(node, message if phase == n.ERROR else "")


def execute(
    p: Pass,
    call: Mapping[str, Any],
    *,
    name: str,
    display: str,
    parent: Node | None,
    frame: Frame,
    args: Mapping[str, Any],
) -> Visit:
    """Advance `call` (a step, a task, or `{"template": entrypoint}`) as node `name`."""
    existing = p.nodes.by_name(name)
    if existing is not None and n.fulfilled(existing):
        if existing["type"] == n.SUSPEND and existing.get("outputs"):
            _export_resumed(p, call, frame, existing)
        return Visit(existing)
    try:
        return _execute(p, call, name=name, display=display, parent=parent, frame=frame, args=args)
    except NodeError as exc:
        called = call.get("template")
        return refuse(p, name, display, parent, frame=frame, message=exc.message, phase=exc.phase,
                      template_name=called)  # fmt: skip
    except Exception as exc:  # a bug of ours: this node errors, the run goes on
        kind = type(exc).__name__
        log.error("node %s: internal error (%s)", name, kind)
        log.debug("node %s: internal error", name, exc_info=exc)
        message = (
            f"the controller failed on this node: internal error ({kind}), a bug of argoexec "
            "(--loglevel debug shows where)"
        )
        return refuse(p, name, display, parent, frame=frame, message=message)


def _export_resumed(p: Pass, call: Mapping[str, Any], frame: Frame, node: Node) -> None:
    """A suspend node resumed by a client: its supplied output parameters without a value take
    their defaults (one with neither makes the node an Error, naming it), and the global ones
    are exported, as if the node had ended here."""
    try:
        template = resolve(p, call, frame.owner)[0]
    except NodeError:
        return
    outputs = node.get("outputs") or {}
    given = outputs.get("parameters") or []
    if node["phase"] == n.SUCCEEDED and any("value" not in q for q in given):
        values = {str(q["name"]): str(q["value"]) for q in given if "value" in q}
        try:
            settled = suspend_outputs(template, values)
        except ValueError as exc:
            node["phase"] = n.ERROR
            node["message"] = str(exc)
            node.pop("outputs", None)
            p.nodes.changed += 1
            return
        p.nodes.set(node, outputs=settled)
    export_globals(p, template, node.get("outputs"))


def _execute(
    p: Pass,
    call: Mapping[str, Any],
    *,
    name: str,
    display: str,
    parent: Node | None,
    frame: Frame,
    args: Mapping[str, Any],
) -> Visit:
    if frame.depth > p.settings.max_depth:
        # Argo's ErrMaxDepthExceeded: an Error node, but not an error of the step group.
        message = (
            f"{name}: templates nested deeper than {p.settings.max_depth} levels "
            "(unbounded recursion?)"
        )
        called = call.get("template")
        refused = refuse(p, name, display, parent, frame=frame, message=message,
                         template_name=called, type_=n.POD)  # fmt: skip
        return Visit(refused.node)
    template, owner, template_name, tref = resolve(p, call, frame.owner)
    kind = template_kind(template)
    frame = frame.but(owner=owner, depth=frame.depth + 1)
    strategy = retry_strategy(p, template)
    if template.get("synchronization"):  # Argo's handleSynchronization, before the node runs
        type_ = n.RETRY if strategy else NODE_TYPES.get(kind, n.POD)
        waiting = sync.hold_node(
            p, template, name=name, display=display, parent=parent, frame=frame, type_=type_,
            template_name=template_name, tref=tref, args=args,
        )  # fmt: skip
        if waiting is not None:
            return waiting
    fresh = p.nodes.by_name(name) is None
    if strategy:
        visit = p.kinds.retry(
            p, template, kind, template_name, tref, strategy=strategy, name=name,
            display=display, parent=parent, frame=frame, args=args,
        )  # fmt: skip
    else:
        visit = attempt(
            p, template, kind, template_name, tref, name=name, display=display, parent=parent,
            frame=frame, args=args,
        )  # fmt: skip
    if template.get("synchronization") and n.fulfilled(visit.node):
        holder = f"{p.settings.namespace}/{p.name}/{visit.node['id']}"
        keys = sync.held_by(p.workflow, holder)
        sync.release_keys(p.workflow, p.settings, holder, keys)
    if template.get("metrics"):
        variables = p.globals.child(frame.extra)
        if fresh:
            p.events.append(Event("node_started", template, visit.node, variables))
        if n.fulfilled(visit.node):
            p.events.append(Event("node_finished", template, visit.node, variables))
    return visit


def attempt(
    p: Pass,
    template: dict[str, Any],
    kind: str,
    template_name: str | None,
    tref: dict[str, Any] | None,
    *,
    name: str,
    display: str,
    parent: Node | None,
    frame: Frame,
    args: Mapping[str, Any],
    retry_entries: Mapping[str, str] | None = None,
) -> Visit:
    node = p.nodes.by_name(name)
    if node is not None and n.fulfilled(node):
        return Visit(node)
    fresh = node is None
    if node is None:
        node = p.nodes.add(
            name, display, NODE_TYPES.get(kind, n.POD), now=p.now, parent=parent,
            boundary_id=frame.boundary_id, template_name=template_name, template_ref=tref,
            template_scope=frame.owner.scope,
        )  # fmt: skip
        reason = p.halted(frame)
        if reason is not None:
            p.nodes.finish(node, n.FAILED, reason, now=p.now)
            return Visit(node)
    pod = pod_name(p.name, name, str(template.get("name") or ""), node["id"])
    # Argo's ProcessArgs/SubstituteParams: inputs see the globals and the node's locals.
    locals_ = (
        p.globals.child(frame.extra)
        .child(retry_entries or {})
        .with_pod(pod_name=pod, node_name=name)
    )
    try:
        try:
            parameters = resolve_parameters(
                template, args, frame.scope, locals_, p.settings.config_maps
            )
            artifacts = resolve_input_artifacts(template, args)
        except _RESOLVE_ERRORS as exc:
            if fresh:  # Argo's ProcessArgs failed: the node it could not start is Skipped
                node["type"] = n.SKIPPED_TYPE
            raise NodeError(str(exc)) from None
        resolved = dict(template)
        inputs: dict[str, Any] = {}
        if parameters:
            inputs["parameters"] = parameters
        if artifacts:
            inputs["artifacts"] = artifacts
        resolved["inputs"] = inputs
        resolved.pop("retryStrategy", None)
        if fresh:
            public = _public_inputs(inputs)
            if public:
                node["inputs"] = public
        scope = locals_.with_template_io(resolved)
        inner = frame.but(deadline=_deadline(p, node, template, scope, frame))
        run = Run(node, resolved, kind, scope, inner, pod)
        # Argo looks a memoized node up only as it is created: a hit never runs.
        hit = memoize.check(p, run) if fresh and not p.frozen else None
        return hit if hit is not None else p.kinds.handlers[kind](p, run)
    except NodeError as exc:
        p.nodes.finish(node, exc.phase, exc.message, now=p.now)
        return Visit(node, exc.message if exc.phase == n.ERROR else "")


def _public_inputs(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    shown = {
        kind: [{k: v for k, v in item.items() if k != "missing"} for item in items]
        for kind, items in inputs.items()
    }
    return shown or None


def _deadline(
    p: Pass, node: Node, template: Mapping[str, Any], scope: Scope, frame: Frame
) -> float | None:
    """The tightest deadline of the node's run: the frame's, or its own `timeout` counted from
    the node's start."""
    timeout = template.get("timeout")
    if not timeout:
        return frame.deadline
    try:
        text = str(substitute(str(timeout), scope, allow_unresolved=False, location="timeout"))
        # Status times are whole seconds, rounded down: the deadline is counted from the next
        # second, never before the node's real start.
        limit = started_at(node) + 1.0 + seconds(text)
    except (SubstitutionError, ValueError) as exc:
        raise NodeError(f"template {template.get('name')!r}: timeout: {exc}") from None
    return limit if frame.deadline is None else min(frame.deadline, limit)


def started_at(node: Node) -> float:
    return epoch(node.get("startedAt")) or 0.0
