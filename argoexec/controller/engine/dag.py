"""A `dag` template: tasks start as soon as their dependencies are complete.

As Argo: a task whose `depends` (or `dependencies`) evaluates false is Omitted; a loop task is
a TaskGroup node with one child per item; a task hangs from the outbound nodes of its
dependencies (root tasks from the DAG node). Every task whose dependencies are complete starts,
even after another task failed: Argo keeps a DAG running while any of its nodes is unfinished,
so `dag.failFast` only matters there for tasks that never get a node, which cannot happen
here. When all is done the DAG's phase is judged from its leaves (`assess`, Argo's
`assessDAGPhase`): a failed leaf, or an Omitted leaf below a failure, fails it unless
`continueOn` tolerates it. The DAG's outbound nodes are its leaf tasks'.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from argoexec.controller.expr import ExpressionError

from . import depends
from . import nodes as n
from .children import (
    Artifacts,
    call_child,
    continues_on,
    current_globals,
    publish_child,
    publish_loop,
    run_batch,
    tolerated,
)
from .context import Frame, RunState
from .execute import export_globals
from .guard import internal_error
from .io import InputError, template_outputs
from .loops import LoopError, LoopStoppedError, expand_step, should_expand
from .nodes import EXIT_SUFFIX, Node, NodeTree
from .scope import Scope
from .substitute import SubstitutionError


class _Dag:
    def __init__(
        self, run: RunState, node: Node, template: dict[str, Any], scope: Scope, frame: Frame
    ) -> None:
        self.run = run
        self.node = node
        self.template = template
        spec = template.get("dag") or {}
        self.tasks: list[dict[str, Any]] = list(spec.get("tasks") or [])
        self.by_name = {str(t.get("name")): t for t in self.tasks}
        parallelism = template.get("parallelism")
        self.parallelism = int(parallelism) if parallelism else None
        self.frame = frame.but(boundary_id=node.id, boundary_kind="dag")
        self.scope = scope
        self.artifacts: Artifacts = {}
        for art in (template.get("inputs") or {}).get("artifacts") or []:
            self.artifacts[f"inputs.artifacts.{art.get('name')}"] = dict(art)
        self.done: dict[str, Node] = {}
        self.started: set[str] = set()
        self.running = 0
        self.halted = ""
        self.cond = threading.Condition()
        self.graph: dict[str, list[str]] = {}

    # --- dependency results ---------------------------------------------------------------

    def result(self, name: str, prop: str | None) -> bool:
        node = self.done[name]
        phase = node.phase
        task = self.by_name[name]
        if prop is None:
            continue_on = task.get("continueOn") or {}
            return (
                phase in (n.SUCCEEDED, n.SKIPPED)
                or (phase == n.FAILED and bool(continue_on.get("failed")))
                or (phase == n.ERROR and bool(continue_on.get("error")))
            )
        if prop in ("AnySucceeded", "AllFailed"):
            children = (
                [self.run.tree.get(c) for c in node.children]
                if node.type == n.TASK_GROUP
                else [node]
            )
            if prop == "AnySucceeded":
                return any(c.phase == n.SUCCEEDED for c in children)
            return bool(children) and all(c.phase in (n.FAILED, n.ERROR) for c in children)
        wanted = {
            "Succeeded": n.SUCCEEDED,
            "Failed": n.FAILED,
            "Errored": n.ERROR,
            "Skipped": n.SKIPPED,
            "Omitted": n.OMITTED,
        }.get(prop)
        return wanted is not None and phase == wanted

    def assess(self) -> tuple[str, str]:
        """Argo's assessDAGPhase: (phase, message) of the finished DAG, judged from its target
        (leaf) tasks. Walking the node tree from the DAG node, a completed node (Succeeded,
        Failed, Errored) sets its branch's phase and any other node (Skipped, Omitted)
        inherits it, so a leaf below a failure fails the DAG even when it was itself skipped;
        Failed/Error win when a leaf is reached along several branches. The first failing
        leaf (in name order, as `dag.failFast` defaults to true; the last one otherwise)
        gives the DAG its phase, so an Errored leaf makes the DAG Error."""
        leaves = {
            self.done[name].id: name
            for name in self.by_name
            if name in self.done and not any(name in deps for deps in self.graph.values())
        }
        phases = self._branch_phases(set(leaves))
        fail_fast = (self.template.get("dag") or {}).get("failFast") is not False
        result = (n.SUCCEEDED, "")
        for node_id, name in sorted(leaves.items(), key=lambda item: item[1]):
            phase = phases.get(node_id, "")
            if phase not in (n.FAILED, n.ERROR) or continues_on(self.by_name[name], phase):
                continue
            result = (phase, f"child '{node_id}' failed")
            if fail_fast:
                break
        return result

    def _branch_phases(self, targets: set[str]) -> dict[str, str]:
        tree = self.run.tree
        phases: dict[str, str] = {}
        queue = [(child, n.SUCCEEDED) for child in self.node.children]
        seen: set[tuple[str, str]] = set()
        while queue:
            node_id, branch = queue.pop(0)
            if (node_id, branch) in seen:
                continue
            seen.add((node_id, branch))
            node = tree.get(node_id)
            if node.phase in (n.SUCCEEDED, n.FAILED, n.ERROR):
                branch = node.phase
            if node_id in targets and phases.get(node_id) not in (n.FAILED, n.ERROR):
                phases[node_id] = branch
            queue.extend((child, branch) for child in _walked_children(tree, node))
        return phases

    # --- scheduling -------------------------------------------------------------------------

    def run_all(self) -> tuple[str, str]:
        """Run every task; returns the DAG's (phase, message)."""
        with self.cond:
            while True:
                progressed = self._start_ready()
                if progressed:
                    continue
                if self.running == 0:
                    break
                self.cond.wait()
        hooks = [node.hook_error for node in self._task_nodes() if node.hook_error]
        if hooks:  # Argo's executeDAG returns the error of an exit hook that could not start
            return n.ERROR, hooks[0]
        phase, message = self.assess()
        if phase != n.SUCCEEDED:
            return phase, message
        if len(self.done) < len(self.tasks):
            # Stopped, past a deadline, or a task's thread died (an engine bug): never Succeeded.
            missing = ", ".join(name for name in self.by_name if name not in self.done)
            return n.FAILED, self.halted or f"tasks that never ran: {missing}"
        return n.SUCCEEDED, ""

    def _task_nodes(self) -> list[Node]:
        """The finished tasks' nodes, and the items of loop tasks."""
        nodes = list(self.done.values())
        for node in self.done.values():
            if node.type == n.TASK_GROUP:
                nodes.extend(self.run.tree.get(child) for child in node.children)
        return nodes

    def _start_ready(self) -> bool:
        """Start (or omit) what is ready; True if something changed. Holds `cond`."""
        changed = False
        for task in self.tasks:
            name = str(task.get("name"))
            if name in self.started or any(d not in self.done for d in self.graph[name]):
                continue
            try:
                runs = depends.evaluate(task, self.result)
            except depends.DependsError as exc:
                # As Argo's evaluateDependsLogic error: the task is an Error node.
                self.started.add(name)
                self._settle(task, n.ERROR, str(exc))
                changed = True
                continue
            if not runs:
                # Omitting starts nothing, so it happens even after a failure or a stop.
                self.started.add(name)
                self._settle(task, n.OMITTED, "omitted: depends condition not met")
                changed = True
                continue
            self.halted = self.halted or self.run.stopping(on_exit=self.frame.on_exit) or ""
            if self.halted:
                continue
            if self.parallelism is not None and self.running >= self.parallelism:
                return changed
            self.started.add(name)
            changed = True
            self.running += 1
            thread = threading.Thread(target=self._task, args=(task,), daemon=True)
            thread.start()
        return changed

    def _parents(self, task: Mapping[str, Any]) -> list[Node]:
        deps = self.graph[str(task.get("name"))]
        if not deps:
            return [self.node]
        return [
            self.run.tree.get(out) for d in deps for out in self.run.tree.outbound(self.done[d])
        ]

    def _settle(self, task: Mapping[str, Any], phase: str, message: str) -> None:
        """A task that never runs (Omitted, or an Error before it could start): a Skipped-type
        node hanging from its dependencies, as Argo's `initializeNode(..., NodeTypeSkipped)`."""
        name = str(task.get("name"))
        node = self.run.tree.add(
            f"{self.node.name}.{name}",
            name,
            n.SKIPPED_TYPE,
            parent=None,
            boundary_id=self.node.id,
            template_name=task.get("template"),
            phase=phase,
        )
        for parent in self._parents(task):
            self.run.tree.link(parent, node)
        self.run.tree.finish(node, phase, message)
        self._complete(name, node)

    def _complete(self, name: str, node: Node) -> None:
        """Record a finished task and publish it. Holds `cond`."""
        self.done[name] = node
        if node.type == n.TASK_GROUP:
            children = [self.run.tree.get(c) for c in node.children]
            self.scope = publish_loop(self.scope, f"tasks.{name}", node, children)
        else:
            self.scope, self.artifacts = publish_child(
                self.run, self.scope, self.artifacts, f"tasks.{name}", node,
                call=self.by_name[name], owner=self.frame.owner,
            )  # fmt: skip

    def _task(self, task: dict[str, Any]) -> None:
        name = str(task.get("name"))
        node: Node | None = None
        try:
            with self.cond:
                scope, artifacts = self.scope, self.artifacts
                parents = self._parents(task)
            node = self._execute(task, scope, artifacts, parents)
        except Exception as exc:  # a bug: the task errors, the DAG goes on (see `guard`)
            node = internal_error(
                self.run, exc, name=f"{self.node.name}.{name}", display=name, parent=None,
                boundary_id=self.node.id,
            )  # fmt: skip
        finally:
            with self.cond:
                self.running -= 1
                if node is not None:
                    self._complete(name, node)
                self.cond.notify_all()

    def _execute(
        self, task: dict[str, Any], scope: Scope, artifacts: Artifacts, parents: list[Node]
    ) -> Node:
        name = str(task.get("name"))
        full = f"{self.node.name}.{name}"
        where = f"template {self.template.get('name')!r}: dag.tasks ({name})"
        if not should_expand(task):
            node = call_child(
                self.run, task, name=full, display=name, parent=None, frame=self.frame,
                scope=scope, artifacts=artifacts, where=where,
            )  # fmt: skip
            for parent in parents:
                self.run.tree.link(parent, node)
            return node
        try:
            children = expand_step(
                task,
                scope,
                location=where,
                max_items=self.run.options.max_children,
                stopping=lambda: self.run.stopping(on_exit=self.frame.on_exit),
            )
        except LoopStoppedError as exc:  # not the loop's fault: the run stopped
            return self._never_ran(task, parents, n.FAILED, exc.reason)
        except (LoopError, SubstitutionError, ExpressionError) as exc:
            return self._never_ran(task, parents, n.ERROR, str(exc))
        if not children:
            return self._never_ran(task, parents, n.SKIPPED, "Skipped, empty params")
        group = self.run.tree.add(
            full, name, n.TASK_GROUP, parent=None, boundary_id=self.node.id,
            template_name=task.get("template"), phase=n.RUNNING,
        )  # fmt: skip
        for parent in parents:
            self.run.tree.link(parent, group)
        jobs = [
            (lambda child=child: call_child(
                self.run, child, name=f"{self.node.name}.{child['name']}",
                display=str(child["name"]), parent=group, frame=self.frame, scope=scope,
                artifacts=artifacts, where=where,
            ))
            for child in children
        ]  # fmt: skip
        results = run_batch(
            self.run,
            jobs,
            parallelism=self.parallelism,
            fail_fast=self.template.get("failFast") is True,  # Template.IsFailFast, as steps
            ok=lambda _i, child: tolerated(task, child),
            on_exit=self.frame.on_exit,
        )
        # The group carries its items' failure (the last failed item's phase, as Argo's
        # executeDAGTask); `continueOn` spares only the DAG (tolerated()).
        phase, message = n.SUCCEEDED, ""
        for result in results:
            if result is None:
                phase, message = n.FAILED, "not started"
            elif result.phase in (n.FAILED, n.ERROR):
                phase, message = result.phase, f"child '{result.id}' failed"
        return self.run.tree.finish(group, phase, message)

    def _never_ran(
        self, task: Mapping[str, Any], parents: list[Node], phase: str, message: str
    ) -> Node:
        """A loop task with no items (Skipped) or whose items cannot be expanded (Error): one
        Skipped-type node instead of a TaskGroup, as Argo's executeDAGTask."""
        name = str(task.get("name"))
        node = self.run.tree.add(
            f"{self.node.name}.{name}", name, n.SKIPPED_TYPE, parent=None,
            boundary_id=self.node.id, template_name=task.get("template"), phase=phase,
        )  # fmt: skip
        for parent in parents:
            self.run.tree.link(parent, node)
        return self.run.tree.finish(node, phase, message)


def _walked_children(tree: NodeTree, node: Node) -> list[str]:
    """The nodes assessDAGPhase visits after `node`. Past a Retry node Argo walks the children
    of its attempts (the last one first) and its exit hook nodes themselves
    (`getRetryNodeChildrenIds`)."""
    if node.type != n.RETRY:
        return list(node.children)
    walked: list[str] = []
    for child_id in reversed(node.children):
        child = tree.get(child_id)
        walked.extend([child_id] if child.name.endswith(EXIT_SUFFIX) else child.children)
    return walked


def run_dag(
    run: RunState, node: Node, template: dict[str, Any], scope: Scope, frame: Frame
) -> Node:
    run.tree.update(node, phase=n.RUNNING)
    dag = _Dag(run, node, template, scope, frame)
    try:
        dag.graph = depends.check_graph(dag.tasks)
    except depends.DependsError as exc:
        return run.tree.refuse(node, f"template {template.get('name')!r}: {exc}")
    phase, failure = dag.run_all()
    leaves = [name for name in dag.by_name if not any(name in deps for deps in dag.graph.values())]
    outbound = [
        out for name in leaves if name in dag.done for out in run.tree.outbound(dag.done[name])
    ]
    if phase != n.SUCCEEDED:
        return run.tree.finish(node, phase, failure, outbound_nodes=outbound)
    try:
        outputs = template_outputs(template, *current_globals(run, dag.scope, dag.artifacts))
    except InputError as exc:
        return run.tree.refuse(node, str(exc), outbound_nodes=outbound)
    export_globals(run, template, outputs)
    return run.tree.finish(node, n.SUCCEEDED, outputs=outputs, outbound_nodes=outbound)
