"""`argo retry` as a change to the Workflow: a port of Argo's `FormulateRetryWorkflow`
(`workflow/util/util.go`, v3.5+: `createNewRetryWorkflow`, `newWorkflowsDag`, `resetPath`,
`resetBoundaries`, `resetPod`, `resetNode`).

The nodes to redo are the Failed/Error execution nodes (Pod, Container, HTTP, Plugin) with no
Succeeded descendant (for a retry attempt, flagged `nodeFlag.retried`, its Retry parent's
descendants are looked at: a retry that succeeded in the end is not redone), plus, with
`restart_successful`, every node the selector matches. In breadth-first order from the root,
each such node not already deleted is deleted with all its descendants, and on the way up to
the root (through each node's parent: the one listing it as a child; of several, the greatest
id, as Argo's sorted map walk leaves it) these are reset: a group node (Steps, StepGroup, DAG,
TaskGroup) and then its boundary chain (each boundary node, and a Retry, StepGroup or TaskGroup
parent met on it), a Failed/Error Retry node; a Container node's Pod is deleted instead. A
reset node is Running again (Skipped stays Skipped) with no message, `startedAt` now, no
`finishedAt`; a Suspend node's output parameters wait to be supplied again. With parameters,
the descendants of reset StepGroup/TaskGroup nodes are deleted too, so loops expand anew. The
workflow exit handler (`<wf>.onExit...`) goes entirely. Edges to deleted nodes are dropped.

Deliberate differences: the pods to delete are only those of Pod nodes (Argo also lists names
computed for the exit handler's other nodes, which match no pod), in a stable order.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from argoexec.contract import LABEL_COMPLETED, LABEL_WORKFLOW_ARCHIVING_STATUS
from argoexec.controller.loop.control_base import (
    ControlError,
    Node,
    Workflow,
    name_of,
    nodes_of,
    override_parameters,
    selector,
    set_or_drop,
    timestamp,
)
from argoexec.controller.reconcile.nodes import (
    CONTAINER,
    DAG,
    ERROR,
    FAILED,
    HTTP,
    PLUGIN,
    POD,
    RETRY,
    RUNNING,
    SKIPPED,
    STEP_GROUP,
    STEPS,
    SUCCEEDED,
    SUSPEND,
    TASK_GROUP,
)
from argoexec.controller.render import pod_name_of

_GROUPS = (DAG, TASK_GROUP, STEP_GROUP, STEPS)
_EXECUTION = (CONTAINER, POD, HTTP, PLUGIN)
_FAILED = (FAILED, ERROR)


class Retried(NamedTuple):
    """The Workflow to write back, and the pods to delete before writing it."""

    workflow: Workflow
    pods_to_delete: list[str]


def retry(
    workflow: Workflow,
    *,
    parameters: Mapping[str, str] | None = None,
    restart_successful: bool = False,
    node_field_selector: str | None = None,
    now: float | None = None,
) -> Retried:
    """`argo retry [-p NAME=VALUE] [--restart-successful --node-field-selector S]`: refused
    unless the workflow Failed or had an Error (or Succeeded, with both options)."""
    name = name_of(workflow)
    phase = str((workflow.get("status") or {}).get("phase") or "")
    if phase == SUCCEEDED:
        if not (restart_successful and node_field_selector):
            raise ControlError(
                "To retry a succeeded workflow, set the options restartSuccessful and "
                f"nodeFieldSelector (workflow {name!r})"
            )
    elif phase not in _FAILED:
        raise ControlError(
            f"Cannot retry a workflow in phase {phase or 'Unknown'}: workflow {name!r} has "
            "not failed"
        )
    old = nodes_of(workflow)
    selected: dict[str, None] = {}
    if restart_successful and node_field_selector:
        matcher = selector(node_field_selector)
        selected = {i: None for i, n in old.items() if matcher.matches_node(n)}
    graph = _Graph(name, old)
    redo = dict(selected)
    redo.update(dict.fromkeys(graph.failed_to_redo(selected)))
    to_reset: dict[str, None] = {}
    to_delete: dict[str, None] = {}
    # Breadth-first: a node deleted with an ancestor is not walked from again.
    for node_id in graph.breadth_first():
        if node_id in redo and node_id not in to_delete:
            graph.reset_path(node_id, to_reset, to_delete)
    if parameters:
        for node_id in list(to_reset):
            if node_id not in to_delete and old[node_id].get("type") in (STEP_GROUP, TASK_GROUP):
                to_delete.update(dict.fromkeys(graph.descendants(node_id)))
    new = _reset_workflow(workflow, parameters, now)
    nodes, pods = _new_nodes(workflow, graph, to_reset, to_delete, now)
    set_or_drop(new["status"], "nodes", nodes)
    return Retried(new, pods)


def _reset_workflow(
    workflow: Workflow, parameters: Mapping[str, str] | None, now: float | None
) -> Workflow:
    """`createNewRetryWorkflow`: the workflow-level fields of a workflow about to run again."""
    new = {k: copy.deepcopy(v) for k, v in workflow.items() if k != "status"}
    status = {k: copy.deepcopy(v) for k, v in (workflow.get("status") or {}).items()}
    new["status"] = status
    labels = (new.get("metadata") or {}).get("labels") or {}
    labels.pop(LABEL_COMPLETED, None)
    labels.pop(LABEL_WORKFLOW_ARCHIVING_STATUS, None)
    status["conditions"] = _upsert_condition(status.get("conditions") or [], "Completed", "False")
    for key in ("phase", "message", "nodes", "persistentVolumeClaims"):
        status.pop(key, None)
    status["startedAt"] = timestamp(now)
    status["finishedAt"] = None
    stored = status.get("storedWorkflowTemplateSpec")
    if isinstance(stored, dict):
        stored.pop("shutdown", None)
    spec = new.setdefault("spec", {})
    spec.pop("shutdown", None)
    if spec.get("activeDeadlineSeconds") == 0:  # a terminated workflow's: unset it
        del spec["activeDeadlineSeconds"]
    override_parameters(new, parameters)
    return new


def _upsert_condition(
    conditions: list[dict[str, str]], kind: str, value: str
) -> list[dict[str, str]]:
    """`Conditions.UpsertCondition`: the first of that type replaced, else one appended."""
    new = {"type": kind, "status": value}
    for i, condition in enumerate(conditions):
        if condition.get("type") == kind:
            return [*conditions[:i], new, *conditions[i + 1 :]]
    return [*conditions, new]


def _new_nodes(
    workflow: Workflow,
    graph: _Graph,
    to_reset: Mapping[str, None],
    to_delete: Mapping[str, None],
    now: float | None,
) -> tuple[dict[str, Node], list[str]]:
    """The nodes after the retry (in their old order) and the pods to delete."""
    exit_name = f"{graph.root}.onExit"
    pods: dict[str, None] = {}
    for node_id in [*to_delete, *graph.subtree_of_name(exit_name)]:
        pod = pod_name_of(workflow, graph.nodes[node_id])
        if pod:
            pods[pod] = None
    nodes: dict[str, Node] = {}
    for node_id, old in graph.nodes.items():
        if node_id in to_delete or str(old.get("name", "")).startswith(exit_name):
            continue
        node = copy.deepcopy(old)
        if node_id in to_reset:
            _reset_node(node, now)
        for key in ("children", "outboundNodes"):
            set_or_drop(node, key, [i for i in old.get(key) or [] if i not in to_delete])
        nodes[node_id] = node
    return nodes, list(pods)


def _reset_node(node: Node, now: float | None) -> None:
    """`resetNode`: run again; a Suspend node's output parameters are to be supplied again."""
    outputs = node.get("outputs")
    if node.get("type") == SUSPEND and isinstance(outputs, dict):
        for i, param in enumerate(outputs.get("parameters") or []):
            outputs["parameters"][i] = {"name": param.get("name"), "valueFrom": {"supplied": {}}}
    if node.get("phase") != SKIPPED:  # a skipped node stays so, or the workflow never ends
        node["phase"] = RUNNING
    node.pop("message", None)
    node["startedAt"] = timestamp(now)
    node["finishedAt"] = None


class _Graph:
    """`newWorkflowsDag`: the nodes with one parent each and their children."""

    def __init__(self, root: str, nodes: Mapping[str, Node]) -> None:
        self.root = root
        self.nodes = dict(nodes)
        self.parent: dict[str, str] = {}
        for node_id in sorted(self.nodes):  # the last (greatest) parent wins, as in Argo
            for child in self.nodes[node_id].get("children") or []:
                if child not in self.nodes:
                    raise ControlError(
                        f"cannot retry workflow {root!r}: node {node_id} lists child {child}, "
                        "which is not in its status"
                    )
                self.parent[child] = node_id
        for node_id, node in self.nodes.items():
            node_name = str(node.get("name", ""))
            exempt = node_name == root or node_name.startswith(f"{root}.onExit")
            if node_id not in self.parent and not exempt:
                raise ControlError(
                    f"cannot retry workflow {root!r}: couldn't find parent node for {node_id}"
                )

    def children(self, node_id: str) -> list[str]:
        return list(self.nodes[node_id].get("children") or [])

    def breadth_first(self) -> list[str]:
        """`dagSortedNodes`: from the root through children (the exit handler is not met)."""
        root = next((i for i, n in self.nodes.items() if n.get("name") == self.root), None)
        if root is None:
            if self.nodes:
                raise ControlError(f"cannot retry workflow {self.root!r}: it has no root node")
            return []
        return [root, *self.descendants(root)]

    def descendants(self, node_id: str) -> list[str]:
        """`getChildren`: everything below, breadth first."""
        return self._walk(self.children(node_id))

    def subtree_of_name(self, name: str) -> list[str]:
        start = [i for i, n in self.nodes.items() if n.get("name") == name]
        return self._walk(start)

    def _walk(self, start: Iterable[str]) -> list[str]:
        seen: dict[str, None] = {}
        queue = deque(start)
        while queue:
            node_id = queue.popleft()
            if node_id not in seen:
                seen[node_id] = None
                queue.extend(self.children(node_id))
        return list(seen)

    def failed_to_redo(self, selected: Mapping[str, None]) -> list[str]:
        """Failed/Error execution nodes with no Succeeded descendant (but selected ones)."""
        found = []
        for node_id, node in self.nodes.items():
            if node.get("phase") not in _FAILED or node.get("type") not in _EXECUTION:
                continue
            checked = node_id
            if (node.get("nodeFlag") or {}).get("retried"):
                checked = self._retry_parent(node_id) or node_id
            if not self._descendant_succeeded(checked, selected):
                found.append(node_id)
        return found

    def _retry_parent(self, node_id: str) -> str | None:
        """`FindRetryNodeByChild`."""
        return next(
            (
                i
                for i, n in self.nodes.items()
                if n.get("type") == RETRY and node_id in (n.get("children") or [])
            ),
            None,
        )

    def _descendant_succeeded(self, node_id: str, exclude: Mapping[str, None]) -> bool:
        """`isDescendantNodeSucceeded` (nodes in `exclude` do not count, their own do)."""
        return any(
            i not in exclude and self.nodes[i].get("phase") == SUCCEEDED
            for i in self.descendants(node_id)
        )

    # --- resetPath ----------------------------------------------------------------------

    def reset_path(self, start: str, to_reset: dict[str, None], to_delete: dict[str, None]) -> None:
        """`resetPath`: delete `start` and what is below it, reset the way up."""
        self._check_path_to_root(start)
        to_delete[start] = None
        to_delete.update(dict.fromkeys(self.descendants(start)))
        if self.nodes[start].get("name") == self.root:
            return

        def reset(node_id: str) -> None:
            to_reset[node_id] = None

        current: str | None = start
        while current is not None:
            node = self.nodes[current]
            kind = node.get("type")
            if kind in _GROUPS:
                reset(current)
                current = self._reset_boundaries(current, reset)
                continue
            if kind == RETRY and node.get("phase") in _FAILED:
                reset(current)
            elif kind == CONTAINER:
                pod = self._reset_until(current, self._of_type(POD), reset)
                to_delete[pod] = None  # deletion overrides the reset
                to_delete.update(dict.fromkeys(self.descendants(pod)))
                current = pod
                continue
            current = self.parent.get(current)

    def _reset_boundaries(self, start: str, reset: Callable[[str], None]) -> str | None:
        """`resetBoundaries`: reset the boundary chain up from `start`; where to go on."""
        current = start
        while True:
            parent = self.parent.get(current)
            if parent is not None and self.nodes[parent].get("type") == RETRY:
                reset(parent)
                current = parent
                parent = self.parent.get(current)
            if parent is not None and self.nodes[parent].get("type") in (STEP_GROUP, TASK_GROUP):
                reset(parent)
            boundary = self.nodes[current].get("boundaryID")
            if not boundary:
                return parent
            current = self._reset_until(current, _is(boundary), reset)

    def _reset_until(
        self, start: str, match: Callable[[str], bool], reset: Callable[[str], None]
    ) -> str:
        """`resetUntil`: the first of `start` and its ancestors that matches, reset."""
        current: str | None = start
        while current is not None:
            if match(current):
                reset(current)
                return current
            current = self.parent.get(current)
        raise ControlError(
            f"cannot retry workflow {self.root!r}: was seeking node but ran out of nodes to "
            f"explore (from {start})"
        )

    def _of_type(self, kind: str) -> Callable[[str], bool]:
        return lambda node_id: self.nodes[node_id].get("type") == kind

    def _check_path_to_root(self, start: str) -> None:
        """`singularPath`'s check: the parents of `start` lead to the root."""
        seen = {start}
        current = start
        while self.nodes[current].get("name") != self.root:
            parent = self.parent.get(current)
            if parent is None or parent in seen:
                raise ControlError(
                    f"cannot retry workflow {self.root!r}: node {current} has no path to the "
                    "root node"
                )
            seen.add(parent)
            current = parent


def _is(wanted: str) -> Callable[[str], bool]:
    return lambda node_id: node_id == wanted
