"""`status.nodes` as the reconciler reads and changes it: plain dicts in Argo's NodeStatus shape
(the Workflow's status is the only state), with the helpers every template kind shares."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
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
COMPLETED_PHASES = frozenset({SUCCEEDED, FAILED, ERROR})

# Node types (Argo's NodeType).
POD = "Pod"
STEPS = "Steps"
STEP_GROUP = "StepGroup"
DAG = "DAG"
TASK_GROUP = "TaskGroup"
RETRY = "Retry"
SKIPPED_TYPE = "Skipped"
SUSPEND = "Suspend"
CONTAINER = "Container"  # a containerSet's container
HTTP = "HTTP"
PLUGIN = "Plugin"

# Argo's exit-handler node names (`common.GenerateOnExitNodeName`): `<owner>.onExit`.
EXIT_SUFFIX = ".onExit"
# Argo's lifecycle hook node names (`generateLifeHookNodeName`): `<owner>.hooks.<hook>`.
HOOKS_INFIX = ".hooks."

Node = dict[str, Any]


def is_hook_of(parent: Node, child: Node) -> bool:
    """Whether `child` is one of `parent`'s hook nodes (exit or lifecycle), not an attempt."""
    name = str(child["name"])
    own = str(parent["name"])
    return name == own + EXIT_SUFFIX or name.startswith(own + HOOKS_INFIX)


def fulfilled(node: Node) -> bool:
    """Argo's `Fulfilled()`: over, or a daemon serving (its dependents may go on)."""
    return node.get("phase") in FINAL_PHASES or daemoned(node)


def final(node: Node) -> bool:
    """The node's phase is final (a serving daemon's is not)."""
    return node.get("phase") in FINAL_PHASES


def daemoned(node: Node) -> bool:
    """Argo's `IsDaemoned() && Phase != Pending`: a daemon template's pod, ready and serving."""
    return node.get("daemoned") is True and node.get("phase") != PENDING


class Nodes:
    """The node map of one Workflow, changed in place; `changed` counts the changes of a pass."""

    def __init__(self, workflow_name: str, nodes: MutableMapping[str, Node]) -> None:
        self.workflow_name = workflow_name
        self.map = nodes
        self.changed = 0
        self.finished: list[Node] = []  # nodes that became final in this pass, in order
        # While set (`spec.suspend`), `add` returns nodes that are not kept: nothing new starts.
        self.frozen = False
        self._children: dict[str, set[str]] = {}  # parent id -> its children's ids, for `link`

    def __iter__(self) -> Iterator[Node]:
        return iter(self.map.values())

    def __len__(self) -> int:
        return len(self.map)

    def get(self, id_: str) -> Node:
        return self.map[id_]

    def id_of(self, name: str) -> str:
        return node_id(self.workflow_name, name)

    def by_name(self, name: str) -> Node | None:
        return self.map.get(node_id(self.workflow_name, name))

    def add(
        self,
        name: str,
        display: str,
        type_: str,
        *,
        now: float,
        parent: Node | None = None,
        boundary_id: str | None = None,
        phase: str = PENDING,
        template_name: Any = None,
        template_ref: dict[str, Any] | None = None,
        template_scope: str = "local/",
    ) -> Node:
        id_ = node_id(self.workflow_name, name)
        if id_ in self.map:
            raise ValueError(f"node {name!r} exists already")
        node: Node = {"id": id_, "name": name, "displayName": display, "type": type_}
        if isinstance(template_name, str) and template_name:
            node["templateName"] = template_name
        if template_ref:
            node["templateRef"] = dict(template_ref)
        node["templateScope"] = template_scope
        node["phase"] = phase
        if boundary_id:
            node["boundaryID"] = boundary_id
        node["startedAt"] = rfc3339(now)
        node["finishedAt"] = None
        if self.frozen:
            return node
        self.map[id_] = node
        if parent is not None:
            self.link(parent, node)
        self.changed += 1
        return node

    def link(self, parent: Node, child: Node) -> None:
        children = parent.setdefault("children", [])
        known = self._children.get(parent["id"])
        if known is None or len(known) != len(children):
            known = self._children[parent["id"]] = set(children)
        if child["id"] not in known:
            children.append(child["id"])
            known.add(child["id"])
            self.changed += 1

    def set(self, node: Node, **fields: Any) -> None:
        """Set Argo status fields (camelCase keys); None removes one."""
        for key, value in fields.items():
            if value is None or (value == "" and key == "message"):
                if key in node:
                    del node[key]
                    self.changed += 1
            elif node.get(key) != value:
                node[key] = value
                self.changed += 1

    def finish(
        self, node: Node, phase: str, message: str = "", *, now: float, **fields: Any
    ) -> Node:
        node["phase"] = phase
        if message:
            node["message"] = message
        for key, value in fields.items():
            if value is None:
                node.pop(key, None)
            else:
                node[key] = value
        if not node.get("finishedAt"):
            node["finishedAt"] = rfc3339(now)
        self.changed += 1
        self.finished.append(node)
        return node

    def outbound(self, node: Node) -> list[str]:
        """Argo's `getOutboundNodes`: the nodes a following step group hangs from."""
        type_ = node.get("type")
        children = node.get("children") or []
        if type_ in (POD, SKIPPED_TYPE, SUSPEND):
            return [node["id"]]
        if type_ == TASK_GROUP:
            if not children:
                return [node["id"]]
            return [o for child in children for o in self.outbound(self.get(child))]
        if type_ == RETRY and children:
            return [self.last_attempt(node)["id"]]
        return [o for out in node.get("outboundNodes") or [] for o in self.outbound(self.get(out))]

    def last_attempt(self, retry: Node) -> Node:
        """The Retry node's last attempt (its hook children excluded)."""
        for child_id in reversed(retry.get("children") or []):
            child = self.get(child_id)
            if not is_hook_of(retry, child):
                return child
        raise KeyError(retry["name"])
