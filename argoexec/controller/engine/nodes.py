"""The workflow's node tree in Argo's shape (`status.nodes`), kept thread-safe in memory.

Every change goes through `NodeTree`, which calls `on_change` so the run can persist and draw
the status. Nodes also carry monotonic start/finish instants that are not part of the status:
the benchmark's scheduling-gap measurement reads them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from argoexec.controller.pod.naming import node_id
from argoexec.durations import rfc3339

PENDING = "Pending"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
ERROR = "Error"
SKIPPED = "Skipped"
OMITTED = "Omitted"
FINAL_PHASES = frozenset({SUCCEEDED, FAILED, ERROR, SKIPPED, OMITTED})

# Node types (Argo's NodeType).
POD = "Pod"
STEPS = "Steps"
STEP_GROUP = "StepGroup"
DAG = "DAG"
TASK_GROUP = "TaskGroup"
RETRY = "Retry"
SKIPPED_TYPE = "Skipped"
SUSPEND = "Suspend"

# Argo's exit-handler node names (`common.GenerateOnExitNodeName`): `<owner>.onExit`.
EXIT_SUFFIX = ".onExit"


@dataclass
class Node:
    id: str
    name: str
    display_name: str
    type: str
    template_name: str | None = None
    template_ref: dict[str, Any] | None = None
    template_scope: str = "local/"
    boundary_id: str | None = None
    phase: str = PENDING
    message: str = ""
    children: list[str] = field(default_factory=list)
    outbound_nodes: list[str] = field(default_factory=list)
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    started_mono: float = field(default_factory=time.monotonic)
    finished_mono: float | None = None
    pod_started_mono: float | None = None  # when the runtime was asked to run the pod
    pod_name: str | None = None
    host_node_name: str | None = None
    # Errored before running anything (Argo's executeTemplate returned an error): such a child
    # makes its step group Error rather than Failed.
    refused: bool = False
    # Its exit hook errored before running anything: the step group (or DAG) is an Error.
    hook_error: str = ""

    @property
    def fulfilled(self) -> bool:
        return self.phase in FINAL_PHASES

    @property
    def succeeded(self) -> bool:
        return self.phase == SUCCEEDED

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "displayName": self.display_name,
            "type": self.type,
        }
        if self.template_name:
            status["templateName"] = self.template_name
        if self.template_ref:
            status["templateRef"] = dict(self.template_ref)
        status["templateScope"] = self.template_scope
        status["phase"] = self.phase
        if self.boundary_id:
            status["boundaryID"] = self.boundary_id
        if self.message:
            status["message"] = self.message
        status["startedAt"] = rfc3339(self.started_at)
        status["finishedAt"] = rfc3339(self.finished_at) if self.finished_at else None
        if self.host_node_name:
            status["hostNodeName"] = self.host_node_name
        if self.inputs:
            status["inputs"] = self.inputs
        if self.outputs:
            status["outputs"] = self.outputs
        if self.children:
            status["children"] = list(self.children)
        if self.outbound_nodes:
            status["outboundNodes"] = list(self.outbound_nodes)
        return status


class NodeTree:
    """All nodes of one run, by id, in creation order."""

    def __init__(self, workflow_name: str, on_change: Callable[[], None] | None = None) -> None:
        self.workflow_name = workflow_name
        self._nodes: dict[str, Node] = {}
        self._lock = threading.RLock()
        self._on_change = on_change or (lambda: None)

    def __iter__(self) -> Iterator[Node]:
        with self._lock:
            return iter(list(self._nodes.values()))

    def get(self, node_id_: str) -> Node:
        return self._nodes[node_id_]

    def by_name(self, name: str) -> Node | None:
        return self._nodes.get(node_id(self.workflow_name, name))

    def add(
        self,
        name: str,
        display_name: str,
        type_: str,
        *,
        parent: Node | None,
        boundary_id: str | None,
        phase: str = PENDING,
        **fields: Any,
    ) -> Node:
        node = Node(
            id=node_id(self.workflow_name, name),
            name=name,
            display_name=display_name,
            type=type_,
            boundary_id=boundary_id,
            phase=phase,
            **fields,
        )
        with self._lock:
            if node.id in self._nodes:
                raise ValueError(f"node {name!r} exists already")
            self._nodes[node.id] = node
            if parent is not None:
                parent.children.append(node.id)
        self._on_change()
        return node

    def link(self, parent: Node, child: Node) -> None:
        with self._lock:
            if child.id not in parent.children:
                parent.children.append(child.id)

    def update(self, node: Node, **fields: Any) -> None:
        with self._lock:
            for key, value in fields.items():
                setattr(node, key, value)
        self._on_change()

    def finish(self, node: Node, phase: str, message: str = "", **fields: Any) -> Node:
        with self._lock:
            node.phase = phase
            if message:
                node.message = message
            for key, value in fields.items():
                setattr(node, key, value)
            if node.finished_at is None:
                node.finished_at = time.time()
                node.finished_mono = time.monotonic()
        self._on_change()
        return node

    def refuse(self, node: Node, message: str, **fields: Any) -> Node:
        """Finish `node` as an Error that happened before it ran anything (see `refused`)."""
        node.refused = True
        return self.finish(node, ERROR, message, **fields)

    def close_open(self, phase: str, message: str, *, boundary_id: str | None = None) -> None:
        """Finish every node not finished yet (only those directly in `boundary_id`, if
        given) as `phase` with `message`: what an interrupted run leaves must not say
        Running for ever."""
        with self._lock:
            nodes = [
                node
                for node in self._nodes.values()
                if not node.fulfilled and (boundary_id is None or node.boundary_id == boundary_id)
            ]
        for node in nodes:
            self.finish(node, phase, message)

    def outbound(self, node: Node) -> list[str]:
        """Argo's `getOutboundNodes`: the nodes a following step group hangs from."""
        if node.type in (POD, SKIPPED_TYPE, SUSPEND):
            return [node.id]
        if node.type == TASK_GROUP:
            if not node.children:
                return [node.id]
            return [o for child in node.children for o in self.outbound(self.get(child))]
        if node.type == RETRY and node.children:
            return [node.children[-1]]
        return [o for out in node.outbound_nodes for o in self.outbound(self.get(out))]

    def status(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {node.id: node.to_status() for node in self._nodes.values()}
