"""What steps and DAG tasks share: advancing one child (`when`, arguments, the call itself and
its exit hook), judging its phase (`continueOn`), and publishing its results to its siblings'
scope (`steps.<name>.*`, `tasks.<name>.*`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from argoexec.controller.engine.io import ABSENT_ARTIFACT, InputError, argument_artifacts
from argoexec.controller.engine.scope import Scope, parameter_text
from argoexec.controller.engine.substitute import (
    SubstitutionError,
    evaluate_when,
    mark_absent_arguments,
    substitute,
)
from argoexec.controller.expr import ExpressionError

from . import nodes as n
from .context import Artifacts, Frame, Owner, Pass, Visit
from .errors import NodeError
from .hooks import advance_hook, advance_hooks
from .nodes import Node
from .walk import execute, refuse, resolve


class Child(NamedTuple):
    node: Node
    done: bool  # the node and its exit hook are fulfilled


def with_globals(p: Pass, scope: Scope, artifacts: Artifacts) -> tuple[Scope, Artifacts]:
    """`scope` and `artifacts` with the global outputs exported so far (`globalName`): Argo
    resolves every step, and a template's outputs, against its current globals."""
    if p.exported:
        scope = scope.child(p.exported)
    if p.global_artifacts:
        artifacts = {**artifacts, **p.global_artifacts}
    return scope, artifacts


def continues_on(step: Mapping[str, Any], phase: str) -> bool:
    """Argo's `ContinuesOn(phase)`."""
    continue_on = step.get("continueOn") or {}
    if phase == n.FAILED:
        return bool(continue_on.get("failed"))
    return phase == n.ERROR and bool(continue_on.get("error"))


def tolerated(step: Mapping[str, Any], node: Node) -> bool:
    """Whether the child's phase lets its parent go on (success, skip, or `continueOn`)."""
    phase = node["phase"]
    if n.daemoned(node):  # Argo's Successful(): a serving daemon lets the steps after it go
        return True
    return phase in (n.SUCCEEDED, n.SKIPPED, n.OMITTED) or continues_on(step, phase)


def advance_child(
    p: Pass,
    step: Mapping[str, Any],
    *,
    name: str,
    display: str,
    parent: Node | None,
    frame: Frame,
    scope: Scope,
    artifacts: Artifacts,
    where: str,
) -> Child:
    """Advance one (already loop-expanded) step or task as node `name`, then its exit hook."""
    scope, artifacts = with_globals(p, scope, artifacts)
    node = p.nodes.by_name(name)
    visit = Visit(node) if node is not None and n.fulfilled(node) else None
    if node is not None and visit is not None and node["type"] == n.SUSPEND:
        # A resumed suspend node: `execute` settles its supplied outputs (see `walk`).
        visit = execute(p, step, name=name, display=display, parent=parent,
                        frame=frame.but(scope=scope, artifacts=artifacts), args={})  # fmt: skip
    if visit is None:
        visit = _call(p, step, name=name, display=display, parent=parent, frame=frame,
                      scope=scope, artifacts=artifacts, where=where)  # fmt: skip
    node = visit.node
    prefix = f"{'steps' if frame.boundary_kind == 'steps' else 'tasks'}.{step.get('name')}"
    if step.get("hooks") and not _lifecycle_hooks_done(
        p, step, node, display=display, frame=frame, scope=scope, artifacts=artifacts,
        where=where, prefix=prefix,
    ):  # fmt: skip
        return Child(node, False)
    if not n.fulfilled(node):
        return Child(node, False)
    hook = exit_hook(step, p.spec.get("arguments") or {})
    if hook is None or node["type"] == n.SKIPPED_TYPE:  # a skipped step runs no exit hook
        return Child(node, True)
    exit_scope, exit_artifacts = publish(scope, artifacts, prefix, node)
    hook_visit = advance_hook(
        p, hook, name=f"{name}{n.EXIT_SUFFIX}", display=f"{display}{n.EXIT_SUFFIX}",
        parent=node, frame=frame.but(scope=exit_scope, artifacts=exit_artifacts),
        where=f"{where}.onExit",
    )  # fmt: skip
    # Argo's runOnExitNode returns the error of a hook that could not start: it errors the step
    # group, or the DAG.
    return Child(node, n.fulfilled(hook_visit.node))


def _lifecycle_hooks_done(
    p: Pass,
    step: Mapping[str, Any],
    node: Node,
    *,
    display: str,
    frame: Frame,
    scope: Scope,
    artifacts: Artifacts,
    where: str,
    prefix: str,
) -> bool:
    """The step's (task's) lifecycle hooks advanced, seeing its current phase; False while one
    runs. Argo's executeStepGroup looks at a step's hooks at once, executeDAGTask at a task's
    once it runs; a child refused before it ran has none."""
    refused = node["type"] == n.SKIPPED_TYPE and node["phase"] == n.ERROR
    if refused or (prefix.startswith("tasks.") and node["phase"] == n.PENDING):
        return True
    hook_scope, hook_artifacts = publish(scope, artifacts, prefix, node)
    return advance_hooks(
        p, step, owner=node, display=display, parent=node, frame=frame, scope=hook_scope,
        artifacts=hook_artifacts, where=where,
    )  # fmt: skip


def _call(
    p: Pass,
    step: Mapping[str, Any],
    *,
    name: str,
    display: str,
    parent: Node | None,
    frame: Frame,
    scope: Scope,
    artifacts: Artifacts,
    where: str,
) -> Visit:
    child_frame = frame.but(scope=scope, artifacts=artifacts)
    when = step.get("when")
    try:
        fresh = p.nodes.by_name(name) is None
        if (
            fresh
            and when not in (None, "")
            and not evaluate_when(str(when), scope, location=f"{where}.when")
        ):
            shown = substitute(str(when), scope, allow_unresolved=True)
            node = p.nodes.add(
                name, display, n.SKIPPED_TYPE, now=p.now, parent=parent,
                boundary_id=frame.boundary_id, template_name=step.get("template"),
                phase=n.SKIPPED,
            )  # fmt: skip
            p.nodes.finish(node, n.SKIPPED, f"when '{shown}' evaluated false", now=p.now)
            return Visit(node)
        arguments = dict(step.get("arguments") or {})
        params = substitute(
            mark_absent_arguments(list(arguments.get("parameters") or []), scope),
            scope,
            allow_unresolved=False,
            location=f"{where}.arguments.parameters",
        )
        arts = argument_artifacts(arguments, artifacts, scope, where)
    except ExpressionError as exc:
        return refuse(p, name, display, parent, frame=frame, message=f"{where}.when: {exc}")
    except (SubstitutionError, InputError) as exc:
        return refuse(p, name, display, parent, frame=frame, message=str(exc))
    return execute(
        p, step, name=name, display=display, parent=parent, frame=child_frame,
        args={"parameters": params, "artifacts": arts},
    )  # fmt: skip


def exit_hook(holder: Mapping[str, Any], arguments: Mapping[str, Any]) -> dict[str, Any] | None:
    """Argo's `GetExitHook(arguments)`: `onExit` runs its template with `arguments` (the
    workflow's); `hooks.exit` with its own arguments, or those when it has none."""
    if holder.get("onExit"):
        return {"template": holder["onExit"], "arguments": dict(arguments)}
    hook = (holder.get("hooks") or {}).get("exit")
    if not hook:
        return None
    own = hook.get("arguments") or {}
    if own.get("parameters") or own.get("artifacts"):
        return dict(hook)
    return {**hook, "arguments": dict(arguments)}


def publish(
    scope: Scope,
    artifacts: Artifacts,
    prefix: str,
    node: Node,
    declared: Mapping[str, Any] | None = None,
    *,
    ip: str = "",
) -> tuple[Scope, Artifacts]:
    """The scope and artifact map with one finished child's results under `prefix`.
    `declared` is the child's template's `outputs`, for a Skipped or Omitted child."""
    outputs = node.get("outputs") or {}
    params = {str(p.get("name")): str(p.get("value", "")) for p in outputs.get("parameters") or []}
    absent: list[str] = []
    new_artifacts = dict(artifacts)
    phase = node["phase"]
    if phase in (n.SKIPPED, n.OMITTED) and node.get("outputs") is None and declared is not None:
        params, absent = skipped_parameters(declared)
        for art in declared.get("artifacts") or []:
            new_artifacts[f"{prefix}.outputs.artifacts.{art.get('name')}"] = {
                ABSENT_ARTIFACT: f"names an output of {node['displayName']!r}, which was "
                f"{phase} and produced no artifacts"
            }
    scope = scope.with_node_result(
        prefix,
        node_id=node["id"],
        phase=phase,
        exit_code=outputs.get("exitCode"),
        result=outputs.get("result"),
        parameters=params,
        started_at=node.get("startedAt") or "",
        finished_at=node.get("finishedAt") or "",
        host_node_name=node.get("hostNodeName") or "",
        ip=ip or node.get("podIP") or "",
    ).with_absent(f"{prefix}.outputs.{name}" for name in absent)
    for art in outputs.get("artifacts") or []:
        new_artifacts[f"{prefix}.outputs.artifacts.{art.get('name')}"] = dict(art)
    return scope, new_artifacts


def publish_child(
    p: Pass,
    scope: Scope,
    artifacts: Artifacts,
    prefix: str,
    node: Node,
    *,
    call: Mapping[str, Any],
    owner: Owner,
) -> tuple[Scope, Artifacts]:
    """`publish` for a step or task `call`; a Skipped or Omitted node's declared outputs come
    from the template it would have run."""
    declared = None
    if node["phase"] in (n.SKIPPED, n.OMITTED) and node.get("outputs") is None:
        try:
            declared = dict(resolve(p, call, owner)[0].get("outputs") or {})
        except NodeError:
            declared = {}
    ip = ""
    if node["type"] == n.RETRY and node.get("children"):
        # Argo's buildLocalScope: a Retry node's address is its last attempt's.
        ip = str(p.nodes.last_attempt(node).get("podIP") or "")
    return publish(scope, artifacts, prefix, node, declared, ip=ip)


def skipped_parameters(declared: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Argo v4's `addSkippedNodeOutputsToScope`: a Skipped or Omitted node's declared output
    parameters take their `valueFrom.default`; those without one, and a declared `result`, are
    absent. Returns (values, absent names relative to `outputs.`)."""
    values: dict[str, str] = {}
    absent: list[str] = []
    for param in declared.get("parameters") or []:
        default = (param.get("valueFrom") or {}).get("default")
        if default is not None:
            values[str(param.get("name"))] = parameter_text(default)
        else:
            absent.append(f"parameters.{param.get('name')}")
    if declared.get("result") is not None:
        absent.append("result")
    return values, absent


def publish_loop(
    scope: Scope, prefix: str, phase: str, group_id: str, children: Sequence[Node]
) -> Scope:
    """An expanded loop's aggregated outputs under `prefix`."""
    entries = []
    for child in children:
        outputs = child.get("outputs") or {}
        params = {
            str(q.get("name")): str(q.get("value", "")) for q in outputs.get("parameters") or []
        }
        entries.append((outputs.get("result"), params))
    return scope.with_aggregate(prefix, entries, phase=phase, node_id=group_id)
