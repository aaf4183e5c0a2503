"""Controller scale benchmark (`python -m bench.controller --scale [--json]`): the reconciler and
its loop over big workflows, with a pod backend double that completes every pod at once
(benchmark only: no process runs, so what is measured is the controller alone).

Scenarios, each in a fresh subprocess (so its peak RSS is its own): a `withItems` loop of 500,
1,000 and 5,000 items; a 1,000-task fan-out/fan-in DAG; a 10-deep recursion of steps. Per
scenario: nodes in the final status, controller CPU seconds (this process, user+system) and per
node, passes, status writes and writes per second, wall seconds, peak RSS. The baseline, in the
same subprocess, is the floor any controller pays for such a status: one JSON encode and decode
of the final Workflow; `cpu_vs_json_roundtrip` is the ratio.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from argoexec.controller.loop.controller import Controller
from argoexec.controller.loop.memory import MemoryStore
from argoexec.controller.loop.seams import PodObservation
from argoexec.controller.reconcile import Settings
from argoexec.controller.runtime.status import ContainerStatus, PodResult
from argoexec.models import NodeResult

NODE_ID = "workflows.argoproj.io/node-id"
ECHO = {"name": "echo", "container": {"image": "alpine", "command": ["true"]}}
LOOP_SIZES = (500, 1000, 5000)


class InstantPods:
    """Every pod created has already Succeeded, with an empty result (benchmark only)."""

    def __init__(self) -> None:
        self.pods: dict[str, dict[str, PodObservation]] = {}
        self.where: dict[str, tuple[str, str]] = {}  # pod name -> (workflow, node id)
        self.created = 0

    def adapt(self, pod: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
        return dict(pod)

    def create(self, pod: Mapping[str, Any], config_maps: Mapping[str, Mapping[str, str]]) -> None:
        meta = pod["metadata"]
        workflow = meta["labels"]["workflows.argoproj.io/workflow"]
        node_id = meta["annotations"][NODE_ID]
        pods = self.pods.setdefault(workflow, {})
        if node_id in pods:
            return
        self.created += 1
        result = PodResult(str(meta["name"]), phase="Succeeded", start_time=0.0)
        for container in pod["spec"]["containers"]:
            status = ContainerStatus(str(container["name"]), started_at=0.0)
            status.terminate(0, "", 0.0)
            result.containers.append(status)
        reported = NodeResult.model_validate({"outputs": {}})
        pods[node_id] = PodObservation(str(meta["name"]), node_id, result, reported, True)
        self.where[str(meta["name"])] = (workflow, node_id)

    def observe(self, workflow_name: str) -> dict[str, PodObservation]:
        return dict(self.pods.get(workflow_name) or {})

    def signal(self, pod_name: str, container: str, signum: int) -> None:
        pass

    def delete(self, pod_name: str) -> None:
        workflow, node_id = self.where.pop(pod_name, ("", ""))
        self.pods.get(workflow, {}).pop(node_id, None)

    def wait(self, timeout: float) -> bool:
        return True


def loop_spec(items: int) -> dict[str, Any]:
    step = {"name": "each", "template": "echo", "withItems": list(range(items))}
    return {"entrypoint": "main", "templates": [{"name": "main", "steps": [[step]]}, ECHO]}


def dag_spec(tasks: int, layers: int = 10) -> dict[str, Any]:
    """`tasks / layers` chains of `layers` tasks side by side: each pass completes one layer."""
    width = tasks // layers
    dag = []
    for layer in range(layers):
        for i in range(width):
            task: dict[str, Any] = {"name": f"t{layer}-{i}", "template": "echo"}
            if layer:
                task["depends"] = f"t{layer - 1}-{i}"
            dag.append(task)
    return {"entrypoint": "main", "templates": [{"name": "main", "dag": {"tasks": dag}}, ECHO]}


def recursion_spec(depth: int) -> dict[str, Any]:
    down = {
        "name": "down",
        "inputs": {"parameters": [{"name": "n"}]},
        "steps": [
            [{"name": "work", "template": "echo"}],
            [
                {
                    "name": "deeper",
                    "template": "down",
                    "when": "{{inputs.parameters.n}} > 1",
                    "arguments": {
                        "parameters": [
                            {"name": "n", "value": "{{=asInt(inputs.parameters.n) - 1}}"}
                        ]
                    },
                }
            ],
        ],
    }
    return {
        "entrypoint": "down",
        "arguments": {"parameters": [{"name": "n", "value": str(depth)}]},
        "templates": [down, ECHO],
    }


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    **{f"loop_{n}": partial(loop_spec, n) for n in LOOP_SIZES},
    "dag_1000": partial(dag_spec, 1000),
    "recursion_10": partial(recursion_spec, 10),
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_scenario(name: str) -> dict[str, Any]:
    spec = SCENARIOS[name]()
    store = MemoryStore()
    store.create({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                  "metadata": {"name": "scale", "uid": "u"}, "spec": spec})  # fmt: skip
    pods = InstantPods()
    controller = Controller(store, pods, Settings(max_pods=0))
    cpu, wall = _cpu(), time.monotonic()
    controller.drive(["scale"])
    cpu, wall = _cpu() - cpu, time.monotonic() - wall
    final = store.get("scale")
    nodes = len(final["status"]["nodes"])
    json_cpu = _cpu()
    json.loads(json.dumps(final))
    json_cpu = _cpu() - json_cpu
    return {
        "scenario": name,
        "phase": final["status"]["phase"],
        "nodes": nodes,
        "pods": pods.created,
        "cpu_s": round(cpu, 3),
        "cpu_ms_per_node": round(1000 * cpu / nodes, 3),
        "wall_s": round(wall, 3),
        "passes": controller.passes,
        "status_writes": controller.writes,
        "writes_per_s": round(controller.writes / wall, 2) if wall else 0.0,
        "json_roundtrip_s": round(json_cpu, 4),
        "cpu_vs_json_roundtrip": round(cpu / json_cpu, 1) if json_cpu else None,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run_all() -> dict[str, Any]:
    results = []
    for name in SCENARIOS:
        done = subprocess.run(
            [sys.executable, "-m", "bench.scale", name], check=True, capture_output=True, text=True
        )
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    by_name = {r["scenario"]: r for r in results}
    biggest = by_name[f"loop_{LOOP_SIZES[-1]}"]
    return {
        "scenarios": results,
        "scale_cpu_ms_per_node": biggest["cpu_ms_per_node"],
        "scale_peak_rss_mib": biggest["peak_rss_mib"],
        "cpu_ms_per_node_by_loop_size": {
            str(n): by_name[f"loop_{n}"]["cpu_ms_per_node"] for n in LOOP_SIZES
        },
    }


if __name__ == "__main__":
    print(json.dumps(run_scenario(sys.argv[1])))
