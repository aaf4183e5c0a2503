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
from argoexec.controller.engine.loops import (
    LoopError,
    LoopItem,
    expand_child,
    expand_loop,
    should_expand,
)
from argoexec.controller.engine.substitute import SubstitutionError
from argoexec.controller.expr import ExpressionError

from . import nodes as n
from .children import Child, advance_child, publish_child, publish_loop, tolerated, with_globals
from .context import Artifacts, Frame, Pass, Run, Visit
from .errors import NodeError
from .hooks import refused_hook
from .nodes import Node
from .outputs import export_globals

# Children of one batch under way at once when no `parallelism` holds them back but the
# machine caps its pods: a window keeps a loop of thousands from becoming thousands of nodes
# (and pods waiting for a slot) at once; the others start as these end.
MIN_WINDOW = 64


class Items:
    """A loop's items, each child built (substituted) only when it is needed."""

    def __init__(self, step: Mapping[str, Any], items: list[LoopItem], scope: Any, where: str):
        self.step = step
        self.items = items
        self.scope = scope
        self.where = where
        self.names = [f"{step.get('name')}{item.suffix}" for item in items]

    def child(self, index: int) -> dict[str, Any]:
        return expand_child(self.step, self.items[index], self.scope, location=self.where)


Plan = list[tuple[dict[str, Any], Items | None]]  # each step, and its items if it loops


def window(p: Pass, parallelism: int) -> int:
    """How many children of a batch may be under way at once (0: all)."""
    if parallelism:
        return parallelism
    if p.settings.max_pods:
        return max(MIN_WINDOW, 2 * p.settings.max_pods)
    return 0


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
            loop = expand_loop(step, scope, location=step_where,
                               max_items=p.settings.max_children)  # fmt: skip
            items = Items(step, loop, scope, step_where)
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

    def __init__(self, p: Pass, limit: int, fail_fast: bool, stopped: str | None = None) -> None:
        self.p = p
        self.limit = limit  # children under way at once (`window`); 0: no limit
        self.fail_fast = fail_fast
        self.stopped = stopped  # why nothing new may start (a shutdown, the deadline)
        self.running = 0
        self.failed = False
        self.pending = False
        self.held = ""  # why a child never started, if one did not

    def may_start(self) -> bool:
        """Whether a child with no node yet may start now (the window, `failFast`, a stop)."""
        if self.stopped:
            self.held = self.stopped
            return False
        if self.fail_fast and self.failed:
            self.held = self.held or "not started: an earlier step failed"
            return False
        if (self.limit and self.running >= self.limit) or self.p.children_left <= 0:
            self.pending = True
            if self.p.children_left <= 0:
                self.p.wake(self.p.now)  # more to start: the next pass comes at once
            return False
        self.running += 1
        self.p.children_left -= 1
        return True

    def count(self, step: Mapping[str, Any], result: Child, *, fresh: bool) -> None:
        if not result.done:
            self.running += 0 if fresh else 1  # a fresh one was counted by `may_start`
            self.pending = True
            return
        self.running -= 1 if fresh else 0
        if not tolerated(step, result.node):
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
    tally = Tally(
        p,
        window(p, int(template.get("parallelism") or 0)),
        template.get("failFast") is True,
        p.stopping(on_exit=frame.on_exit),
    )
    for position, (step, items) in enumerate(plan):
        step_where = f"{where}[{position}] ({step.get('name')})"
        if items is not None and not items.items:
            _empty_loop(p, step, group_node, frame)
            continue
        count = len(items.items) if items is not None else 1
        for index in range(count):
            name = items.names[index] if items is not None else str(step.get("name"))
            child_name = f"{group_node['name']}.{name}"
            fresh = p.nodes.by_name(child_name) is None
            if fresh and not tally.may_start():
                continue
            child = items.child(index) if items is not None else step
            result = advance_child(
                p, child, name=child_name, display=name, parent=group_node,
                frame=frame, scope=scope, artifacts=artifacts, where=step_where,
            )  # fmt: skip
            tally.count(step, result, fresh=fresh)
    if tally.pending:
        return None
    if tally.held:
        return n.FAILED, tally.held
    return _judge(p, group_node, plan)


def refused(node: Node | None) -> bool:
    """Whether a node was refused before it ran anything (see `walk.refuse`)."""
    return node is not None and node["type"] == n.SKIPPED_TYPE and node["phase"] == n.ERROR


def _judge(p: Pass, group_node: Node, plan: Plan) -> tuple[str, str]:
    """A finished group's phase and message, as Argo's executeStepGroup: Error when a child was
    refused before it ran anything (`continueOn` does not spare that) or its exit hook was
    (with the hook's message), else Failed when a child failed or errored without
    `continueOn`."""
    verdict = (n.SUCCEEDED, "")
    for step, items in plan:
        for child_name in items.names if items is not None else [str(step.get("name"))]:
            name = f"{group_node['name']}.{child_name}"
            node = p.nodes.by_name(name)
            if node is None:
                continue
            hook_message = refused_hook(p, node)
            if hook_message:
                return n.ERROR, hook_message
            if refused(node):
                message = node.get("message") or ""
                return n.ERROR, f"step group deemed errored due to child {name} error: {message}"
            if verdict[0] == n.SUCCEEDED and not tolerated(step, node):
                verdict = (n.FAILED, f"child '{node['id']}' failed")
    return verdict


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
