"""The run graph of a Workflow: status nodes, children edges, exit handlers and hooks, folding."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from argoexec.view.graph import Graph, GraphNode, workflow_graph
from tests.controller.test_examples import Run

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: int) -> str:
    return f"2024-05-01T11:{seconds // 60:02d}:{seconds % 60:02d}Z"


def node(
    node_id: str,
    kind: str,
    phase: str = "Succeeded",
    children: list[str] | None = None,
    *,
    name: str | None = None,
    display: str | None = None,
    started: int | None = 0,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": node_id,
        "name": name or node_id,
        "displayName": display or node_id,
        "type": kind,
        "phase": phase,
        **extra,
    }
    if started is not None:
        out["startedAt"] = at(started)
    if children:
        out["children"] = children
    return out


def workflow(name: str, *nodes: dict[str, Any], phase: str = "Succeeded") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "status": {"phase": phase, "nodes": {n["id"]: n for n in nodes}},
    }


def edges(graph: Graph) -> set[tuple[str, str]]:
    return {(e.tail, e.head) for e in graph.edges}


def dashed(graph: Graph) -> set[tuple[str, str]]:
    return {(e.tail, e.head) for e in graph.edges if e.dashed}


def by_id(graph: Graph) -> dict[str, GraphNode]:
    return {n.id: n for n in graph.nodes}


def loop(count: int, phases: dict[int, str], *, fold_over: int = 10, keep: int = 5) -> Graph:
    """Steps ``wf``: group g0 with ``count`` loop items p0.. (``phases`` by index, else
    Succeeded), each leading to group g1 and its one step ``z``."""
    items = [f"p{i}" for i in range(count)]
    nodes = [
        node("wf", "Steps", children=["g0"]),
        node("g0", "StepGroup", children=items, display="[0]"),
        *(
            node(p, "Pod", phases.get(i, "Succeeded"), ["g1"], display=f"x({i})", started=i % 60)
            for i, p in enumerate(items)
        ),
        node("g1", "StepGroup", children=["z"], display="[1]", started=61),
        node("z", "Pod", display="z", started=61),
    ]
    return workflow_graph(workflow("wf", *nodes), now=NOW, fold_over=fold_over, keep=keep)


# --- Shapes ---------------------------------------------------------------------------------


def test_steps_go_from_the_steps_node_through_each_group_to_the_next() -> None:
    wf = workflow(
        "wf",
        node("wf", "Steps", children=["g0"], templateName="main"),
        node("g0", "StepGroup", children=["a"], display="[0]"),
        node("a", "Pod", children=["g1"], templateName="say"),
        node("g1", "StepGroup", children=["b", "c"], display="[1]", started=5),
        node("b", "Pod", started=5),
        node("c", "Pod", "Failed", started=5, message="main: Error (exit code 1)"),
    )
    graph = workflow_graph(wf, now=NOW)
    assert edges(graph) == {
        ("wf", "g0"), ("g0", "a"), ("a", "g1"), ("g1", "b"), ("g1", "c"),
    }  # fmt: skip
    assert not dashed(graph)
    assert (graph.name, graph.phase) == ("wf", "Succeeded")
    nodes = by_id(graph)
    assert nodes["wf"] == GraphNode("wf", "wf", "Steps", "Succeeded", "main", "1h", "")
    assert nodes["c"].message == "main: Error (exit code 1)"
    assert nodes["g1"].label == "[1]" and nodes["g1"].kind == "StepGroup"
    assert [n.id for n in graph.nodes][:3] == ["wf", "g0", "a"]


def test_a_dag_goes_from_the_dag_node_to_its_root_tasks_and_on_to_their_dependants() -> None:
    wf = workflow(
        "d",
        node("d", "DAG", children=["A"]),
        node("A", "Pod", children=["B", "C"]),
        node("B", "Pod", children=["D"], started=3),
        node("C", "Pod", children=["D"], started=3),
        node("D", "Pod", started=7),
    )
    graph = workflow_graph(wf, now=NOW)
    assert edges(graph) == {("d", "A"), ("A", "B"), ("A", "C"), ("B", "D"), ("C", "D")}
    assert [n.id for n in graph.nodes] == ["d", "A", "B", "C", "D"]


def test_a_retry_node_leads_to_each_of_its_attempts() -> None:
    wf = workflow(
        "r",
        node("r", "Steps", children=["g"]),
        node("g", "StepGroup", children=["t"]),
        node("t", "Retry", children=["t0", "t1"]),
        node("t0", "Pod", "Failed", display="t(0)"),
        node("t1", "Pod", display="t(1)", started=4),
    )
    graph = workflow_graph(wf, now=NOW)
    assert {("t", "t0"), ("t", "t1")} <= edges(graph)
    assert by_id(graph)["t"].kind == "Retry"


def test_durations_run_to_the_finish_or_to_now_and_are_empty_before_the_start() -> None:
    wf = workflow(
        "w",
        node("w", "DAG", "Running", ["a", "b", "c"], started=0),
        node("a", "Pod", finishedAt=at(75)),
        node("b", "Pod", "Running", started=3540),
        node("c", "Pod", "Pending", started=None),
    )
    nodes = by_id(workflow_graph(wf, now=NOW))
    assert (nodes["a"].duration, nodes["b"].duration, nodes["c"].duration) == ("1m15s", "1m", "")
    assert nodes["c"].phase == "Pending" and nodes["w"].duration == "1h"


def test_a_node_without_a_phase_is_pending_and_a_template_ref_names_its_template() -> None:
    raw = node("w", "Pod", templateRef={"name": "lib", "template": "greet"})
    del raw["phase"]
    graph = workflow_graph(workflow("w", raw), now=NOW)
    assert (graph.nodes[0].phase, graph.nodes[0].template) == ("Pending", "greet")


# --- Exit handlers and hooks ----------------------------------------------------------------


def test_the_exit_handler_hangs_dashed_off_the_workflows_outbound_pods() -> None:
    """As Argo's UI: a Pod or Skipped outbound node itself, else its own outbound nodes."""
    wf = workflow(
        "w",
        node("w", "DAG", children=["a"], outboundNodes=["inner", "s"]),
        node("a", "Pod", children=["inner", "s"]),
        node("inner", "Steps", children=["g"], outboundNodes=["leaf"]),
        node("g", "StepGroup", children=["leaf"]),
        node("leaf", "Pod"),
        node("s", "Skipped", "Skipped"),
        node("x", "Pod", name="w.onExit", display="w.onExit", started=9),
    )
    graph = workflow_graph(wf, now=NOW)
    assert dashed(graph) == {("leaf", "x"), ("s", "x")}
    assert [n.id for n in graph.nodes][:2] == ["w", "x"]


def test_an_exit_handler_before_any_outbound_node_hangs_off_the_root() -> None:
    wf = workflow(
        "w",
        node("w", "Steps", "Failed"),
        node("x", "Steps", children=["xg"], name="w.onExit"),
        node("xg", "StepGroup", children=["xp"]),
        node("xp", "Pod"),
    )
    graph = workflow_graph(wf, now=NOW)
    assert dashed(graph) == {("w", "x")}
    assert {("x", "xg"), ("xg", "xp")} <= edges(graph)


def test_a_steps_exit_handler_and_hooks_and_the_workflows_hooks_are_dashed() -> None:
    wf = workflow(
        "w",
        node("w", "Steps", children=["g", "wh"]),
        node("g", "StepGroup", children=["s"], name="w[0]"),
        node("s", "Pod", children=["sx", "sh", "g1"], name="w[0].s"),
        node("sx", "Pod", name="w[0].s.onExit"),
        node("sh", "Pod", name="w[0].s.hooks.running"),
        node("g1", "StepGroup", name="w[1]"),
        node("wh", "Pod", name="w.hooks.running"),
    )
    graph = workflow_graph(wf, now=NOW)
    assert dashed(graph) == {("s", "sx"), ("s", "sh"), ("w", "wh")}
    assert ("s", "g1") in edges(graph) - dashed(graph)


# --- Folding --------------------------------------------------------------------------------


def test_a_big_loop_keeps_failed_then_running_items_and_folds_the_rest() -> None:
    graph = loop(30, {20: "Failed", 25: "Error", 3: "Running"})
    nodes = by_id(graph)
    kept = [n.id for n in graph.nodes if n.id.startswith("p")]
    assert sorted(kept, key=lambda i: int(i[1:])) == ["p0", "p1", "p3", "p20", "p25"]
    fold = nodes["fold:g0"]
    assert (fold.kind, fold.label, fold.phase) == ("Folded", "25 more", "Succeeded")
    assert fold.message == "25 Succeeded"
    assert len(fold.folded) == 25 and "p2" in fold.folded and "p20" not in fold.folded
    # The next group is still reached, through the kept items and the fold, once each.
    assert {("g0", "fold:g0"), ("fold:g0", "g1"), ("p20", "g1"), ("g1", "z")} <= edges(graph)
    assert len(graph.edges) == len(edges(graph))
    assert {"g1", "z"} <= set(nodes)


def test_a_fold_shows_the_worst_phase_it_stands_for_and_counts_them_by_phase() -> None:
    graph = loop(12, {1: "Failed", 4: "Failed", 8: "Failed", 9: "Running"}, keep=2)
    fold = by_id(graph)["fold:g0"]
    assert {n.id for n in graph.nodes if n.id.startswith("p")} == {"p1", "p4"}
    assert (fold.label, fold.phase) == ("10 more", "Failed")
    assert fold.message == "1 Failed, 1 Running, 8 Succeeded"


def test_up_to_fold_over_children_nothing_is_folded() -> None:
    graph = loop(10, {})
    assert not [n for n in graph.nodes if n.kind == "Folded"]
    assert len([n for n in graph.nodes if n.id.startswith("p")]) == 10


def test_nodes_reachable_only_through_folded_ones_hide_behind_the_fold() -> None:
    items = [f"i{k}" for k in range(4)]
    nodes = [
        node("w", "Steps", children=["g0"]),
        node("g0", "StepGroup", children=items),
        *(node(i, "Steps", children=[f"{i}g"], display=f"i({k})") for k, i in enumerate(items)),
        *(node(f"{i}g", "StepGroup", children=[f"{i}p"]) for i in items),
        *(node(f"{i}p", "Pod", "Failed" if i == "i3" else "Succeeded") for i in items),
    ]
    graph = workflow_graph(workflow("w", *nodes), now=NOW, fold_over=2, keep=1)
    fold = by_id(graph)["fold:g0"]
    assert fold.folded == ("i1", "i2", "i3", "i1g", "i2g", "i3g", "i1p", "i2p", "i3p")
    assert (fold.label, fold.phase, fold.message) == ("3 more", "Failed", "3 Succeeded")
    assert {n.id for n in graph.nodes} == {"w", "g0", "i0", "i0g", "i0p", "fold:g0"}
    assert edges(graph) == {
        ("w", "g0"), ("g0", "i0"), ("g0", "fold:g0"), ("i0", "i0g"), ("i0g", "i0p"),
    }  # fmt: skip


def test_a_child_folded_by_one_parent_and_shown_by_another_stays_visible() -> None:
    items = [f"p{k}" for k in range(5)]
    wf = workflow(
        "w",
        node("w", "DAG", children=["big", "small"]),
        node("big", "Pod", children=items),
        node("small", "Pod", children=["p4"]),
        *(node(p, "Pod", started=k + 1) for k, p in enumerate(items)),
    )
    graph = workflow_graph(wf, now=NOW, fold_over=3, keep=1)
    fold = by_id(graph)["fold:big"]
    assert fold.folded == ("p1", "p2", "p3") and fold.label == "3 more"
    assert {("big", "p4"), ("small", "p4")} <= edges(graph)


def test_a_loop_of_ten_thousand_items_is_folded_to_a_few_nodes() -> None:
    failed = {k: "Failed" for k in range(7, 10_000, 1000)}
    graph = loop(10_000, failed)
    fold = by_id(graph)["fold:g0"]
    assert len(graph.nodes) == 10 and len(fold.folded) == 9_995
    assert fold.message == "5 Failed, 9990 Succeeded" and fold.phase == "Failed"
    kept = {n.id for n in graph.nodes if n.id.startswith("p")}
    assert kept == {f"p{k}" for k in list(failed)[:5]}


# --- Order and bad input --------------------------------------------------------------------


def test_the_graph_is_the_same_whatever_the_order_of_the_status_nodes() -> None:
    wf = workflow(
        "w",
        node("w", "Steps", children=["g0"]),
        node("g0", "StepGroup", children=["b", "a", "c"]),
        node("a", "Pod", children=["g1"], display="x(2:a)"),
        node("b", "Pod", children=["g1"], display="x(10:b)"),
        node("c", "Pod", children=["g1"], display="x(1:c)"),
        node("g1", "StepGroup", started=4),
        node("x", "Pod", name="w.onExit"),
    )
    first = workflow_graph(wf, now=NOW)
    shuffled = list(wf["status"]["nodes"].items())
    random.Random(4).shuffle(shuffled)
    wf["status"]["nodes"] = dict(shuffled)
    assert workflow_graph(wf, now=NOW) == first
    assert [n.id for n in first.nodes] == ["w", "x", "g0", "c", "a", "b", "g1"]


@pytest.mark.parametrize(
    "status",
    [
        None,
        {},
        {"nodes": None},
        {"nodes": []},
        {"nodes": {"w": "not a node", "v": None}},
        {"phase": 3, "nodes": {"w": {"type": "Steps", "children": "g0"}}},
    ],
)
def test_a_status_without_readable_nodes_gives_an_empty_or_bare_graph(status: Any) -> None:
    graph = workflow_graph({"metadata": {"name": "w"}, "status": status}, now=NOW)
    assert graph.edges == ()
    assert [n.id for n in graph.nodes] in ([], ["w"])


def test_missing_children_cycles_and_strange_values_are_skipped_not_raised() -> None:
    wf = workflow(
        "w",
        node("w", "Steps", children=["g", "ghost", 7, None, {"x": 1}, "g"], displayName=None),
        node("g", "StepGroup", children=["a"], started=None, startedAt="yesterday", phase=None),
        node("a", "Pod", children=["g", "a"], displayName=["a"], message=5, templateRef="x"),
        node("c1", "Pod", children=["c2"], name=None, type=None),
        node("c2", "Pod", children=["c1"], finishedAt=12),
        node("x", "Pod", name="w.onExit", outboundNodes="a"),
    )
    wf["status"]["nodes"]["w"]["outboundNodes"] = ["w", "nothing", "a"]
    graph = workflow_graph(wf, now=NOW)
    assert {n.id for n in graph.nodes} == {"w", "g", "a", "c1", "c2", "x"}
    assert {("w", "g"), ("g", "a"), ("a", "g"), ("c1", "c2"), ("c2", "c1")} <= edges(graph)
    assert ("a", "a") not in edges(graph) and dashed(graph) == {("a", "x")}
    nodes = by_id(graph)
    assert (nodes["g"].phase, nodes["g"].duration, nodes["c1"].kind) == ("Pending", "", "Unknown")
    assert nodes["a"].message == "5"


def test_a_workflow_without_metadata_still_draws_its_nodes() -> None:
    graph = workflow_graph({"status": {"nodes": {"a": node("a", "Pod")}}}, now=NOW)
    assert (graph.name, graph.phase, [n.id for n in graph.nodes]) == ("", "Pending", ["a"])


# --- Real runs ------------------------------------------------------------------------------


def real_graph(example: Callable[[str], Run], stem: str, **folding: int) -> tuple[Run, Graph]:
    run = example(stem)
    return run, workflow_graph(run.workflow, **folding)


def ids_named(run: Run, *names: str) -> list[str]:
    """The ids of the nodes with these names (``WF`` standing for the workflow's name)."""
    out = []
    for name in names:
        found = run.node(name)
        assert found is not None, f"{run.name} has no node {name}"
        out.append(str(found["id"]))
    return out


@pytest.mark.slow
def test_a_real_steps_run_draws_each_group_between_its_steps(example: Any) -> None:
    run, graph = real_graph(example, "steps")
    root = run.name
    g0, prepare, g1, left, right, g2, finish = ids_named(
        run, "WF[0]", "WF[0].prepare", "WF[1]", "WF[1].left", "WF[1].right", "WF[2]",
        "WF[2].finish",
    )  # fmt: skip
    assert edges(graph) == {
        (root, g0), (g0, prepare), (prepare, g1), (g1, left), (g1, right),
        (left, g2), (right, g2), (g2, finish),
    }  # fmt: skip
    assert len(graph.nodes) == len(run.nodes)


@pytest.mark.slow
def test_a_real_dag_diamond_draws_the_dependencies(example: Any) -> None:
    run, graph = real_graph(example, "dag-diamond")
    a, b, c, d = ids_named(run, "WF.A", "WF.B", "WF.C", "WF.D")
    assert edges(graph) == {(run.name, a), (a, b), (a, c), (b, d), (c, d)}


@pytest.mark.slow
def test_a_real_loop_folds_its_items_and_still_reaches_the_next_group(example: Any) -> None:
    run, graph = real_graph(example, "loops-items", fold_over=1, keep=1)
    g0, first, g1 = ids_named(run, "WF[0]", "WF[0].fruit(0:apple)", "WF[1]")
    fold = f"fold:{g0}"
    assert by_id(graph)[fold].label == "2 more"
    assert {(g0, first), (g0, fold), (first, g1), (fold, g1)} <= edges(graph)
    assert by_id(graph)[f"fold:{g1}"].label == "1 more"


@pytest.mark.slow
def test_a_real_retry_draws_its_attempts(example: Any) -> None:
    run, graph = real_graph(example, "retry-backoff")
    retry, *attempts = ids_named(
        run, "WF[0].flaky", "WF[0].flaky(0)", "WF[0].flaky(1)", "WF[0].flaky(2)"
    )
    assert {(retry, a) for a in attempts} <= edges(graph)
    assert [by_id(graph)[a].phase for a in attempts] == ["Failed", "Failed", "Succeeded"]


@pytest.mark.slow
def test_a_real_exit_handler_hangs_dashed_off_the_last_step(example: Any) -> None:
    run, graph = real_graph(example, "exit-handler")
    hello, hello_exit, boom, exit_handler = ids_named(
        run, "WF[0].hello", "WF[0].hello.onExit", "WF[1].boom", "WF.onExit"
    )
    assert dashed(graph) == {(hello, hello_exit), (boom, exit_handler)}


@pytest.mark.slow
def test_real_lifecycle_hooks_are_dashed(example: Any) -> None:
    run, graph = real_graph(example, "life-cycle-hooks-tmpl-level")
    step, running, success = ids_named(
        run, "WF[0].step-1", "WF[0].step-1.hooks.running", "WF[0].step-1.hooks.success"
    )
    assert {(step, running), (step, success)} <= dashed(graph)
    run, graph = real_graph(example, "life-cycle-hooks-wf-level")
    (hook, step1, on_exit) = ids_named(run, "WF.hooks.running", "WF[0].step1", "WF.onExit")
    assert dashed(graph) == {(run.name, hook), (step1, on_exit)}


@pytest.mark.slow
def test_a_real_recursive_coinflip_draws_every_node_it_ran(example: Any) -> None:
    run, graph = real_graph(example, "coinflip-recursive")
    assert {n.id for n in graph.nodes} == set(run.nodes)
    heads = [n for n in graph.nodes if n.phase == "Succeeded" and n.label == "heads"]
    assert len(heads) == 1 and not dashed(graph)
    assert {head for _, head in edges(graph)} == set(run.nodes) - {run.name}
