"""A `steps` template: step groups in order, the steps of a group in parallel.

Node shape as Argo: the Steps node's first child is StepGroup `NAME[0]`; each later group hangs
from the outbound nodes of the previous group's children; a group's children are its steps (a
loop's items directly, `step(0:item)`). A group fails when a child fails without `continueOn`,
and then no later group starts; the Steps node's outbound nodes are the last group's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from . import nodes as n
from .children import (
    Artifacts,
    call_child,
    current_globals,
    publish,
    publish_loop,
    run_batch,
    tolerated,
)
from .context import Frame, RunState
from .execute import export_globals
from .io import InputError, template_outputs
from .loops import LoopError, expand_step, should_expand
from .nodes import Node
from .scope import Scope


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
        scope, artifacts, failure = _run_group(
            run, group_node, group=group, scope=scope, artifacts=artifacts, frame=inner,
            template=template, where=where,
        )  # fmt: skip
        run.tree.finish(group_node, n.FAILED if failure else n.SUCCEEDED, failure)
        if failure:
            break
    outbound = []
    if previous is not None:
        outbound = [o for c in previous.children for o in run.tree.outbound(run.tree.get(c))]
        outbound = outbound or [previous.id]
    if failure:
        return run.tree.finish(node, n.FAILED, failure, outbound_nodes=outbound)
    try:
        outputs = template_outputs(template, *current_globals(run, scope, artifacts))
    except InputError as exc:
        return run.tree.finish(node, n.ERROR, str(exc), outbound_nodes=outbound)
    export_globals(run, template, outputs)
    return run.tree.finish(node, n.SUCCEEDED, outputs=outputs, outbound_nodes=outbound)


def _hang(run: RunState, previous: Node, group: Node) -> None:
    if not previous.children:
        run.tree.link(previous, group)
        return
    for child in previous.children:
        for out in run.tree.outbound(run.tree.get(child)):
            run.tree.link(run.tree.get(out), group)


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
) -> tuple[Scope, Artifacts, str]:
    """Run one group; returns the scope/artifacts with its results and a failure message."""
    jobs: list[Callable[[], Node]] = []
    owners: list[dict[str, Any]] = []  # the step each job belongs to
    loops: dict[str, list[int]] = {}
    for position, step in enumerate(group):
        step_where = f"{where}[{position}] ({step.get('name')})"
        expanded = [step]
        if should_expand(step):
            try:
                expanded = expand_step(step, scope, location=step_where)
            except LoopError as exc:
                error = run.tree.add(
                    f"{group_node.name}.{step.get('name')}",
                    str(step.get("name")),
                    n.POD,
                    parent=group_node,
                    boundary_id=frame.boundary_id,
                )
                run.tree.finish(error, n.ERROR, str(exc))
                return scope, artifacts, str(exc)
            loops[str(step.get("name"))] = []
        for child in expanded:
            if str(step.get("name")) in loops:
                loops[str(step.get("name"))].append(len(jobs))
            jobs.append(
                _job(
                    run,
                    child,
                    group_node=group_node,
                    frame=frame,
                    scope=scope,
                    artifacts=artifacts,
                    where=step_where,
                )
            )
            owners.append(step)
    parallelism = template.get("parallelism")
    results = run_batch(
        run,
        jobs,
        parallelism=int(parallelism) if parallelism else None,
        fail_fast=template.get("failFast") is True,  # Argo's Template.IsFailFast(): opt-in
        ok=lambda index, child: tolerated(owners[index], child),
    )
    failure = ""
    for index, result in enumerate(results):
        if result is None:
            failure = failure or run.stopping() or "not started: an earlier step failed"
        elif not tolerated(owners[index], result):
            failure = failure or f"child '{result.id}' failed"
    for step in group:
        name = str(step.get("name"))
        if name in loops:
            members = [results[i] for i in loops[name]]
            done = [m for m in members if m is not None]
            phase = n.SUCCEEDED if all(tolerated(step, m) for m in done) else n.FAILED
            holder = Node(id=group_node.id, name="", display_name="", type="", phase=phase)
            scope = publish_loop(scope, f"steps.{name}", holder, done)
        else:
            index = next(i for i, s in enumerate(owners) if s is step)
            single = results[index]
            if single is not None:
                scope, artifacts = publish(scope, artifacts, f"steps.{name}", single)
    return scope, artifacts, failure


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
