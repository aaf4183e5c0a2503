"""A `steps` template: step groups in order, the steps of a group in parallel.

Node shape as Argo: the Steps node's first child is StepGroup `NAME[0]`; each later group hangs
from the outbound nodes of the previous group's children; a group's children are its steps (a
loop's items directly, `step(0:item)`; a loop without items is one Skipped node "Skipped, empty
params"). A group fails when a child fails or errors without `continueOn`, and then no later
group starts; the Steps node is then Failed (never Error, as Argo's executeSteps) and its
outbound nodes are the last group's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from argoexec.controller.expr import ExpressionError

from . import nodes as n
from .children import (
    Artifacts,
    call_child,
    current_globals,
    publish_child,
    publish_loop,
    run_batch,
    tolerated,
)
from .context import Frame, RunState
from .execute import export_globals
from .io import InputError, template_outputs
from .loops import LoopError, LoopStoppedError, expand_step, should_expand
from .nodes import Node
from .scope import Scope
from .substitute import SubstitutionError


def _groups(template: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    groups = []
    for group in template.get("steps") or []:
        groups.append(list(group) if isinstance(group, list) else [group])
    return groups


def run_steps(
    run: RunState, node: Node, template: dict[str, Any], scope: Scope, frame: Frame
) -> Node:
    run.tree.update(node, phase=n.RUNNING)
    inner = frame.but(boundary_id=node.id, boundary_kind="steps")
    artifacts: Artifacts = {}
    for art in (template.get("inputs") or {}).get("artifacts") or []:
        artifacts[f"inputs.artifacts.{art.get('name')}"] = dict(art)
    tmpl_name = str(template.get("name") or "")
    previous: Node | None = None
    failure = ""
    for index, group in enumerate(_groups(template)):
        group_node = run.tree.add(
            f"{node.name}[{index}]",
            f"[{index}]",
            n.STEP_GROUP,
            parent=node if previous is None else None,
            boundary_id=node.id,
            template_scope=frame.owner.scope,
            phase=n.RUNNING,
        )
        if previous is not None:
            _hang(run, previous, group_node)
        previous = group_node
        where = f"template {tmpl_name!r}: steps[{index}]"
        scope, artifacts, phase, failure = _run_group(
            run, group_node, group=group, scope=scope, artifacts=artifacts, frame=inner,
            template=template, where=where,
        )  # fmt: skip
        run.tree.finish(group_node, phase, failure)
        if phase != n.SUCCEEDED:
            break
    outbound = []
    if previous is not None:
        outbound = [o for c in previous.children for o in run.tree.outbound(run.tree.get(c))]
        outbound = outbound or [previous.id]
    if failure:
        # Argo's executeSteps: a failed or errored group fails the Steps node, with its message.
        return run.tree.finish(node, n.FAILED, failure, outbound_nodes=outbound)
    try:
        outputs = template_outputs(template, *current_globals(run, scope, artifacts))
    except InputError as exc:
        return run.tree.refuse(node, str(exc), outbound_nodes=outbound)
    export_globals(run, template, outputs)
    return run.tree.finish(node, n.SUCCEEDED, outputs=outputs, outbound_nodes=outbound)


def _hang(run: RunState, previous: Node, group: Node) -> None:
    if not previous.children:
        run.tree.link(previous, group)
        return
    for child in previous.children:
        for out in run.tree.outbound(run.tree.get(child)):
            run.tree.link(run.tree.get(out), group)


@dataclass
class _Plan:
    """What one step group runs: a job per (expanded) step, the step each job belongs to, the
    job indexes of each loop, and the Skipped node of each loop without items."""

    jobs: list[Callable[[], Node]] = field(default_factory=list)
    owners: list[dict[str, Any]] = field(default_factory=list)
    loops: dict[str, list[int]] = field(default_factory=dict)
    empty: dict[str, Node] = field(default_factory=dict)


def _run_group(
    run: RunState,
    group_node: Node,
    *,
    group: list[dict[str, Any]],
    scope: Scope,
    artifacts: Artifacts,
    frame: Frame,
    template: Mapping[str, Any],
    where: str,
) -> tuple[Scope, Artifacts, str, str]:
    """Run one group; returns the scope/artifacts with its results, the group's phase and its
    failure message."""
    plan = _Plan()
    for position, step in enumerate(group):
        step_where = f"{where}[{position}] ({step.get('name')})"
        error = _add_step(
            run, plan, step, group_node=group_node, frame=frame, scope=scope,
            artifacts=artifacts, where=step_where,
        )  # fmt: skip
        if error is not None:
            return scope, artifacts, *error  # Argo: the group is marked Error
    owners = plan.owners
    parallelism = template.get("parallelism")
    results = run_batch(
        run,
        plan.jobs,
        parallelism=int(parallelism) if parallelism else None,
        fail_fast=template.get("failFast") is True,  # Argo's Template.IsFailFast(): opt-in
        ok=lambda index, child: tolerated(owners[index], child),
        on_exit=frame.on_exit,
    )
    phase, failure = _judge(run, results, owners, on_exit=frame.on_exit)
    for step in group:
        scope, artifacts = _publish_step(
            run, plan, step, results=results, group_node=group_node, frame=frame, scope=scope,
            artifacts=artifacts,
        )  # fmt: skip
    return scope, artifacts, phase, failure


def _judge(
    run: RunState, results: list[Node | None], owners: list[dict[str, Any]], *, on_exit: bool
) -> tuple[str, str]:
    """A finished group's phase and message, as Argo's executeStepGroup: Error when a child
    errored before it ran anything (executeTemplate returned an error; `continueOn` does not
    spare that) or its exit hook did (with the hook's message), else Failed when a child failed
    or errored without `continueOn`."""
    phase, failure = n.SUCCEEDED, ""
    for index, result in enumerate(results):
        if result is not None and result.hook_error and phase != n.ERROR:
            phase, failure = n.ERROR, result.hook_error
        elif result is not None and result.refused and result.phase == n.ERROR:
            if phase != n.ERROR:
                phase = n.ERROR
                failure = (
                    f"step group deemed errored due to child {result.name} error: {result.message}"
                )
        elif phase == n.SUCCEEDED and result is None:
            why = run.stopping(on_exit=on_exit) or "not started: an earlier step failed"
            phase, failure = n.FAILED, why
        elif phase == n.SUCCEEDED and result is not None and not tolerated(owners[index], result):
            phase, failure = n.FAILED, f"child '{result.id}' failed"
    return phase, failure


def _add_step(
    run: RunState,
    plan: _Plan,
    step: dict[str, Any],
    *,
    group_node: Node,
    frame: Frame,
    scope: Scope,
    artifacts: Artifacts,
    where: str,
) -> tuple[str, str] | None:
    """Add the jobs of one step to `plan`; the group's phase and message if its loop cannot be
    expanded (Error), or the run stopped while it was (Failed)."""
    name = str(step.get("name"))
    expanded = [step]
    if should_expand(step):
        try:
            expanded = expand_step(
                step,
                scope,
                location=where,
                max_items=run.options.max_children,
                stopping=lambda: run.stopping(on_exit=frame.on_exit),
            )
        except (LoopError, SubstitutionError, ExpressionError) as exc:
            error = run.tree.add(
                f"{group_node.name}.{name}",
                name,
                n.POD,
                parent=group_node,
                boundary_id=frame.boundary_id,
            )
            if isinstance(exc, LoopStoppedError):  # not the loop's fault: the run stopped
                run.tree.finish(error, n.FAILED, exc.reason)
                return n.FAILED, exc.reason
            run.tree.refuse(error, str(exc))
            return n.ERROR, str(exc)
        if not expanded:
            plan.empty[name] = _empty_loop(run, step, group_node, frame)
            return None
        plan.loops[name] = []
    for child in expanded:
        if name in plan.loops:
            plan.loops[name].append(len(plan.jobs))
        plan.jobs.append(
            _job(
                run,
                child,
                group_node=group_node,
                frame=frame,
                scope=scope,
                artifacts=artifacts,
                where=where,
            )
        )
        plan.owners.append(step)
    return None


def _publish_step(
    run: RunState,
    plan: _Plan,
    step: dict[str, Any],
    *,
    results: list[Node | None],
    group_node: Node,
    frame: Frame,
    scope: Scope,
    artifacts: Artifacts,
) -> tuple[Scope, Artifacts]:
    """Make one finished step's results visible to the next groups (`steps.<name>.*`)."""
    name = str(step.get("name"))
    prefix = f"steps.{name}"
    if name in plan.loops:
        done = [m for m in (results[i] for i in plan.loops[name]) if m is not None]
        phase = n.SUCCEEDED if all(tolerated(step, m) for m in done) else n.FAILED
        holder = Node(id=group_node.id, name="", display_name="", type="", phase=phase)
        return publish_loop(scope, prefix, holder, done), artifacts
    node = plan.empty.get(name)
    if node is None:
        node = results[next(i for i, s in enumerate(plan.owners) if s is step)]
    if node is None:
        return scope, artifacts
    return publish_child(run, scope, artifacts, prefix, node, call=step, owner=frame.owner)


def _empty_loop(run: RunState, step: Mapping[str, Any], group_node: Node, frame: Frame) -> Node:
    node = run.tree.add(
        f"{group_node.name}.{step.get('name')}",
        str(step.get("name")),
        n.SKIPPED_TYPE,
        parent=group_node,
        boundary_id=frame.boundary_id,
        template_name=step.get("template"),
        phase=n.SKIPPED,
    )
    return run.tree.finish(node, n.SKIPPED, "Skipped, empty params")


def _job(
    run: RunState,
    step: dict[str, Any],
    *,
    group_node: Node,
    frame: Frame,
    scope: Scope,
    artifacts: Artifacts,
    where: str,
) -> Callable[[], Node]:
    def job() -> Node:
        return call_child(
            run,
            step,
            name=f"{group_node.name}.{step.get('name')}",
            display=str(step.get("name")),
            parent=group_node,
            frame=frame,
            scope=scope,
            artifacts=artifacts,
            where=where,
        )

    return job
