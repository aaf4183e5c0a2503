"""A Workflow's run graph: its status nodes and their ``children`` edges, as Argo's UI draws
them (``workflow-dag`` in argo-workflows' ui), with big fan-outs folded.

Edges are the nodes' ``children``: Steps -> StepGroup -> steps, each step -> the next StepGroup;
DAG -> root tasks -> dependants; Retry -> attempts. The roots are the workflow's root node and
its exit handler (``<workflow>.onExit``); as in Argo's UI the exit handler hangs off the
workflow's outbound nodes (its leaves), here with a dashed edge. A step's or task's own exit
handler and lifecycle hooks (``<node>.onExit``, ``<node>.hooks.<name>``) are its children in
the status; their edges are dashed too. Any other node no edge reaches (a malformed status)
becomes a root of its own, so nothing in the status goes missing.

Folding (loops of thousands): a node with more than ``fold_over`` children keeps ``keep`` of
them (failed or errored first, then running, then the rest, each in the children's order) and
one fold node ``fold:<parent id>`` stands for the others and for every node reachable only
through them. A node with one visible parent that shows it stays visible (the step group after
a folded loop group is reached through the kept items). Every edge ``(u, v)`` is drawn between
the stand-ins of ``u`` and ``v``.

Pure: no I/O. Malformed statuses (children naming missing nodes, cycles, wrong types) never
raise; what cannot be read is skipped.
"""

from __future__ import annotations

import functools
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argoexec.controller.render import compare_nodes, parse_time, short_duration, template_of

FOLD_OVER = 10
FOLD_KEEP = 5
FOLDED_KIND = "Folded"
FOLD_PREFIX = "fold:"

Node = dict[str, Any]

# Worst first: the phase a fold shows is the first of these among the nodes it stands for.
_PHASE_RANK = {"Error": 0, "Failed": 1, "Running": 2, "Pending": 3, "Succeeded": 5}
_UNKNOWN_RANK = 4
_LAST_RANK = 6  # Skipped, Omitted
_FAILED = frozenset({"Failed", "Error"})


@dataclass(frozen=True)
class GraphNode:
    """One node of the drawing: a status node, or a fold standing for many."""

    id: str  # the status node id; for a fold "fold:<parent id>"
    label: str  # displayName; a fold: "<n> more"
    kind: str  # the node type; "Folded" for a fold
    phase: str  # the node's phase ("Pending" if none); a fold: the worst it stands for
    template: str  # template_of(node), "" if none (a fold: its nodes' one template, if one)
    duration: str  # startedAt..finishedAt (..now while unfinished), "" if not started
    message: str  # a fold: its folded siblings counted by phase, "990 Succeeded, 7 Failed"
    folded: tuple[str, ...] = ()  # a fold: the ids it stands for, its siblings first


@dataclass(frozen=True)
class GraphEdge:
    tail: str
    head: str
    dashed: bool = False  # to an exit handler or a lifecycle hook


@dataclass(frozen=True)
class Graph:
    name: str
    phase: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]


def workflow_graph(
    workflow: Mapping[str, Any],
    *,
    now: datetime | None = None,
    fold_over: int = FOLD_OVER,
    keep: int = FOLD_KEEP,
) -> Graph:
    """The run graph of ``workflow`` (a Workflow resource as a dict), nodes and edges in a
    stable order (nodes as ``argo get`` orders siblings, edges by their ends)."""
    name = _text(_mapping(workflow.get("metadata")).get("name"))
    status = _mapping(workflow.get("status"))
    phase = _text(status.get("phase")) or "Pending"
    builder = _Builder(_nodes(status), name, max(0, fold_over), max(0, keep))
    return builder.build(phase, now or datetime.now(UTC))


# --- Reading the status ---------------------------------------------------------------------


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _nodes(status: Mapping[str, Any]) -> dict[str, Node]:
    nodes = _mapping(status.get("nodes"))
    return {k: dict(v) for k, v in nodes.items() if isinstance(k, str) and isinstance(v, Mapping)}


def _children(nodes: Mapping[str, Node], node: Node) -> list[str]:
    """The node's children that exist, each once, in their order."""
    listed = node.get("children")
    if not isinstance(listed, list):
        return []
    return list(dict.fromkeys(c for c in listed if isinstance(c, str) and c in nodes))


def _phase(node: Node) -> str:
    return _text(node.get("phase")) or "Pending"


def _rank(phase: str) -> int:
    if phase in ("Skipped", "Omitted"):
        return _LAST_RANK
    return _PHASE_RANK.get(phase, _UNKNOWN_RANK)


def _is_hook(tail: Node, head: Node) -> bool:
    """``head`` is ``tail``'s exit handler or one of its lifecycle hooks (by Argo's names)."""
    parent, child = _text(tail.get("name")), _text(head.get("name"))
    return bool(parent) and (child == f"{parent}.onExit" or child.startswith(f"{parent}.hooks."))


# --- Building -------------------------------------------------------------------------------


class _Builder:
    """The passes over one status (a class only to share the node table between them)."""

    def __init__(self, nodes: dict[str, Node], name: str, fold_over: int, keep: int) -> None:
        self.nodes = nodes
        self.name = name
        self.kids = {i: _children(nodes, n) for i, n in nodes.items()}
        self.fold_over, self.keep = fold_over, keep
        self.shown: dict[str, list[str]] = {}  # parent -> the children it keeps visible
        self.stand: dict[str, str] = {}  # every reached node -> its stand-in's id
        self.folds: dict[str, list[str]] = {}  # fold id -> the ids it stands for
        self.exit_id = self._exit_handler()

    def build(self, phase: str, now: datetime) -> Graph:
        order = self._visible(self._roots())
        self._fold([i for i in order if i in self.shown])
        folds = {n.id: n for n in self._fold_nodes()}
        nodes = [
            folds[i] if i in folds else self._graph_node(i, now)
            for i in order
            if i in folds or i in self.shown
        ]
        place = {n.id: k for k, n in enumerate(nodes)}
        edges = sorted(self._edges().items(), key=lambda e: (place[e[0][0]], place[e[0][1]]))
        return Graph(
            name=self.name,
            phase=phase,
            nodes=tuple(nodes),
            edges=tuple(GraphEdge(t, h, dashed) for (t, h), dashed in edges),
        )

    def _exit_handler(self) -> str | None:
        wanted = f"{self.name}.onExit"
        found = sorted(i for i, n in self.nodes.items() if n.get("name") == wanted)
        return found[0] if self.name and found else None

    def _roots(self) -> list[str]:
        """The workflow's root and exit handler, then the nodes nobody lists as a child, then
        (cycles no root reaches) the first unreached node, again and again."""
        listed = {c for kids in self.kids.values() for c in kids}
        first = [i for i in (self.name, self.exit_id) if i and i in self.nodes]
        orphans = self._sorted(i for i in self.nodes if i not in listed and i not in first)
        roots = list(dict.fromkeys(first + orphans))
        reached = self._reach(roots, set())
        for i in self._sorted(i for i in self.nodes if i not in reached):
            if i not in reached:
                roots.append(i)
                self._reach([i], reached)
        return roots

    def _reach(self, starts: list[str], seen: set[str]) -> set[str]:
        queue = deque(i for i in starts if i not in seen)
        seen.update(queue)
        while queue:
            for kid in self.kids[queue.popleft()]:
                if kid not in seen:
                    seen.add(kid)
                    queue.append(kid)
        return seen

    def _keep(self, parent: str) -> list[str]:
        """The children ``parent`` shows: all, or ``keep`` of them when it has too many."""
        kids = self.kids[parent]
        # (A real node named like the fold would clash with it: such a parent never folds.)
        if len(kids) <= max(self.fold_over, self.keep) or FOLD_PREFIX + parent in self.nodes:
            return kids
        by_rank: dict[int, list[str]] = {0: [], 1: [], 2: []}
        for kid in kids:
            phase = _phase(self.nodes[kid])
            by_rank[0 if phase in _FAILED else 1 if phase == "Running" else 2].append(kid)
        kept = set((by_rank[0] + by_rank[1] + by_rank[2])[: self.keep])
        return [kid for kid in kids if kid in kept]

    def _visible(self, roots: list[str]) -> list[str]:
        """The roots and every node a visible parent shows, breadth first, each parent's
        children in ``argo get``'s sibling order followed by the place of its fold (if it
        turns out to have one)."""
        order: list[str] = []
        seen = set(roots)
        queue = deque(roots)
        while queue:
            parent = queue.popleft()
            order.append(parent)
            if parent not in self.nodes:  # the place of a fold
                continue
            self.stand[parent] = parent
            kept = self._keep(parent)
            self.shown[parent] = kept
            for kid in self._sorted(kept):
                if kid not in seen:
                    seen.add(kid)
                    queue.append(kid)
            if len(kept) < len(self.kids[parent]):
                queue.append(FOLD_PREFIX + parent)
        return order

    def _fold(self, visible: list[str]) -> None:
        """Give every hidden node its stand-in: the fold of the visible parent that hid the
        first hidden node on the way to it."""
        for parent in visible:
            shown = set(self.shown[parent])
            hidden = [k for k in self.kids[parent] if k not in shown and k not in self.stand]
            if not hidden:
                continue
            fold = FOLD_PREFIX + parent
            members = self.folds.setdefault(fold, [])
            queue = deque(hidden)
            for kid in hidden:
                self.stand[kid] = fold
            while queue:
                current = queue.popleft()
                members.append(current)
                for kid in self.kids[current]:
                    if kid not in self.stand:
                        self.stand[kid] = fold
                        queue.append(kid)

    def _edges(self) -> dict[tuple[str, str], bool]:
        """Every children edge between stand-ins (dashed only if each edge it stands for is),
        and the exit handler's from the workflow's outbound nodes."""
        edges: dict[tuple[str, str], bool] = {}

        def add(tail: str, head: str, dashed: bool) -> None:
            key = (self.stand[tail], self.stand[head])
            if key[0] != key[1]:
                edges[key] = edges.get(key, True) and dashed

        for tail in self.stand:
            for head in self.kids[tail]:
                add(tail, head, _is_hook(self.nodes[tail], self.nodes[head]))
        if self.exit_id is not None:
            tails = self._outbound(self.name) if self.name in self.nodes else []
            if not tails and self.name in self.nodes:
                tails = [self.name]  # nothing ran yet: hang it off the root (Argo draws none)
            for tail in tails:
                if tail in self.stand:
                    add(tail, self.exit_id, True)
        return edges

    def _outbound(self, root: str) -> list[str]:
        """The workflow's last nodes, as Argo's UI finds them: a Pod or Skipped node itself,
        else its ``outboundNodes``, resolved the same way (depth first, in their order)."""
        found: list[str] = []
        seen: set[str] = set()
        stack = [root]
        while stack:
            node_id = stack.pop()
            if node_id in seen:
                continue
            seen.add(node_id)
            node = self.nodes[node_id]
            if node.get("type") in ("Pod", "Skipped"):
                found.append(node_id)
                continue
            listed = node.get("outboundNodes")
            outs = listed if isinstance(listed, list) else []
            stack += reversed([o for o in outs if isinstance(o, str) and o in self.nodes])
        return found

    # --- The drawing's nodes --------------------------------------------------------------

    def _graph_node(self, node_id: str, now: datetime) -> GraphNode:
        node = self.nodes[node_id]
        started = parse_time(node.get("startedAt"))
        finished = parse_time(node.get("finishedAt"))
        duration = short_duration(((finished or now) - started).total_seconds()) if started else ""
        return GraphNode(
            id=node_id,
            label=_text(node.get("displayName") or node.get("name") or node_id),
            kind=_text(node.get("type")) or "Unknown",
            phase=_phase(node),
            template=template_of(node),
            duration=duration,
            message=_text(node.get("message")),
        )

    def _fold_nodes(self) -> list[GraphNode]:
        out = []
        for fold, members in self.folds.items():
            parent = fold[len(FOLD_PREFIX) :]
            siblings = [k for k in self.kids[parent] if self.stand.get(k) == fold]
            counts = Counter(_phase(self.nodes[k]) for k in siblings)
            phases = sorted(counts, key=lambda p: (_rank(p), p))
            templates = {template_of(self.nodes[k]) for k in siblings}
            out.append(
                GraphNode(
                    id=fold,
                    label=f"{len(siblings)} more",
                    kind=FOLDED_KIND,
                    phase=min((_phase(self.nodes[m]) for m in members), key=_rank),
                    template=templates.pop() if len(templates) == 1 else "",
                    duration="",
                    message=", ".join(f"{counts[p]} {p}" for p in phases),
                    folded=tuple(members),
                )
            )
        return out

    def _sorted(self, ids: Iterable[str]) -> list[str]:
        return sorted(ids, key=lambda i: _ORDER((self.nodes[i], 0, i)))


def _compare(a: tuple[Node, int, str], b: tuple[Node, int, str]) -> int:
    by_node = compare_nodes(a[0], b[0])
    if by_node:
        return by_node
    return (a[1:] > b[1:]) - (a[1:] < b[1:])


_ORDER = functools.cmp_to_key(_compare)
