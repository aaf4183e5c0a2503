"""A `dag` template: tasks start as soon as their dependencies are complete.

As Argo: a task whose `depends` (or `dependencies`) evaluates false is Omitted; a loop task is
a TaskGroup node with one child per item; a task hangs from the outbound nodes of its
dependencies (root tasks from the DAG node). Every task whose dependencies are complete starts,
even after another task failed. When all is done the DAG's phase is judged from its leaves
(`assess`, Argo's `assessDAGPhase`). Each pass visits the tasks in dependency order, so a task
whose dependencies end in this pass (omitted, skipped) starts in it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argoexec.controller.engine import depends
from argoexec.controller.engine.io import InputError, template_outputs
from argoexec.controller.engine.loops import LoopError, expand_loop, should_expand
from argoexec.controller.engine.scope import Scope
from argoexec.controller.engine.substitute import SubstitutionError
from argoexec.controller.expr import ExpressionError

from . import nodes as n
from .children import (
    Child,
    advance_child,
    continues_on,
    publish_child,
    publish_loop,
    with_globals,
)
from .context import Artifacts, Pass, Run, Visit
from .errors import NodeError
from .hooks import refused_hook
from .nodes import Node
from .outputs import export_globals
from .steps import Items, input_artifacts, window
from .steps import Tally as _Tally

_PHASE_OF = {
    "Succeeded": n.SUCCEEDED,
    "Failed": n.FAILED,
    "Errored": n.ERROR,
    "Skipped": n.SKIPPED,
    "Omitted": n.OMITTED,
}


def ordered(graph: Mapping[str, list[str]]) -> list[str]:
    """Task names in dependency order (declaration order among the ready ones)."""
    placed: list[str] = []
    seen: set[str] = set()
    remaining = list(graph)
    while remaining:
        ready = [t for t in remaining if all(d in seen for d in graph[t])]
        placed.extend(ready)
        seen.update(ready)
        remaining = [t for t in remaining if t not in seen]
    return placed


class _Dag:
    def __init__(self, p: Pass, run: Run, graph: dict[str, list[str]]) -> None:
        self.p = p
        self.node = run.node
        self.template = run.template
        self.tasks: dict[str, dict[str, Any]] = {
            str(t.get("name")): t for t in (run.template.get("dag") or {}).get("tasks") or []
        }
        self.graph = graph
        self.frame = run.frame.but(boundary_id=run.node["id"], boundary_kind="dag")
        self.scope: Scope = run.scope
        self.artifacts: Artifacts = input_artifacts(run.template)
        self.done: dict[str, Node] = {}
        parallelism = run.template.get("parallelism")
        self.parallelism = int(parallelism) if parallelism else 0
        self.running = 0
        self.where = f"template {run.template.get('name')!r}: dag.tasks"

    # --- dependency results -------------------------------------------------------------

    def result(self, name: str, prop: str | None) -> bool:
        node = self.done[name]
        phase = node["phase"]
        if prop == "Daemoned" or (prop is None and n.daemoned(node)):
            return n.daemoned(node)
        if prop is None:
            return phase in (n.SUCCEEDED, n.SKIPPED) or continues_on(self.tasks[name], phase)
        if prop in ("AnySucceeded", "AllFailed"):
            children = (
                [self.p.nodes.get(c) for c in node.get("children") or []]
                if node["type"] == n.TASK_GROUP
                else [node]
            )
            if prop == "AnySucceeded":
                return any(c["phase"] == n.SUCCEEDED for c in children)
            return bool(children) and all(c["phase"] in (n.FAILED, n.ERROR) for c in children)
        wanted = _PHASE_OF.get(prop)
        return wanted is not None and phase == wanted

    # --- one pass ---------------------------------------------------------------------------

    def advance(self) -> bool:
        """Advance every task that may; True once all are done."""
        self.running = sum(
            1
            for name in self.tasks
            for node in [self.p.nodes.by_name(f"{self.node['name']}.{name}")]
            if node is not None and not n.fulfilled(node)
        )
        all_done = True
        for name in ordered(self.graph):
            if name not in self.done:
                node = self._task(name)
                if node is None:
                    all_done = False
                    continue
                self._complete(name, node)
        return all_done

    def _task(self, name: str) -> Node | None:
        """The task's node once it is done, else None."""
        if any(d not in self.done for d in self.graph[name]):
            return None
        full = f"{self.node['name']}.{name}"
        node = self.p.nodes.by_name(full)
        task = self.tasks[name]
        if node is None:
            verdict = self._depends(task)
            if verdict is not None:
                return self._settle(task, *verdict)
            if self.parallelism and self.running >= self.parallelism:
                return None
        elif node["type"] == n.SKIPPED_TYPE and n.fulfilled(node):
            return node
        if should_expand(task):
            return self._loop(task, full, node)
        counted = node is None or not n.fulfilled(node)  # in `running`
        if node is None:
            self.running += 1
        child = self._child(task, full, None)
        if child.done and counted:
            self.running -= 1  # its slot is free for a task later in this same pass
        return child.node if child.done else None

    def _depends(self, task: Mapping[str, Any]) -> tuple[str, str] | None:
        """Why a task whose dependencies are done never runs: Omitted, or an Error."""
        try:
            runs = depends.evaluate(task, self.result)
        except depends.DependsError as exc:
            return n.ERROR, str(exc)
        return None if runs else (n.OMITTED, "omitted: depends condition not met")

    def _child(self, task: Mapping[str, Any], full: str, group: Node | None) -> Child:
        name = str(task.get("name"))
        child = advance_child(
            self.p, task, name=full, display=name, parent=group, frame=self.frame,
            scope=self.scope, artifacts=self.artifacts, where=f"{self.where} ({name})",
        )  # fmt: skip
        if group is None:
            for parent in self._parents(task):
                self.p.nodes.link(parent, child.node)
        return child

    def _parents(self, task: Mapping[str, Any]) -> list[Node]:
        name = str(task.get("name"))
        deps = self.graph.get(name) or []
        if not deps:
            return [self.node]
        return [self.p.nodes.get(o) for d in deps for o in self.p.nodes.outbound(self.done[d])]

    def _settle(self, task: Mapping[str, Any], phase: str, message: str) -> Node:
        """A task that never runs (Omitted, an Error before it could start, a loop without
        items): a Skipped-type node hanging from its dependencies."""
        name = str(task.get("name"))
        node = self.p.nodes.add(
            f"{self.node['name']}.{name}", name, n.SKIPPED_TYPE, now=self.p.now,
            boundary_id=self.node["id"], template_name=task.get("template"), phase=phase,
        )  # fmt: skip
        for parent in self._parents(task):
            self.p.nodes.link(parent, node)
        return self.p.nodes.finish(node, phase, message, now=self.p.now)

    def _loop(self, task: dict[str, Any], full: str, group: Node | None) -> Node | None:
        if group is not None and n.fulfilled(group):
            return group
        name = str(task.get("name"))
        where = f"{self.where} ({name})"
        try:
            loop = expand_loop(task, self.scope, location=where,
                               max_items=self.p.settings.max_children)  # fmt: skip
        except (LoopError, SubstitutionError, ExpressionError) as exc:
            return self._settle(task, n.ERROR, str(exc)) if group is None else group
        items = Items(task, loop, self.scope, where)
        if not loop:
            return (
                self._settle(task, n.SKIPPED, "Skipped, empty params") if group is None else group
            )
        if group is None:
            group = self.p.nodes.add(
                full, name, n.TASK_GROUP, now=self.p.now, boundary_id=self.node["id"],
                template_name=task.get("template"), phase=n.RUNNING,
            )  # fmt: skip
            for parent in self._parents(task):
                self.p.nodes.link(parent, group)
        tally = _Tally(
            self.p,
            window(self.p, self.parallelism),
            self.template.get("failFast") is True,
            self.p.stopping(on_exit=self.frame.on_exit),
        )
        tally.running = self.running
        phase, message = n.SUCCEEDED, ""
        for index, item_name in enumerate(items.names):
            full_item = f"{self.node['name']}.{item_name}"
            fresh = self.p.nodes.by_name(full_item) is None
            if fresh and not tally.may_start():
                continue
            child = self._child(items.child(index), full_item, group)
            tally.count(task, child, fresh=fresh)
            if child.done and child.node["phase"] in (n.FAILED, n.ERROR):
                phase, message = child.node["phase"], f"child '{child.node['id']}' failed"
        self.running = tally.running
        if tally.pending:
            return None
        if tally.held:
            phase, message = n.FAILED, tally.held
        # The group carries its items' failure (the last failed item's, as Argo's
        # executeDAGTask); `continueOn` spares only the DAG (tolerated()).
        return self.p.nodes.finish(group, phase, message, now=self.p.now)

    def _complete(self, name: str, node: Node) -> None:
        self.done[name] = node
        if node["type"] == n.TASK_GROUP:
            children = [self.p.nodes.get(c) for c in node.get("children") or []]
            self.scope = publish_loop(self.scope, f"tasks.{name}", node["phase"], node["id"],
                                      children)  # fmt: skip
        else:
            self.scope, self.artifacts = publish_child(
                self.p, self.scope, self.artifacts, f"tasks.{name}", node,
                call=self.tasks[name], owner=self.frame.owner,
            )  # fmt: skip

    # --- the verdict ------------------------------------------------------------------------

    def hook_error(self) -> str:
        """The message of the first task (or loop item) whose exit hook was refused."""
        for node in self.done.values():
            members = [node]
            if node["type"] == n.TASK_GROUP:
                members = [self.p.nodes.get(c) for c in node.get("children") or []]
            for member in members:
                message = refused_hook(self.p, member)
                if message:
                    return message
        return ""

    def leaves(self) -> list[str]:
        return [t for t in self.tasks if not any(t in deps for deps in self.graph.values())]

    def assess(self) -> tuple[str, str]:
        """Argo's assessDAGPhase, judged from the target (leaf) tasks: walking from the DAG
        node, a completed node sets its branch's phase and any other inherits it; the first
        failing leaf in name order (`dag.failFast`, default true; else the last) decides."""
        leaves = {self.done[t]["id"]: t for t in self.leaves() if t in self.done}
        phases = self._branch_phases(set(leaves))
        fail_fast = (self.template.get("dag") or {}).get("failFast") is not False
        verdict = (n.SUCCEEDED, "")
        for node_id, name in sorted(leaves.items(), key=lambda item: item[1]):
            phase = phases.get(node_id, "")
            if phase not in (n.FAILED, n.ERROR) or continues_on(self.tasks[name], phase):
                continue
            verdict = (phase, f"child '{node_id}' failed")
            if fail_fast:
                break
        return verdict

    def _branch_phases(self, targets: set[str]) -> dict[str, str]:
        nodes = self.p.nodes
        phases: dict[str, str] = {}
        queue = [(child, n.SUCCEEDED) for child in self.node.get("children") or []]
        seen: set[tuple[str, str]] = set()
        while queue:
            node_id, branch = queue.pop(0)
            if (node_id, branch) in seen:
                continue
            seen.add((node_id, branch))
            node = nodes.get(node_id)
            if node["phase"] in n.COMPLETED_PHASES:
                branch = node["phase"]
            if node_id in targets and phases.get(node_id) not in (n.FAILED, n.ERROR):
                phases[node_id] = branch
            queue.extend((child, branch) for child in _walked_children(self.p, node))
        return phases


def _walked_children(p: Pass, node: Node) -> list[str]:
    """The nodes assessDAGPhase visits after `node`: past a Retry node, the children of its
    attempts (the last one first) and its exit hook nodes themselves."""
    children = list(node.get("children") or [])
    if node["type"] != n.RETRY:
        return children
    walked: list[str] = []
    for child_id in reversed(children):
        child = p.nodes.get(child_id)
        walked.extend([child_id] if n.is_hook_of(node, child) else child.get("children") or [])
    return walked


def advance_dag(p: Pass, run: Run) -> Visit:
    node, template = run.node, run.template
    if node["phase"] == n.PENDING:
        p.nodes.set(node, phase=n.RUNNING)
    try:
        graph = depends.check_graph((template.get("dag") or {}).get("tasks") or [])
    except depends.DependsError as exc:
        raise NodeError(f"template {template.get('name')!r}: {exc}") from None
    dag = _Dag(p, run, graph)
    all_done = dag.advance()
    if not all_done:
        return Visit(node)
    hook_error = dag.hook_error()
    if hook_error:  # Argo's executeDAG returns the error of an exit hook that could not start
        p.nodes.finish(node, n.ERROR, hook_error, now=p.now)
        return Visit(node, hook_error)
    outbound = [o for t in dag.leaves() if t in dag.done for o in p.nodes.outbound(dag.done[t])]
    phase, failure = dag.assess()
    if phase != n.SUCCEEDED:
        p.nodes.finish(node, phase, failure, now=p.now, outboundNodes=outbound or None)
        return Visit(node)
    try:
        outputs = template_outputs(template, *with_globals(p, dag.scope, dag.artifacts))
    except InputError as exc:
        p.nodes.finish(node, n.ERROR, str(exc), now=p.now, outboundNodes=outbound or None)
        return Visit(node, str(exc))
    export_globals(p, template, outputs)
    p.nodes.finish(node, n.SUCCEEDED, now=p.now, outputs=outputs, outboundNodes=outbound or None)
    return Visit(node)
