"""A `steps` template: step groups in order, the steps of a group in parallel.

Node shape as Argo: the Steps node's first child is StepGroup `NAME[0]`; each later group hangs
from the outbound nodes of the previous group's children; a group's children are its steps (a
loop's items directly, `step(0:item)`; a loop without items is one Skipped node "Skipped, empty
params"). A group fails when a child fails or errors without `continueOn`, and then no later
group starts; the Steps node is then Failed (never Error, as Argo's executeSteps) and its
outbound nodes are the last group's. Each pass walks the groups from the first: finished ones
only publish their results (`steps.<name>.*`) to the later ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argoexec.controller.engine.io import InputError, template_outputs
from argoexec.controller.engine.loops import LoopError, expand_step, should_expand
from argoexec.controller.engine.substitute import SubstitutionError
from argoexec.controller.expr import ExpressionError

from . import nodes as n
from .children import Child, advance_child, publish_child, publish_loop, tolerated, with_globals
from .context import Artifacts, Frame, Pass
from .errors import NodeError
from .nodes import Node
from .outputs import export_globals
from .walk import Run, Visit

Plan = list[tuple[dict[str, Any], list[dict[str, Any]] | None]]  # step, its items (None: no loop)


def groups_of(template: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    groups = []
    for group in template.get("steps") or []:
        groups.append(list(group) if isinstance(group, list) else [group])
    return groups


def input_artifacts(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"inputs.artifacts.{art.get('name')}": dict(art)
        for art in (template.get("inputs") or {}).get("artifacts") or []
    }


def advance_steps(p: Pass, run: Run) -> Visit:
    node, template = run.node, run.template
    if node["phase"] == n.PENDING:
        p.nodes.set(node, phase=n.RUNNING)
    frame = run.frame.but(boundary_id=node["id"], boundary_kind="steps")
    scope: Any = run.scope
    artifacts: Artifacts = input_artifacts(template)
    previous: Node | None = None
    tmpl_name = str(template.get("name") or "")
    for index, group in enumerate(groups_of(template)):
        group_node = p.nodes.by_name(f"{node['name']}[{index}]")
        if group_node is None:
            group_node = p.nodes.add(
                f"{node['name']}[{index}]", f"[{index}]", n.STEP_GROUP, now=p.now,
                parent=node if previous is None else None, boundary_id=node["id"],
                template_scope=frame.owner.scope, phase=n.RUNNING,
            )  # fmt: skip
            if previous is not None:
                _hang(p, previous, group_node)
        previous = group_node
        where = f"template {tmpl_name!r}: steps[{index}]"
        if not n.fulfilled(group_node):
            verdict = _advance_group(
                p, group_node, group, frame=frame, scope=scope, artifacts=artifacts,
                template=template, where=where,
            )  # fmt: skip
            if verdict is None:
                return Visit(node)
            phase, failure = verdict
            p.nodes.finish(group_node, phase, failure, now=p.now)
        scope, artifacts = _publish_group(
            p, group_node, group, frame=frame, scope=scope, artifacts=artifacts
        )
        if group_node["phase"] != n.SUCCEEDED:
            # Argo's executeSteps: a failed or errored group fails the Steps node.
            outbound = _outbound(p, group_node)
            p.nodes.finish(node, n.FAILED, group_node.get("message") or "", now=p.now,
                           outboundNodes=outbound)  # fmt: skip
            return Visit(node)
    outbound = _outbound(p, previous) if previous is not None else []
    try:
        outputs = template_outputs(template, *with_globals(p, scope, artifacts))
    except InputError as exc:
        p.nodes.finish(node, n.ERROR, str(exc), now=p.now, outboundNodes=outbound or None)
        return Visit(node, str(exc))
    export_globals(p, template, outputs)
    p.nodes.finish(node, n.SUCCEEDED, now=p.now, outputs=outputs, outboundNodes=outbound or None)
    return Visit(node)


def _outbound(p: Pass, group: Node) -> list[str]:
    children = group.get("children") or []
    outbound = [o for c in children for o in p.nodes.outbound(p.nodes.get(c))]
    return outbound or [group["id"]]


def _hang(p: Pass, previous: Node, group: Node) -> None:
    children = previous.get("children") or []
    if not children:
        p.nodes.link(previous, group)
        return
    for child in children:
        for out in p.nodes.outbound(p.nodes.get(child)):
            p.nodes.link(p.nodes.get(out), group)


def _plan(
    p: Pass, group_node: Node, group: list[dict[str, Any]], *, frame: Frame, scope: Any, where: str
) -> Plan:
    """Each step of the group with its loop items; a loop that cannot be expanded is a
    NodeError naming the step (the group is an Error), as Argo."""
    plan: Plan = []
    for position, step in enumerate(group):
        if not should_expand(step):
            plan.append((step, None))
            continue
        step_where = f"{where}[{position}] ({step.get('name')})"
        try:
            items = expand_step(step, scope, location=step_where,
                                max_items=p.settings.max_children)  # fmt: skip
        except (LoopError, SubstitutionError, ExpressionError) as exc:
            name = str(step.get("name"))
            error = p.nodes.by_name(f"{group_node['name']}.{name}")
            if error is None:
                error = p.nodes.add(f"{group_node['name']}.{name}", name, n.POD, now=p.now,
                                    parent=group_node, boundary_id=frame.boundary_id)  # fmt: skip
            p.nodes.finish(error, n.ERROR, str(exc), now=p.now)
            raise NodeError(str(exc)) from None
        plan.append((step, items))
    return plan


class Tally:
    """What the children of a group did in this pass."""

    def __init__(self, parallelism: int, fail_fast: bool) -> None:
        self.parallelism = parallelism
        self.fail_fast = fail_fast
        self.running = 0
        self.failed = False
        self.pending = False
        self.held = False
        self.verdict: tuple[str, str] | None = None

    def may_start(self) -> bool:
        """Whether a child with no node yet may start now (template `parallelism`, `failFast`)."""
        if self.parallelism and self.running >= self.parallelism:
            self.pending = True
            return False
        if self.fail_fast and self.failed:
            self.held = True
            return False
        return True

    def count(self, step: Mapping[str, Any], result: Child) -> None:
        if self.verdict is None and result.hook_error:
            self.verdict = (n.ERROR, result.hook_error)
        elif self.verdict is None and result.error:
            self.verdict = (
                n.ERROR,
                f"step group deemed errored due to child {result.node['name']} error: "
                f"{result.error}",
            )
        if not result.done:
            self.running += 1
            self.pending = True
        elif not tolerated(step, result.node):
            self.failed = True


def _advance_group(
    p: Pass,
    group_node: Node,
    group: list[dict[str, Any]],
    *,
    frame: Frame,
    scope: Any,
    artifacts: Artifacts,
    template: Mapping[str, Any],
    where: str,
) -> tuple[str, str] | None:
    """Advance one group's children; its (phase, message) once it is over, else None."""
    try:
        plan = _plan(p, group_node, group, frame=frame, scope=scope, where=where)
    except NodeError as exc:
        return n.ERROR, exc.message
    # Argo's Template.IsFailFast(): opt-in for steps.
    tally = Tally(int(template.get("parallelism") or 0), template.get("failFast") is True)
    for position, (step, items) in enumerate(plan):
        step_where = f"{where}[{position}] ({step.get('name')})"
        if items is not None and not items:
            _empty_loop(p, step, group_node, frame)
            continue
        for child in items if items is not None else [step]:
            child_name = f"{group_node['name']}.{child.get('name')}"
            if p.nodes.by_name(child_name) is None and not tally.may_start():
                continue
            result = advance_child(
                p, child, name=child_name, display=str(child.get("name")), parent=group_node,
                frame=frame, scope=scope, artifacts=artifacts, where=step_where,
            )  # fmt: skip
            tally.count(step, result)
    if tally.verdict is not None:
        return tally.verdict
    if tally.pending:
        return None
    if tally.held:
        return n.FAILED, "not started: an earlier step failed"
    return _judge(p, group_node, plan)


def _judge(p: Pass, group_node: Node, plan: Plan) -> tuple[str, str]:
    """A finished group's phase: Failed when a child failed or errored without `continueOn`."""
    for step, items in plan:
        for child in items if items is not None else [step]:
            node = p.nodes.by_name(f"{group_node['name']}.{child.get('name')}")
            if node is not None and not tolerated(step, node):
                return n.FAILED, f"child '{node['id']}' failed"
    return n.SUCCEEDED, ""


def _publish_group(
    p: Pass,
    group_node: Node,
    group: list[dict[str, Any]],
    *,
    frame: Frame,
    scope: Any,
    artifacts: Artifacts,
) -> tuple[Any, Artifacts]:
    """Make a finished group's results visible to the next groups (`steps.<name>.*`), read
    from its children's nodes (loop items by their names)."""
    children = [p.nodes.get(c) for c in group_node.get("children") or []]
    prefix_of = group_node["name"] + "."
    for step in group:
        name = str(step.get("name"))
        prefix = f"steps.{name}"
        own = f"{prefix_of}{name}"
        if should_expand(step):
            items = [c for c in children if c["name"].startswith(own + "(")]
            if items:
                items.sort(key=lambda c: _loop_index(c["name"], len(own) + 1))
                phase = n.SUCCEEDED if all(tolerated(step, c) for c in items) else n.FAILED
                scope = publish_loop(scope, prefix, phase, group_node["id"], items)
                continue
        node = p.nodes.by_name(own)
        if node is not None and n.fulfilled(node):
            scope, artifacts = publish_child(p, scope, artifacts, prefix, node, call=step,
                                             owner=frame.owner)  # fmt: skip
    return scope, artifacts


def _loop_index(name: str, start: int) -> int:
    """The index of a loop item from its name, `<step>(12:desc)`, the digits from `start`."""
    digits = name[start : name.find(":", start)]
    return int(digits) if digits.isdigit() else 0


def _empty_loop(p: Pass, step: Mapping[str, Any], group_node: Node, frame: Frame) -> Node:
    name = f"{group_node['name']}.{step.get('name')}"
    node = p.nodes.by_name(name)
    if node is not None:
        return node
    node = p.nodes.add(
        name, str(step.get("name")), n.SKIPPED_TYPE, now=p.now, parent=group_node,
        boundary_id=frame.boundary_id, template_name=step.get("template"), phase=n.SKIPPED,
    )  # fmt: skip
    return p.nodes.finish(node, n.SKIPPED, "Skipped, empty params", now=p.now)
