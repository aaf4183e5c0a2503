"""Workflows for people: ``argo get``'s report and node tree and ``argo list``'s table (the live
view of ``argoexec run`` draws them: ``argoexec.controller.progress``).

The tree is built the way ``argo get`` builds it, not from ``children`` (which in a DAG are
dependency edges and after a step point at the next step group): a node sits under its
``boundaryID`` (the Steps or DAG node of its template), except the children of StepGroup and
Retry nodes, which sit under those. Siblings are ordered by ``startedAt``, ties by loop index,
then by name. As in Argo, StepGroup nodes are not printed (their steps hang off ``┬─``/``├─``/
``└─``, or ``──`` for a single step), a Retry node with one attempt shows only the attempt,
Omitted nodes are left out, and only Pod nodes get a pod name and a duration.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from argoexec.contract import ANNOTATION_POD_NAME_FORMAT
from argoexec.controller.pod.naming import PodNameVersion, node_id, pod_name
from argoexec.durations import format_go_duration, parse_rfc3339

Node = dict[str, Any]
Workflow = dict[str, Any]

RESET = "\x1b[0m"
_RED, _GREEN, _YELLOW, _CYAN = 31, 32, 33, 36
# Argo's icons (NoUtf8 off): phase icon, colour. An active Suspend node shows "ǁ" instead.
_ICONS = {
    "Pending": ("◷", _YELLOW),
    "Running": ("●", _CYAN),
    "Succeeded": ("✔", _GREEN),
    "Skipped": ("○", 0),
    "Omitted": ("○", 0),
    "Failed": ("✖", _RED),
    "Error": ("⚠", _RED),
}
_SUSPENDED = ("ǁ", _CYAN)
_BOUNDARY = frozenset({"Steps", "DAG"})
_GROUP = frozenset({"StepGroup", "Retry"})
_EXECUTION = frozenset({"Pod", "Skipped", "Suspend", "HTTP", "Plugin"})
DONE_PHASES = frozenset({"Succeeded", "Failed", "Error", "Skipped", "Omitted"})
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_LOOP_INDEX = re.compile(r"\((\d+)(?::[^)]*)?\)$")


# --- Time -----------------------------------------------------------------------------------


def parse_time(text: object) -> datetime | None:
    """An RFC 3339 timestamp as Argo writes it (``...Z``); None when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_rfc3339(text)
    except ValueError:
        return None


def short_duration(seconds: float) -> str:
    """``1s``, ``2m3s``, ``2m``, ``1h5m``, ``1h``: Go's duration text in whole seconds, trailing
    zero units dropped. (``argo get`` keeps only the largest unit; a local run's steps are
    short enough for the seconds to matter.)"""
    text = format_go_duration(max(0, int(seconds)))
    for zero in ("m0s", "h0m"):
        if text.endswith(zero):
            text = text[:-2]
    return text


_UNITS = (("year", 365 * 86400), ("week", 7 * 86400), ("day", 86400), ("hour", 3600),
          ("minute", 60), ("second", 1))  # fmt: skip


def _count(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def one_unit(seconds: float) -> str:
    """``5 minutes``: the largest whole unit (go-humanize's relative times)."""
    total = max(0, int(seconds))
    for unit, size in _UNITS:
        if total >= size:
            return _count(total // size, unit)
    return "0 seconds"


def long_duration(seconds: float) -> str:
    """Argo's header Duration: ``10 seconds``, ``1 minute 5 seconds``, ``2 hours 0 minutes``,
    ``3 days 4 hours``."""
    total = max(0, int(seconds))
    if total < 60:
        return _count(total, "second")
    if total < 3600:
        return f"{_count(total // 60, 'minute')} {_count(total % 60, 'second')}"
    if total < 86400:
        return f"{_count(total // 3600, 'hour')} {_count(total % 3600 // 60, 'minute')}"
    return f"{_count(total // 86400, 'day')} {_count(total % 86400 // 3600, 'hour')}"


def age(seconds: float) -> str:
    """``argo list``'s AGE: one unit, ``29s``, ``41m``, ``8h``, ``3d``."""
    total = max(0, int(seconds))
    for suffix, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if total >= size:
            return f"{total // size}{suffix}"
    return f"{total}s"


def _span(start: datetime | None, end: datetime | None, now: datetime) -> float:
    if start is None:
        return 0.0
    return ((end or now) - start).total_seconds()


def _timestamp(value: datetime, now: datetime) -> str:
    ago = (now - value).total_seconds()
    relative = f"{one_unit(ago)} ago" if ago >= 1 else "now"
    return f"{value.strftime('%a %b %d %H:%M:%S %z')} ({relative})"


# --- Nodes ----------------------------------------------------------------------------------


def nodes_of(workflow: Workflow) -> dict[str, Node]:
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    return {k: v for k, v in nodes.items() if isinstance(v, dict)}


def template_of(node: Node) -> str:
    """The template a node ran: ``templateRef.template`` when it came from a WorkflowTemplate."""
    ref = node.get("templateRef")
    if isinstance(ref, dict) and ref.get("template"):
        return str(ref["template"])
    return str(node.get("templateName") or "")


def _template_label(node: Node) -> str:
    ref = node.get("templateRef")
    if isinstance(ref, dict) and ref.get("template"):
        return f"{ref.get('name', '')}/{ref['template']}"
    return str(node.get("templateName") or "")


def pod_name_of(workflow: Workflow, node: Node) -> str | None:
    """The pod a Pod node ran in (Argo's pod-name format of the workflow, v2 by default)."""
    if node.get("type") != "Pod":
        return None
    meta = workflow.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    version: PodNameVersion = "v1" if annotations.get(ANNOTATION_POD_NAME_FORMAT) == "v1" else "v2"
    return pod_name(
        str(meta.get("name", "")), str(node.get("name", "")), template_of(node),
        str(node.get("id", "")), version,
    )  # fmt: skip


def find_nodes(workflow: Workflow, ref: str) -> list[Node]:
    """The nodes ``ref`` names: an id, else a full name, else a display name (maybe several)."""
    nodes = nodes_of(workflow)
    if ref in nodes:
        return [nodes[ref]]
    for key in ("name", "displayName"):
        found = [n for n in nodes.values() if n.get(key) == ref]
        if found:
            return sorted(found, key=_NODE_ORDER)
    return []


_NEVER = datetime.min.replace(tzinfo=UTC)


def compare_nodes(a: Node, b: Node) -> int:
    """Argo's sibling order: by ``startedAt`` (unstarted first); at the same time loop items by
    their index (``x(2:b)`` before ``x(10:k)``), anything else by display name."""
    ta, tb = parse_time(a.get("startedAt")) or _NEVER, parse_time(b.get("startedAt")) or _NEVER
    if ta != tb:
        return -1 if ta < tb else 1
    da, db = str(a.get("displayName", "")), str(b.get("displayName", ""))
    ia, ib = _LOOP_INDEX.search(da), _LOOP_INDEX.search(db)
    if ia and ib and ia.group(1) != ib.group(1):
        return int(ia.group(1)) - int(ib.group(1))
    return (da > db) - (da < db)


_NODE_ORDER = functools.cmp_to_key(compare_nodes)


def pod_nodes(workflow: Workflow) -> list[Node]:
    """Every Pod node, in start order (as ``argo logs`` goes through them)."""
    pods = (n for n in nodes_of(workflow).values() if n.get("type") == "Pod")
    return sorted(pods, key=_NODE_ORDER)


# --- The tree -------------------------------------------------------------------------------


@dataclass
class _Branch:
    id: str
    kids: list[_Branch] = field(default_factory=list)


def build_forest(workflow: Workflow) -> dict[str, _Branch]:
    """The render trees, keyed by root node id (the workflow's root and its ``.onExit``)."""
    nodes = nodes_of(workflow)
    shown = _BOUNDARY | _GROUP | _EXECUTION
    # Omitted tasks are never printed (as in Argo); dropping them here, rather than skipping
    # them while printing, also keeps the last printed sibling's connector a "└─".
    branches = {
        i: _Branch(i)
        for i, n in nodes.items()
        if n.get("type") in shown and n.get("phase") != "Omitted"
    }
    group_of = {
        child: i
        for i, n in nodes.items()
        if n.get("type") in _GROUP and i in branches
        for child in n.get("children") or []
    }
    roots: dict[str, _Branch] = {}
    for i, branch in branches.items():
        parent = group_of.get(i)
        if parent is None:
            boundary = nodes[i].get("boundaryID") or ""
            parent = boundary if nodes.get(boundary, {}).get("type") in _BOUNDARY else None
            if not boundary:
                roots[i] = branch
        if parent is not None and parent in branches:
            branches[parent].kids.append(branch)
    for branch in branches.values():
        branch.kids.sort(key=lambda kid: _NODE_ORDER(nodes[kid.id]))
    return roots


def _hidden(node: Node) -> tuple[bool, bool]:
    """(not printed, its children get the step-group connectors)."""
    kind = node.get("type")
    if kind == "StepGroup":
        return True, True
    return kind == "Retry" and len(node.get("children") or []) == 1, False


def _connector(i: int, last: int, grouped: bool) -> tuple[str, str]:
    if grouped:
        if last == 0:
            return "──", "  "
        if i == 0:
            return "┬─", "│ "
    return ("└─", "  ") if i == last else ("├─", "│ ")


def _paint(text: str, colour: int, color: bool) -> str:
    return f"\x1b[{colour}m{text}{RESET}" if color and colour else text


def _icon(node: Node, color: bool) -> str:
    if node.get("type") == "Suspend" and node.get("phase") == "Running":
        glyph, colour = _SUSPENDED
    else:
        glyph, colour = _ICONS.get(str(node.get("phase") or "Pending"), ("?", 0))
    return _paint(glyph, colour, color)


@dataclass
class _TreeRows:
    """The rows of one render tree (a class only to carry what every row needs)."""

    workflow: Workflow
    nodes: dict[str, Node]
    now: datetime
    color: bool

    def rows(self, branch: _Branch, node_prefix: str, child_prefix: str) -> Iterable[list[str]]:
        node = self.nodes[branch.id]
        hidden, grouped = _hidden(node)
        if not hidden:
            yield self._row(node, node_prefix)
        last = len(branch.kids) - 1
        for i, kid in enumerate(branch.kids):
            if not hidden:
                part, sub = _connector(i, last, grouped=False)
                yield from self.rows(kid, child_prefix + part, child_prefix + sub)
                continue
            # A hidden node's first child takes its line's prefix; a step group's children
            # get the group connectors, a lone retry attempt none.
            part, sub = _connector(i, last, grouped=True) if grouped else ("", "")
            first = node_prefix if i == 0 else child_prefix
            yield from self.rows(kid, first + part, child_prefix + sub)

    def _row(self, node: Node, prefix: str) -> list[str]:
        pod = pod_name_of(self.workflow, node)
        started, finished = parse_time(node.get("startedAt")), parse_time(node.get("finishedAt"))
        name = node.get("displayName") or node.get("name", "")
        return [
            f"{prefix}{_icon(node, self.color)} {name}",
            _template_label(node),
            pod or "",
            short_duration(_span(started, finished, self.now)) if pod else "",
            str(node.get("message") or ""),
        ]


def visible_len(text: str) -> int:
    return len(ANSI.sub("", text))


def table(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell plus two spaces (Go's tabwriter as Argo sets it up);
    the last column is not padded and trailing blanks are dropped."""
    if not rows:
        return ""
    widths = [max(visible_len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [
            cell + " " * (widths[c] - visible_len(cell) + 2) for c, cell in enumerate(row[:-1])
        ]
        lines.append(("".join(cells) + row[-1]).rstrip())
    return "\n".join(lines) + "\n"


def render_tree(workflow: Workflow, *, now: datetime | None = None, color: bool = False) -> str:
    """The ``STEP TEMPLATE PODNAME DURATION MESSAGE`` table; empty when there is no root node."""
    now = now or datetime.now(UTC)
    name = str((workflow.get("metadata") or {}).get("name", ""))
    roots = build_forest(workflow)
    if name not in roots:
        return ""
    tree = _TreeRows(workflow, nodes_of(workflow), now, color)
    rows = [["STEP", "TEMPLATE", "PODNAME", "DURATION", "MESSAGE"]]
    rows += tree.rows(roots[name], " ", " ")
    # Then the workflow's lifecycle hooks (`<wf>.hooks.<name>`, by name; Argo's CLI leaves
    # them out) and its exit handler, each a tree of its own.
    nodes = nodes_of(workflow)
    hooks = sorted(
        (i for i in roots if str(nodes[i].get("name", "")).startswith(f"{name}.hooks.")),
        key=lambda i: str(nodes[i].get("name")),
    )
    exit_root = roots.get(node_id(name, f"{name}.onExit"))
    for extra in [*(roots[i] for i in hooks), *([exit_root] if exit_root else [])]:
        rows.append(["", "", "", "", ""])
        rows += tree.rows(extra, " ", " ")
    return table(rows)


# --- The report -----------------------------------------------------------------------------


def workflow_status(workflow: Workflow) -> str:
    """The Status line: the phase, with Argo's notes for a suspended or shut-down workflow."""
    spec, status = workflow.get("spec") or {}, workflow.get("status") or {}
    phase = str(status.get("phase") or "Pending")
    if phase == "Running" and (
        spec.get("suspend")
        or any(
            n.get("type") == "Suspend" and n.get("phase") == "Running"
            for n in nodes_of(workflow).values()
        )
    ):
        return "Running (Suspended)"
    if spec.get("shutdown") and phase in ("Failed", "Error", "Succeeded", "Running"):
        return f"{phase} ({spec['shutdown']})"
    return phase


def _artifact_place(artifact: dict[str, Any]) -> str:
    for kind in ("s3", "gcs", "oss", "azure", "hdfs", "artifactory", "http", "git", "raw"):
        loc = artifact.get(kind)
        if isinstance(loc, dict):
            where = loc.get("key") or loc.get("url") or loc.get("repo") or loc.get("path") or ""
            bucket = loc.get("bucket") or loc.get("container")
            return f"{kind}://{bucket}/{where}" if bucket else f"{kind}: {where}".rstrip(": ")
    return ""


def _header(workflow: Workflow, now: datetime) -> list[tuple[str, str]]:
    meta, spec = workflow.get("metadata") or {}, workflow.get("spec") or {}
    status = workflow.get("status") or {}
    started, finished = parse_time(status.get("startedAt")), parse_time(status.get("finishedAt"))
    lines = [
        ("Name:", str(meta.get("name", ""))),
        ("Namespace:", str(meta.get("namespace") or "default")),
    ]
    lines.append(("Status:", workflow_status(workflow)))
    if status.get("message"):
        lines.append(("Message:", str(status["message"])))
    for label, value in (
        ("Created:", parse_time(meta.get("creationTimestamp"))),
        ("Started:", started),
        ("Finished:", finished),
    ):
        if value is not None:
            lines.append((label, _timestamp(value, now)))
    if started is not None:
        lines.append(("Duration:", long_duration(_span(started, finished, now))))
    if status.get("progress"):
        lines.append(("Progress:", str(status["progress"])))
    params = [p for p in (spec.get("arguments") or {}).get("parameters") or [] if "value" in p]
    if params:
        lines.append(("Parameters:", ""))
        lines += [(f"  {p.get('name', '')}:", str(p["value"])) for p in params]
    outputs = status.get("outputs") or {}
    out_params = [p for p in outputs.get("parameters") or [] if "value" in p]
    if out_params:
        lines.append(("Output Parameters:", ""))
        lines += [(f"  {p.get('name', '')}:", str(p["value"])) for p in out_params]
    if outputs.get("artifacts"):
        lines.append(("Output Artifacts:", ""))
        lines += [(f"  {a.get('name', '')}:", _artifact_place(a)) for a in outputs["artifacts"]]
    return lines


def render_workflow(workflow: Workflow, *, now: datetime | None = None, color: bool = False) -> str:
    """``argo get``: the header, then (once there is a root node) the node tree."""
    now = now or datetime.now(UTC)
    text = "".join(
        f"{label:<20} {value}".rstrip() + "\n" for label, value in _header(workflow, now)
    )
    tree = render_tree(workflow, now=now, color=color)
    return f"{text}\n{tree}" if tree else text


def list_row(workflow: Workflow, now: datetime, *, orphaned: bool = False) -> list[str]:
    """``argo list``'s NAME STATUS AGE DURATION MESSAGE for one workflow."""
    meta, status = workflow.get("metadata") or {}, workflow.get("status") or {}
    phase = str(status.get("phase") or "Pending")
    state = f"{phase} (orphaned)" if orphaned else workflow_status(workflow)
    created = parse_time(meta.get("creationTimestamp")) or parse_time(status.get("startedAt"))
    started = parse_time(status.get("startedAt"))
    # An orphaned run will never finish: its duration stops where its record does.
    end = parse_time(status.get("finishedAt"))
    return [
        str(meta.get("name", "")),
        state,
        age(_span(created, None, now)) if created else "",
        short_duration(_span(started, end, now)) if started and not (orphaned and not end) else "",
        str(status.get("message") or ""),
    ]


def stream_is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
