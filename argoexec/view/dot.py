"""A run graph (``argoexec.view.graph``) as Graphviz DOT, and DOT drawn as SVG by ``dot``.

Every text in the graph comes from a Workflow's status, which anyone who can submit a Workflow
writes: display names, messages, template names. Each goes through ``graphviz.escape`` (no
``\\N``, ``\\l``, ``<html>`` labels) after its ``&`` became ``&amp;`` (Graphviz decodes entities
in labels) and its control characters were dropped (XML forbids them), so it comes out of
``dot`` as literal text. Node ids become DOT names ``n0, n1, ...`` (no quoting or ``:port``
surprises) and SVG ids ``node-<id>`` (``element_id``); the workflow's name, the SVG's
``<title>``, is encoded as the ids are. Links are percent-encoded (Graphviz copies them into
the SVG as they are).

What the SVG holds for each node (Graphviz 2.42+): ``<g id="node-<id>" class="node phase-<Phase>
kind-<kind>">`` with a ``<title>`` (its DOT name) and an ``<a>`` carrying the tooltip
(``xlink:title``) and the link (``xlink:href``) when there is one. Dashed edges (exit handlers,
hooks) have the class ``edge hook``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from typing import cast
from urllib.parse import quote

import graphviz

from argoexec.view.graph import FOLDED_KIND, Graph, GraphNode

# Fill colours by phase (light, so black text stays readable); anything else stays white.
PHASE_COLOURS = {
    "Succeeded": "#b9e4c9",
    "Failed": "#f5b7b1",
    "Error": "#f5b7b1",
    "Running": "#aed0f5",
    "Pending": "#e3e3e3",
    "Skipped": "#f4f4f4",
    "Omitted": "#f4f4f4",
}
_NEUTRAL = "#ffffff"
_PASSED_OVER = frozenset({"Skipped", "Omitted"})  # drawn with a dashed outline
_WITH_DURATION = frozenset({"Pod", "Container", "HTTP", "Plugin"})
_ELLIPSES = frozenset({"Steps", "DAG", "Retry"})
_GROUPS = frozenset({"StepGroup", "TaskGroup"})
_TOOLTIP_MESSAGE_MAX = 1000

_GRAPH_ATTRS = {
    "rankdir": "TB",
    "bgcolor": "transparent",
    "nodesep": "0.25",
    "ranksep": "0.35",
}
_NODE_ATTRS = {"fontname": "Helvetica", "fontsize": "11", "penwidth": "1", "color": "#555555"}
_EDGE_ATTRS = {"color": "#777777", "arrowsize": "0.6"}

_ID_SAFE = re.compile(r"[A-Za-z0-9.:-]")
_CLASS_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Characters a URL may keep as they are; the rest is percent-encoded (quotes, <, >, spaces,
# backslashes, non-ASCII), so no href can leave its attribute.
_URL_SAFE = "-._~:/?#[]@!$'()*+,;=%&"


class GraphError(Exception):
    """The graph could not be drawn (``dot`` missing, failing or too slow)."""


def element_id(node_id: str) -> str:
    """The SVG id of a graph node: ``node-`` and the id, every character outside
    ``[A-Za-z0-9.:-]`` written ``_XX`` per UTF-8 byte (Argo's ids never need it)."""
    return "node-" + _encoded(node_id)


def _encoded(text: str) -> str:
    out = []
    for char in text:
        if _ID_SAFE.fullmatch(char):
            out.append(char)
        else:
            out += (f"_{b:02x}" for b in char.encode("utf-8", "surrogatepass"))
    return "".join(out)


def to_dot(graph: Graph, *, href: Callable[[str], str] | None = None) -> str:
    """The DOT text of ``graph``; ``href(node id)`` gives each node's link ("" for none)."""
    dot = graphviz.Digraph(
        # The graph's name (the SVG's <title>) is not an escString: encoded like the ids.
        name=graphviz.escape(_encoded(graph.name or "workflow")),
        graph_attr=_GRAPH_ATTRS,
        node_attr=_NODE_ATTRS,
        edge_attr=_EDGE_ATTRS,
    )
    names = {n.id: f"n{k}" for k, n in enumerate(graph.nodes)}
    for node in graph.nodes:
        attrs = _node_attrs(node)
        link = href(node.id) if href is not None else ""
        if link:
            attrs["href"] = graphviz.escape(_url(link))
        dot.node(names[node.id], **attrs)
    for edge in graph.edges:
        if edge.tail in names and edge.head in names:
            dashed = {"style": "dashed", "class": "hook"} if edge.dashed else {}
            dot.edge(names[edge.tail], names[edge.head], **dashed)
    return str(dot.source)


def to_svg(dot_source: str, *, timeout: float = 60.0, program: str = "dot") -> str:
    """``dot_source`` drawn by Graphviz's ``dot -Tsvg``, killed after ``timeout`` seconds."""
    path = shutil.which(program)
    if path is None:
        raise GraphError(
            f"cannot draw the graph as SVG: Graphviz's {program!r} is not installed "
            "(apt-get install graphviz, dnf install graphviz or brew install graphviz)"
        )
    try:
        done = subprocess.run(
            [path, "-Tsvg"],
            input=dot_source.encode("utf-8", "replace"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise GraphError(
            f"Graphviz's dot ({path}) did not draw the graph within {timeout:g} s and was "
            "stopped; the graph may be too big (write it with -o dot instead)"
        ) from exc
    except OSError as exc:
        raise GraphError(f"cannot run Graphviz's dot ({path}): {exc}") from exc
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise GraphError(
            f"Graphviz's dot ({path}) failed with exit code {done.returncode}: "
            + (" / ".join(said) or "no message")
        )
    return done.stdout.decode("utf-8", "replace")


# --- Node attributes ------------------------------------------------------------------------


def _node_attrs(node: GraphNode) -> dict[str, str]:
    fill = PHASE_COLOURS.get(node.phase, _NEUTRAL)
    style = "dashed,filled" if node.phase in _PASSED_OVER else "filled"
    attrs = {
        "id": graphviz.escape(element_id(node.id)),
        "class": graphviz.escape(f"phase-{_class(node.phase)} kind-{_class(node.kind)}"),
        "tooltip": _tooltip(node),
        "fillcolor": fill,
    }
    if node.kind == FOLDED_KIND:
        attrs.update(shape="box3d", style=style, label=_lines(node.label, node.message))
    elif node.kind in _GROUPS:
        attrs.update(
            shape="circle", style=style, label="", width="0.18", height="0.18", fixedsize="true"
        )
    elif node.kind in _ELLIPSES:
        attrs.update(shape="ellipse", style=style, label=_lines(node.label))
    else:
        timed = node.kind in _WITH_DURATION and node.duration
        label = _lines(node.label, f"({node.duration})") if timed else _lines(node.label)
        attrs.update(shape="box", style=f"rounded,{style}", label=label)
    return attrs


def _class(token: str) -> str:
    return _CLASS_UNSAFE.sub("_", token) or "Unknown"


def _clean(text: str, *, newlines: bool = False) -> str:
    """Text XML can carry: lone surrogates replaced, tabs as spaces (an XML attribute would
    turn them into spaces anyway), other control characters dropped, newlines kept only where
    asked (a label is one line per part)."""
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\t", " ")
    if not newlines:
        text = text.replace("\r\n", " ").replace("\n", " ")
    return _CONTROL.sub("", text.replace("\r", ""))


def _label_text(text: str) -> str:
    return cast(str, graphviz.escape(_clean(text).replace("&", "&amp;")))


def _lines(*parts: str) -> str:
    """A label of one line per non-empty part (``\\n`` is DOT's centred line break)."""
    return cast(str, graphviz.nohtml("\\n".join(_label_text(p) for p in parts if p)))


def _tooltip(node: GraphNode) -> str:
    """Name, template, phase, duration and message, one per line. Graphviz (2.42/2.43)
    expands escapes in tooltips twice, so the text is escaped twice to arrive literal."""
    message = node.message
    if len(message) > _TOOLTIP_MESSAGE_MAX:
        message = message[:_TOOLTIP_MESSAGE_MAX] + "..."
    lines = [node.label]
    if node.template:
        lines.append(f"template: {node.template}")
    lines.append(f"phase: {node.phase}")
    if node.duration:
        lines.append(f"duration: {node.duration}")
    if message:
        lines.append(message)
    text = _clean("\n".join(lines), newlines=True).replace("&", "&amp;")
    return cast(str, graphviz.escape(graphviz.escape(text)))


def _url(link: str) -> str:
    """``link`` with every character that could leave an XML attribute percent-encoded and
    ``&`` written ``&amp;`` (Graphviz 2.42 copies hrefs into the SVG unescaped)."""
    return quote(link, safe=_URL_SAFE, errors="backslashreplace").replace("&", "&amp;")
