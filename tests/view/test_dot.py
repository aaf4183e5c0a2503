"""The run graph as DOT, drawn to SVG by the real Graphviz ``dot``: ids, classes, shapes,
links, and status texts that come out as literal text whatever they hold."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import quote

import pytest

from argoexec.view.dot import GraphError, element_id, to_dot, to_svg
from argoexec.view.graph import Graph, GraphEdge, GraphNode
from tests.servers.procs import require_binary

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"

HOSTILE = [
    r"a\lb\Nc\G\E\T\H\n",
    "<b>html</b>",
    "q\"uote\\\" and 'single'",
    "new\nline\r\tand\x01control",
    "<script>alert(1)</script>",
    "&amp; &lt;x&gt; &#92;N &#x5c;",
    "end\\",
    "lone \ud800 surrogate",
    "]]> --> <!-- <?xml?>",
]


@pytest.fixture(autouse=True)
def dot_installed() -> None:
    require_binary("dot")


def pod(node_id: str, label: str, phase: str = "Succeeded", **fields: str) -> GraphNode:
    values = {"template": "say", "duration": "3s", "message": "", **fields}
    return GraphNode(node_id, label, "Pod", phase, **values)  # type: ignore[arg-type]


def sample() -> Graph:
    nodes = (
        GraphNode("wf", "wf", "Steps", "Failed", "main", "1m", "child failed"),
        GraphNode("wf-1", "[0]", "StepGroup", "Failed", "", "1m", ""),
        pod("wf-2", "x(0)", "Failed", message="main: Error (exit code 1)"),
        GraphNode(
            "fold:wf-1",
            "3 more",
            "Folded",
            "Failed",
            "say",
            "",
            "1 Failed, 2 Succeeded",
            ("wf-3", "wf-4", "wf-5"),
        ),
        GraphNode("wf-6", "skip", "Skipped", "Skipped", "", "", ""),
        pod("wf-7", "wf.onExit", "Running"),
    )
    edges = (
        GraphEdge("wf", "wf-1"),
        GraphEdge("wf-1", "wf-2"),
        GraphEdge("wf-1", "fold:wf-1"),
        GraphEdge("wf-2", "wf-6"),
        GraphEdge("wf-6", "wf-7", dashed=True),
    )
    return Graph("wf", "Failed", nodes, edges)


def svg_of(graph: Graph, **kwargs: object) -> ET.Element:
    return ET.fromstring(to_svg(to_dot(graph, **kwargs)))  # type: ignore[arg-type]


def group(svg: ET.Element, node_id: str) -> ET.Element:
    found = [g for g in svg.iter(f"{SVG}g") if g.get("id") == element_id(node_id)]
    assert len(found) == 1, f"{len(found)} <g> elements for {node_id}"
    return found[0]


def texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{SVG}text")]


def tooltip(element: ET.Element) -> str:
    links = list(element.iter(f"{SVG}a"))
    assert len(links) == 1
    return links[0].get(f"{XLINK}title") or ""


# --- Structure ------------------------------------------------------------------------------


def test_each_node_is_a_group_with_its_id_and_phase_and_kind_classes() -> None:
    svg = svg_of(sample())
    for node in sample().nodes:
        classes = (group(svg, node.id).get("class") or "").split()
        assert classes == ["node", f"phase-{node.phase}", f"kind-{node.kind}"]
    assert element_id("fold:wf-1") == "node-fold:wf-1"


def test_pods_are_rounded_boxes_with_their_duration_and_groups_are_unlabelled_dots() -> None:
    source = to_dot(sample())
    line = next(li for li in source.splitlines() if 'id="node-wf-2"' in li)
    assert 'shape=box style="rounded,filled"' in line and 'label="x(0)\\n(3s)"' in line
    assert 'fillcolor="#f5b7b1"' in line
    group_line = next(li for li in source.splitlines() if 'id="node-wf-1"' in li)
    assert 'label=""' in group_line and "shape=circle" in group_line
    steps_line = next(li for li in source.splitlines() if 'id="node-wf"' in li)
    assert "shape=ellipse" in steps_line and "rankdir=TB" in source
    skipped = next(li for li in source.splitlines() if 'id="node-wf-6"' in li)
    assert 'style="rounded,dashed,filled"' in skipped
    svg = svg_of(sample())
    assert texts(group(svg, "wf-2")) == ["x(0)", "(3s)"]
    assert texts(group(svg, "wf-1")) == []
    assert tooltip(group(svg, "wf-1")) == "[0]\nphase: Failed\nduration: 1m"


def test_a_fold_is_a_3d_box_saying_how_many_it_stands_for_by_phase() -> None:
    svg = svg_of(sample())
    fold = group(svg, "fold:wf-1")
    assert texts(fold) == ["3 more", "1 Failed, 2 Succeeded"]
    assert len(list(fold.iter(f"{SVG}polyline"))) == 3  # box3d: the box's edges in depth


def test_the_tooltip_says_name_template_phase_duration_and_message() -> None:
    svg = svg_of(sample())
    assert tooltip(group(svg, "wf-2")) == (
        "x(0)\ntemplate: say\nphase: Failed\nduration: 3s\nmain: Error (exit code 1)"
    )


def test_edges_to_exit_handlers_and_hooks_are_dashed_with_the_hook_class() -> None:
    source = to_dot(sample())
    assert source.count("style=dashed") == 1
    svg = svg_of(sample())
    classes = [g.get("class") for g in svg.iter(f"{SVG}g") if "edge" in (g.get("class") or "")]
    assert sorted(classes) == ["edge", "edge", "edge", "edge", "edge hook"]
    hook = next(g for g in svg.iter(f"{SVG}g") if g.get("class") == "edge hook")
    assert 'stroke-dasharray="5,2"' in ET.tostring(hook, encoding="unicode")


def test_links_come_from_href_and_cannot_leave_their_attribute() -> None:
    def href(node_id: str) -> str:
        return "" if node_id == "wf" else f'/w/wf?node={node_id}&x="<b>"\\N'

    text = to_svg(to_dot(sample(), href=href))
    svg = ET.fromstring(text)
    link = next(group(svg, "wf-2").iter(f"{SVG}a"))
    assert link.get(f"{XLINK}href") == "/w/wf?node=wf-2&x=%22%3Cb%3E%22%5CN"
    assert next(group(svg, "wf").iter(f"{SVG}a")).get(f"{XLINK}href") is None


def test_the_same_graph_gives_the_same_dot_text() -> None:
    assert to_dot(sample()) == to_dot(sample())


# --- Hostile texts --------------------------------------------------------------------------


def shown(text: str, *, tooltip: bool = False) -> str:
    """What a literal rendering of ``text`` looks like: surrogates replaced, control
    characters dropped, and in a label line breaks and tabs as spaces."""
    text = text.encode("utf-8", "replace").decode("utf-8").replace("\t", " ")
    if not tooltip:
        text = text.replace("\n", " ")
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", text.replace("\r", ""))


@pytest.mark.parametrize("text", HOSTILE)
def test_status_texts_come_out_as_literal_text_and_never_as_markup(text: str) -> None:
    graph = Graph(
        text,
        "Failed",
        (
            GraphNode(text, text, "Pod", "Failed", text, "1s", text),
            GraphNode("ok", "[0]", text, text, "", "", ""),
        ),
        (GraphEdge(text, "ok"),),
    )
    raw = to_svg(to_dot(graph, href=lambda i: f"/n/{i}"))
    svg = ET.fromstring(raw)  # well-formed XML, whatever the texts
    node = group(svg, text)
    assert texts(node) == [shown(text), "(1s)"]
    expected_tip = f"{text}\ntemplate: {text}\nphase: Failed\nduration: 1s\n{text}"
    assert tooltip(node) == shown(expected_tip, tooltip=True)
    tags = {el.tag.removeprefix(SVG) for el in svg.iter()}
    assert tags <= {"svg", "g", "title", "polygon", "polyline", "path", "ellipse", "text", "a"}
    assert "<script" not in raw and "<b>" not in raw
    assert svg.findtext(f"{SVG}g/{SVG}title") == element_id(text).removeprefix("node-")
    assert re.fullmatch(r"node phase-[\w-]+ kind-[\w-]+", group(svg, "ok").get("class") or "")
    assert next(node.iter(f"{SVG}a")).get(f"{XLINK}href") == "/n/" + quote(
        text, safe="-._~:/?#[]@!$'()*+,;=%&", errors="backslashreplace"
    )


def test_element_ids_keep_argo_ids_and_encode_anything_else_one_to_one() -> None:
    assert element_id("wf-abc-123.x") == "node-wf-abc-123.x"
    odd = ["a b", "a_20b", "a_b", 'x"<>', "é", "\ud800", "fold:a/b"]
    encoded = [element_id(i) for i in odd]
    assert len(set(encoded)) == len(odd)
    assert all(re.fullmatch(r"node-[A-Za-z0-9_.:-]+", e) for e in encoded)


# --- Running dot ----------------------------------------------------------------------------


def test_without_dot_the_error_says_how_to_install_it() -> None:
    with pytest.raises(GraphError, match=r"'no-such-dot' is not installed \(apt-get install"):
        to_svg("digraph {}", program="no-such-dot")


def test_dot_refusing_the_source_is_an_error_with_its_message() -> None:
    with pytest.raises(GraphError, match=r"failed with exit code 1: .*syntax error"):
        to_svg("digraph { a -> }")


def test_dot_taking_longer_than_the_timeout_is_stopped(tmp_path: Path) -> None:
    big = "digraph {" + " ".join(f"n{i} -> n{(i * 7 + 3) % 3000};" for i in range(3000)) + "}"
    with pytest.raises(GraphError, match=r"within 0.05 s and was stopped"):
        to_svg(big, timeout=0.05)
