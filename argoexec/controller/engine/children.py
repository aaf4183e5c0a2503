"""What steps and DAG tasks share: calling one child (`when`, arguments, the call itself and
its exit hook), judging its phase (`continueOn`), publishing its results to its siblings'
scope, and running a batch of children with `parallelism` and `failFast`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from argoexec.controller.expr import ExpressionError
from argoexec.durations import rfc3339

from . import nodes as n
from .context import Frame, Owner, RunState
from .execute import TemplateError, execute, resolve
from .guard import internal_error
from .io import ABSENT_ARTIFACT, InputError, argument_artifacts
from .nodes import Node
from .scope import Scope, parameter_text
from .substitute import SubstitutionError, evaluate_when, mark_absent_arguments, substitute

Artifacts = dict[str, dict[str, Any]]


def current_globals(run: RunState, scope: Scope, artifacts: Artifacts) -> tuple[Scope, Artifacts]:
    """`scope` and `artifacts` with the global outputs exported so far (`globalName`): Argo
    resolves every step, and a template's outputs, against its current globals."""
    exported = {k: v for k, v in run.globals.items() if k.startswith("workflow.outputs.")}
    if exported:
        scope = scope.child(exported)
    if run.global_artifacts:
        artifacts = {**artifacts, **run.global_artifacts}
    return scope, artifacts


def tolerated(step: Mapping[str, Any], node: Node) -> bool:
    """Whether the child's phase lets its parent go on (success, skip, or `continueOn`)."""
    return node.phase in (n.SUCCEEDED, n.SKIPPED, n.OMITTED) or continues_on(step, node.phase)


def continues_on(step: Mapping[str, Any], phase: str) -> bool:
    """Argo's `ContinuesOn(phase)`: `continueOn.failed` for Failed, `continueOn.error` for
    Error."""
    continue_on = step.get("continueOn") or {}
    if phase == n.FAILED:
        return bool(continue_on.get("failed"))
    return phase == n.ERROR and bool(continue_on.get("error"))


def call_child(
    run: RunState,
    step: Mapping[str, Any],
    *,
    name: str,
    display: str,
    parent: Node | None,
    frame: Frame,
    scope: Scope,
    artifacts: Artifacts,
    where: str,
) -> Node:
    """Run one (already loop-expanded) step or task as node `name`; an unexpected exception
    makes it an Error (`guard`), its siblings go on."""
    try:
        return _call_child(
            run, step, name=name, display=display, parent=parent, frame=frame, scope=scope,
            artifacts=artifacts, where=where,
        )  # fmt: skip
    except Exception as exc:
        return internal_error(
            run, exc, name=name, display=display, parent=parent, boundary_id=frame.boundary_id
        )


def _call_child(
    run: RunState,
    step: Mapping[str, Any],
    *,
    name: str,
    display: str,
    parent: Node | None,
    frame: Frame,
    scope: Scope,
    artifacts: Artifacts,
    where: str,
) -> Node:
    scope, artifacts = current_globals(run, scope, artifacts)
    child_frame = frame.but(scope=scope, artifacts=artifacts)
    when = step.get("when")
    try:
        if when not in (None, "") and not evaluate_when(str(when), scope, location=f"{where}.when"):
            shown = substitute(str(when), scope, allow_unresolved=True)
            node = run.tree.add(
                name, display, n.SKIPPED_TYPE, parent=parent, boundary_id=frame.boundary_id,
                template_name=step.get("template"), phase=n.SKIPPED,
            )  # fmt: skip
            return run.tree.finish(node, n.SKIPPED, f"when '{shown}' evaluated false")
        arguments = dict(step.get("arguments") or {})
        params = substitute(
            mark_absent_arguments(list(arguments.get("parameters") or []), scope),
            scope,
            allow_unresolved=False,
            location=f"{where}.arguments.parameters",
        )
        arts = argument_artifacts(arguments, artifacts, scope, where)
    except ExpressionError as exc:
        node = run.tree.add(name, display, n.POD, parent=parent, boundary_id=frame.boundary_id)
        return run.tree.refuse(node, f"{where}.when: {exc}")
    except (SubstitutionError, InputError) as exc:
        node = run.tree.add(name, display, n.POD, parent=parent, boundary_id=frame.boundary_id)
        return run.tree.refuse(node, str(exc))
    node = execute(
        run,
        step,
        name=name,
        display=display,
        parent=parent,
        frame=child_frame,
        args={"parameters": params, "artifacts": arts},
    )
    hook = exit_hook(step, run.spec.get("arguments") or {})
    if hook is not None:
        prefix = "steps" if frame.boundary_kind == "steps" else "tasks"
        exit_scope, exit_artifacts = publish(scope, artifacts, f"{prefix}.{step.get('name')}", node)
        hook_node = run_exit_hook(
            run,
            hook,
            name=f"{name}{n.EXIT_SUFFIX}",
            display=f"{display}{n.EXIT_SUFFIX}",
            parent=node,
            frame=child_frame.but(scope=exit_scope, artifacts=exit_artifacts),
            where=f"{where}.onExit",
        )
        if hook_node.refused:
            # Argo's runOnExitNode returns the error of a hook that could not start (its
            # arguments, its template): it errors the step group, or the DAG.
            node.hook_error = hook_node.message
    return node


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


def run_exit_hook(
    run: RunState,
    hook: Mapping[str, Any],
    *,
    name: str,
    display: str,
    parent: Node | None,
    frame: Frame,
    where: str,
) -> Node:
    """Run an exit hook as node `name`, its arguments resolved in `frame`'s scope."""
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
        node = run.tree.add(name, display, n.POD, parent=parent, boundary_id=frame.boundary_id)
        return run.tree.refuse(node, str(exc))
    call = {k: hook[k] for k in ("template", "templateRef") if hook.get(k)}
    return execute(
        run,
        call,
        name=name,
        display=display,
        parent=parent,
        frame=frame,
        args={"parameters": params, "artifacts": arts},
    )


def publish(
    scope: Scope,
    artifacts: Artifacts,
    prefix: str,
    node: Node,
    declared: Mapping[str, Any] | None = None,
) -> tuple[Scope, Artifacts]:
    """The scope and artifact map with one finished child's results under `prefix`.
    `declared` is the child's template's `outputs`, for a Skipped or Omitted child."""
    outputs = node.outputs or {}
    params = {str(p.get("name")): str(p.get("value", "")) for p in outputs.get("parameters") or []}
    absent: list[str] = []
    new_artifacts = dict(artifacts)
    if node.phase in (n.SKIPPED, n.OMITTED) and node.outputs is None and declared is not None:
        params, absent = skipped_parameters(declared)
        for art in declared.get("artifacts") or []:
            new_artifacts[f"{prefix}.outputs.artifacts.{art.get('name')}"] = {
                ABSENT_ARTIFACT: f"names an output of {node.display_name!r}, which was "
                f"{node.phase} and produced no artifacts"
            }
    scope = scope.with_node_result(
        prefix,
        node_id=node.id,
        phase=node.phase,
        exit_code=outputs.get("exitCode"),
        result=outputs.get("result"),
        parameters=params,
        started_at=rfc3339(node.started_at),
        finished_at=rfc3339(node.finished_at) if node.finished_at else "",
        host_node_name=node.host_node_name or "",
    ).with_absent(f"{prefix}.outputs.{name}" for name in absent)
    for art in outputs.get("artifacts") or []:
        new_artifacts[f"{prefix}.outputs.artifacts.{art.get('name')}"] = dict(art)
    return scope, new_artifacts


def publish_child(
    run: RunState,
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
    if node.phase in (n.SKIPPED, n.OMITTED) and node.outputs is None:
        declared = declared_outputs(run, call, owner)
    return publish(scope, artifacts, prefix, node, declared)


def skipped_parameters(declared: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Argo v4's `addSkippedNodeOutputsToScope`: a Skipped or Omitted node's declared output
    parameters take their `valueFrom.default`; those without one, and a declared `result`, are
    absent (nil to expressions, an error to a plain tag). Returns (values, absent names
    relative to `outputs.`)."""
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


def declared_outputs(run: RunState, call: Mapping[str, Any], owner: Owner) -> dict[str, Any]:
    """The `outputs` of the template a step or task calls (empty when it cannot be resolved:
    Argo then populates nothing for a skipped node)."""
    try:
        template = resolve(run, call, owner)[0]
    except TemplateError:
        return {}
    return dict(template.get("outputs") or {})


def publish_loop(scope: Scope, prefix: str, group: Node, children: Sequence[Node]) -> Scope:
    """An expanded loop's aggregated outputs under `prefix`."""
    entries = []
    for child in children:
        outputs = child.outputs or {}
        params = {
            str(p.get("name")): str(p.get("value", "")) for p in outputs.get("parameters") or []
        }
        entries.append((outputs.get("result"), params))
    return scope.with_aggregate(prefix, entries, phase=group.phase, node_id=group.id)


# Children of one batch started at once when no `parallelism` holds them back: each is a thread
# until it ends, and no more than `max_pods` of their pods run at once anyway. The others are
# started as these end (with no node before, as Argo's template `parallelism` holds children).
MIN_WINDOW = 64


def window(run: RunState, parallelism: int | None, jobs: int) -> int:
    """How many children of a batch of `jobs` may be under way at once."""
    if parallelism:
        return parallelism
    if run.options.max_pods:
        return min(jobs, max(MIN_WINDOW, 2 * run.options.max_pods))
    return jobs


def run_batch(
    run: RunState,
    jobs: Sequence[Callable[[], Node]],
    *,
    parallelism: int | None,
    fail_fast: bool,
    ok: Callable[[int, Node], bool],
    on_exit: bool = False,
) -> list[Node | None]:
    """Run `jobs` concurrently (at most `parallelism` at once, or a `window`). With
    `fail_fast`, once one finishes not `ok`, jobs that had to wait for `parallelism` are not
    started (None in the result); nor is any once the run stops (aborts, in an exit handler)."""
    results: list[Node | None] = [None] * len(jobs)
    if len(jobs) == 1 and not parallelism:
        results[0] = jobs[0]()
        return results
    limit = window(run, parallelism, len(jobs))
    cond = threading.Condition()
    state = {"running": 0, "failed": False}

    def worker(index: int) -> None:
        node: Node | None = None
        try:
            node = jobs[index]()
        finally:
            with cond:
                results[index] = node
                state["running"] -= 1
                if node is None or not ok(index, node):
                    state["failed"] = True
                cond.notify_all()

    threads = []
    for index in range(len(jobs)):
        with cond:
            while state["running"] >= limit:
                cond.wait()
            # Fail-fast holds back only what had to wait for `parallelism`: without it every
            # child starts at once, as Argo creates a whole loop in one pass.
            held = fail_fast and parallelism and index >= parallelism and state["failed"]
            if held or run.stopping(on_exit=on_exit):
                break
            state["running"] += 1
        thread = threading.Thread(target=worker, args=(index,), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return results
