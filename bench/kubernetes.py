"""`python -m bench.controller --kubernetes`: the 100-task DAG on a cluster (the fake API
server over TLS, its pods run by the test node agent with the local runtime), driven by
`argoexec controller` in its own process; baseline: the same task graph as plain processes, at
the same parallelism, in the same invocation.

Prints the workflow's wall time, the per-pod overhead over the baseline, the API calls per pod
of the controller and of the executors (by verb and resource, from the fake server's journal),
and the controller process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.controller import run_baseline, task_graph, workflow
from tests.cluster.rbac import request_attributes
from tests.servers.kube import FakeKube, Pki
from tests.servers.kubelet import NodeAgent

CONTROLLER_USER = "system:serviceaccount:argoexec:argoexec-controller"
NAMESPACE = "default"

# The controller in its own process, so its RSS is its own; it prints it when told to stop.
CONTROLLER = """
import resource, signal, sys, threading
from argoexec.controller.cluster.api import ClusterApi, Connection
from argoexec.controller.cluster.controller import ClusterController, ClusterOptions
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
api = ClusterApi.connect(Connection(kubeconfig=sys.argv[1]))
options = ClusterOptions(controller_namespace="argoexec", leader_election=False,
                         health_port=None, metrics_port=None)
ClusterController(api, options).run(stop.is_set)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, flush=True)
"""


def _calls(fake: FakeKube, user: str, pods: int) -> dict[str, Any]:
    counted: Counter[str] = Counter()
    for request in fake.requests():
        if request.user != user:
            continue
        attrs = request_attributes(request.method, request.path, dict(request.query or {}))
        resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
        counted[f"{attrs.verb} {resource or request.path}"] += 1
    total = sum(counted.values())
    return {
        "total": total,
        "per_pod": round(total / pods, 2),
        "by_call": dict(sorted(counted.items(), key=lambda kv: -kv[1])),
    }


def _wait_finished(fake: FakeKube, name: str, timeout: float) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = fake.get("workflows", name, NAMESPACE, group="argoproj.io") or {}
        if (found.get("status") or {}).get("phase") in ("Succeeded", "Failed", "Error"):
            return dict(found)
        time.sleep(0.05)
    raise RuntimeError(f"workflow {name} did not finish in {timeout:.0f} s")


def run(args: argparse.Namespace) -> dict[str, Any]:
    graph = task_graph(args.tasks)
    command = ["true"]
    baseline = run_baseline(graph, args.parallelism, command)
    with tempfile.TemporaryDirectory(prefix="bench-kube-") as tmp:
        root = Path(tmp)
        fake = FakeKube(pki=Pki.create(root / "pki"))
        fake.start()
        kubeconfig = fake.kubeconfig(root / "kubeconfig", token=fake.add_token(CONTROLLER_USER))
        agent = NodeAgent(fake, root / "node", sandbox=not args.no_sandbox).start()
        controller = subprocess.Popen(
            [sys.executable, "-c", CONTROLLER, str(kubeconfig)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        try:
            time.sleep(1.0)  # its caches filled
            doc = workflow(graph, args.parallelism, command)
            doc["metadata"]["namespace"] = NAMESPACE
            begin = time.perf_counter()
            fake.seed(doc)
            done = _wait_finished(fake, doc["metadata"]["name"], timeout=1800)
            wall = time.perf_counter() - begin
        finally:
            controller.send_signal(signal.SIGTERM)
            out, _ = controller.communicate(timeout=60)
            agent.stop()
            fake.stop()
        rss = float(out.strip().splitlines()[-1]) if out.strip() else float("nan")
        pods = sum(1 for n in done["status"]["nodes"].values() if n["type"] == "Pod")
        executors = Counter(r.user for r in fake.requests() if r.user and r.user.startswith(
            f"system:serviceaccount:{NAMESPACE}:"))  # fmt: skip
    return {
        "tasks": args.tasks,
        "parallelism": args.parallelism,
        "phase": done["status"]["phase"],
        "pods": pods,
        "workflow_s": round(wall, 2),
        "baseline_s": round(baseline, 2),
        "ratio_vs_baseline": round(wall / baseline, 2),
        "per_pod_overhead_ms": round((wall - baseline) / pods * 1000, 1),
        "controller_calls": _calls(fake, CONTROLLER_USER, pods),
        "executor_calls_per_pod": round(sum(executors.values()) / pods, 2),
        "controller_peak_rss_mib": round(rss, 1),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.controller --kubernetes")
    parser.add_argument("--kubernetes", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--no-sandbox", action="store_true")
    args = parser.parse_args(argv)
    results = run(args)
    for key, value in results.items():
        if not isinstance(value, dict):
            print(f"{key:>26}: {value}")
    print(f"{'controller calls':>26}: {results['controller_calls']}")
    if args.json:
        print(json.dumps(results, sort_keys=True))
    return 0
