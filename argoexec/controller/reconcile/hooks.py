"""Lifecycle hooks other than `exit` (Argo's `executeWfLifeCycleHook` and
`executeTmplLifeCycleHook`): `hooks.<name>` with an `expression`, on the workflow (`spec.hooks`)
or on a step or DAG task.

As Argo: on every pass each hook's expression is evaluated (expr-lang, against the globals and,
for a step or task, its siblings' results with `steps.<name>.status` / `tasks.<name>.status`
the node's current phase; at the workflow level `workflow.status` is the entry node's phase as a
workflow phase). The first time it is true, the hook's template runs as node
`<owner>.hooks.<name>` (a child of the step, task, or the workflow's entry node; the step's
boundary), and from then on that node is advanced until it is over, whatever the expression
says: a hook runs at most once. A step or task is not over for its group (its DAG) until its
running hooks are, and the workflow does not complete until its own hooks are over (the exit
handler runs after them). A hook's phase never changes its owner's. An expression that is
missing or cannot be evaluated refuses the hook node (an Error naming the hook), which errors
the step group, the DAG, or the workflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argoexec.controller.engine.io import InputError, argument_artifacts
from argoexec.controller.engine.scope import Scope, exit_handler_entries
from argoexec.controller.engine.substitute import (
    SubstitutionError,
    mark_absent_arguments,
    substitute,
)
from argoexec.controller.expr import ExpressionError, evaluate_condition
from argoexec.controller.pod import pod_name

from . import nodes as n
from .context import Artifacts, Frame, Pass, Visit
from .nodes import Node
from .walk import execute, refuse

EXIT = "exit"
HOOKS_INFIX = n.HOOKS_INFIX

# Argo's workflowStatus map in operate(): the entry node's phase as a workflow phase.
WORKFLOW_STATUS = {
    n.PENDING: "Pending",
    n.RUNNING: "Running",
    n.SUCCEEDED: "Succeeded",
    n.SKIPPED: "Succeeded",
    n.OMITTED: "Succeeded",
    n.FAILED: "Failed",
    n.ERROR: "Error",
}


def lifecycle_hooks(holder: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The hooks of a workflow spec, a step or a task other than `exit`, by name (Argo walks
    a Go map; a fixed order keeps passes reproducible)."""
    hooks = holder.get("hooks")
    if not isinstance(hooks, Mapping):
        return []
    return [
        (str(name), hook)
        for name, hook in sorted(hooks.items(), key=lambda item: str(item[0]))
        if str(name) != EXIT and isinstance(hook, Mapping)
    ]


def hook_node_name(owner: str, hook: str) -> str:
    """Argo's `generateLifeHookNodeName`."""
    return f"{owner}{HOOKS_INFIX}{hook}"


def refused_hook(p: Pass, node: Node) -> str:
    """The message of `node`'s first hook (exit or lifecycle) refused before it ran, or ""."""
    for child_id in node.get("children") or []:
        child = p.nodes.get(child_id)
        refused = child["type"] == n.SKIPPED_TYPE and child["phase"] == n.ERROR
        if refused and n.is_hook_of(node, child):
            return str(child.get("message") or "")
    return ""


def should_run(hook_name: str, hook: Mapping[str, Any], scope: Scope) -> bool:
    """Evaluate the hook's expression; a NodeError-worthy problem raises `ValueError`."""
    expression = hook.get("expression")
    if not isinstance(expression, str) or not expression.strip():
        raise ValueError(f"Expression required for hook {hook_name}")
    try:
        return evaluate_condition(expression, scope.as_expr_env())
    except ExpressionError as exc:
        raise ValueError(f"hook {hook_name}: {exc}") from None


def advance_hook(
    p: Pass,
    hook: Mapping[str, Any],
    *,
    name: str,
    display: str,
    parent: Node | None,
    frame: Frame,
    where: str,
) -> Visit:
    """Advance a hook (exit or lifecycle) as node `name`, its arguments resolved in `frame`'s
    scope."""
    node = p.nodes.by_name(name)
    if node is not None and n.fulfilled(node):
        return Visit(node)
    arguments = hook.get("arguments") or {}
    try:
        params = substitute(
            mark_absent_arguments(list(arguments.get("parameters") or []), frame.scope),
            frame.scope,
            allow_unresolved=False,
            location=f"{where}.arguments.parameters",
        )
        arts = argument_artifacts(arguments, frame.artifacts, frame.scope, where)
    except (SubstitutionError, InputError) as exc:
        return refuse(p, name, display, parent, frame=frame, message=str(exc))
    call = {k: hook[k] for k in ("template", "templateRef") if hook.get(k)}
    return execute(
        p, call, name=name, display=display, parent=parent, frame=frame,
        args={"parameters": params, "artifacts": arts},
    )  # fmt: skip


def advance_hooks(
    p: Pass,
    holder: Mapping[str, Any],
    *,
    owner: Node,
    display: str,
    parent: Node,
    frame: Frame,
    scope: Scope,
    artifacts: Artifacts,
    where: str,
) -> bool:
    """Advance `holder`'s lifecycle hooks for `owner` (the step, task or workflow node whose
    name prefixes the hooks'); True when none of them is still running. `scope` is what the
    expressions and the hooks' arguments see; hook nodes hang from `parent`."""
    done = True
    for name, hook in lifecycle_hooks(holder):
        full = hook_node_name(owner["name"], name)
        node_display = f"{display}{HOOKS_INFIX}{name}"
        if p.nodes.by_name(full) is None:
            if p.frozen:
                continue
            try:
                if not should_run(full, hook, scope):
                    continue
            except ValueError as exc:
                refuse(p, full, node_display, parent, frame=frame, message=str(exc))
                continue
        visit: Visit = advance_hook(
            p, hook, name=full, display=node_display, parent=parent,
            frame=frame.but(scope=scope, artifacts=artifacts), where=f"{where}.hooks.{name}",
        )  # fmt: skip
        visit.node.setdefault("nodeFlag", {})["hooked"] = True
        done = done and n.fulfilled(visit.node)
    return done


def advance_workflow_hooks(p: Pass, entry: Node, frame: Frame) -> bool:
    """`spec.hooks` after the entry node's pass, as Argo's operate(): True when none is still
    running. They see `workflow.status` (the entry's phase as a workflow phase) and
    `workflow.failures`. A refused hook errors the entry node (Argo's markNodeError)."""
    if not lifecycle_hooks(p.spec):
        return True
    extra = exit_handler_entries(
        status=WORKFLOW_STATUS.get(entry["phase"], n.RUNNING), failures=workflow_failures(p),
        duration_seconds=p.now - p.started,
    )  # fmt: skip
    scope = p.globals.child(extra)
    done = advance_hooks(
        p, p.spec, owner={"name": p.name}, display=p.name, parent=entry,
        frame=frame.but(extra=extra, scope=scope), scope=scope, artifacts=frame.artifacts,
        where="spec",
    )  # fmt: skip
    message = refused_hook(p, entry)
    if message and not n.fulfilled(entry):
        p.nodes.finish(entry, n.ERROR, message, now=p.now)
    return done


def workflow_failures(p: Pass) -> list[dict[str, Any]]:
    """`workflow.failures`: every Failed or Errored node, as Argo lists them."""
    failures = []
    for node in p.nodes:
        if node["phase"] not in (n.FAILED, n.ERROR):
            continue
        template = node.get("templateName") or (node.get("templateRef") or {}).get("template") or ""
        failures.append(
            {
                "displayName": node["displayName"],
                "message": node.get("message") or "",
                "templateName": template,
                "phase": node["phase"],
                "podName": pod_name(p.name, node["name"], template, node["id"]),
                "finishedAt": node.get("finishedAt"),
            }
        )
    return failures
