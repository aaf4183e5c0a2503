"""What the web view costs on big runs: the graph, and the list.

    python -m bench.view [--items 100,1000,10000] [--runs 200] [--repeat 3]

``graph``: a loop of N items (one in 30 failed) under a steps template, drawn as the run page
draws it — ``workflow_graph`` + ``to_dot`` + Graphviz's ``dot -Tsvg`` — folded (the default)
and, as the baseline, unfolded (every item drawn; skipped above 2,000 items, where ``dot``
takes minutes). Seconds (median of ``--repeat``), drawn nodes, SVG bytes, and the ratio.

``list``: ``/api/v1/workflows`` over ``--runs`` finished runs of 1,000 nodes each: the first
answer (every Workflow read) is the baseline of the next ones (each run's Workflow re-read
only when it changed, without its nodes).

Prints one JSON object; ``peak_rss_mib`` is this process's (the view's) peak.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from argoexec.controller.state import StateStore
from argoexec.view.dot import to_dot, to_svg
from argoexec.view.graph import FOLD_OVER, workflow_graph
from argoexec.view.web.app import create_app
from argoexec.view.web.runs import StateDirRuns
from argoexec.view.web.security import Guard

UNFOLDED_MAX = 2000
NEVER_FOLD = 1 << 30


def loop_workflow(name: str, items: int) -> dict[str, Any]:
    """A finished steps workflow: one step group holding `items` pods (every 30th Failed)."""
    nodes: dict[str, Any] = {}
    group = f"{name}-g0"
    pods = [f"{name}-p{i}" for i in range(items)]
    times = {"startedAt": "2026-12-07T10:00:00Z", "finishedAt": "2026-12-07T10:01:00Z"}
    nodes[name] = {"id": name, "name": name, "displayName": name, "type": "Steps",
                   "phase": "Failed", "children": [group], **times}  # fmt: skip
    nodes[group] = {"id": group, "name": f"{name}[0]", "displayName": "[0]", "type": "StepGroup",
                    "phase": "Failed", "boundaryID": name, "children": pods, **times}  # fmt: skip
    for i, pod in enumerate(pods):
        nodes[pod] = {"id": pod, "name": f"{name}[0].item({i})", "displayName": f"item({i})",
                      "type": "Pod", "templateName": "work", "boundaryID": name,
                      "phase": "Failed" if i % 30 == 29 else "Succeeded", **times}  # fmt: skip
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"entrypoint": "main"},
        "status": {"phase": "Failed", "progress": f"{items}/{items}", "nodes": nodes, **times},
    }


def draw(workflow: dict[str, Any], fold_over: int | None) -> tuple[float, int, int]:
    started = time.perf_counter()
    graph = workflow_graph(workflow, fold_over=FOLD_OVER if fold_over is None else fold_over)
    svg = to_svg(to_dot(graph, href=lambda node: f"#node={node}"), timeout=600)
    return time.perf_counter() - started, len(graph.nodes), len(svg)


def bench_graph(items: list[int], repeat: int) -> list[dict[str, Any]]:
    rows = []
    for count in items:
        workflow = loop_workflow("loop", count)
        folded = [draw(workflow, None) for _ in range(repeat)]
        row: dict[str, Any] = {
            "items": count,
            "folded_s": round(median(t for t, _, _ in folded), 4),
            "folded_nodes": folded[0][1],
            "folded_svg_bytes": folded[0][2],
        }
        if count <= UNFOLDED_MAX:
            unfolded = [draw(workflow, NEVER_FOLD) for _ in range(repeat)]
            row["unfolded_s"] = round(median(t for t, _, _ in unfolded), 4)
            row["unfolded_nodes"] = unfolded[0][1]
            row["unfolded_svg_bytes"] = unfolded[0][2]
            row["unfolded_over_folded"] = round(row["unfolded_s"] / row["folded_s"], 1)
        rows.append(row)
    return rows


def bench_list(runs: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-view-") as tmp:
        root = Path(tmp)
        store = StateStore(root)
        for i in range(runs):
            name = f"run-{i}"
            store.create(name, workflow=loop_workflow(name, 1000))
        client = create_app(StateDirRuns(root), Guard.listening_on("127.0.0.1", 80, None),
                            root=root, environ={}).test_client()  # fmt: skip

        def answer() -> float:
            started = time.perf_counter()
            got = client.get("/api/v1/workflows", base_url="http://127.0.0.1:80")
            assert got.status_code == 200 and len(got.get_json()["items"]) == runs
            return time.perf_counter() - started

        cold = answer()
        warm = median(answer() for _ in range(repeat))
        size = sum(p.stat().st_size for p in root.glob("*/workflow.json"))
    return {
        "runs": runs,
        "workflow_mib_total": round(size / 2**20, 1),
        "first_s": round(cold, 4),
        "next_s": round(warm, 4),
        "first_over_next": round(cold / warm, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.view", description=__doc__)
    parser.add_argument("--items", default="100,1000,10000", help="comma list of loop sizes")
    parser.add_argument("--runs", type=int, default=200, help="runs in the list")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    items = [int(n) for n in args.items.split(",") if n.strip()]
    result = {
        "graph": bench_graph(items, args.repeat),
        "list": bench_list(args.runs, args.repeat),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
