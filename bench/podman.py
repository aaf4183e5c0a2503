"""The podman runtime, measured: ``python -m bench.controller --runtime podman [--tasks 20]
[--parallelism 2] [--json]``, and the emissary's overhead inside a container (used by
``bench.executor``).

Per-pod overhead: the same fan-out/fan-in DAG as ``bench.controller`` (``bench.controller``'s
``task_graph``), each task a pod of ``--image`` running ``true`` under the emissary, with
``init`` and ``wait`` in the executor image, through the real engine and ``PodmanRuntime``.
The floor, in the same invocation, is what a pod costs podman itself: three
``podman run --rm`` of ``true`` (init, main, wait) one after the other per task, in the same
dependency order on ``parallelism`` workers. ``per_pod_overhead_ms`` is
``(total_s - floor_s) / (tasks / parallelism)``.

Emissary overhead in a container: one container of a test image (read-only root, a random
uid, ``/var/run/argo`` bound with the emissary in it) times, with the static timing tool of the
``scratch`` test image, ``/var/run/argo/argoexec emissary -- /bin/true`` against ``/bin/true``
run directly, each ``runs`` times, in the same container; the difference of the medians.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from argoexec.contract import PODMAN_EXECUTOR_IMAGE, PODMAN_RUNTIME
from argoexec.controller.loop.options import RunOptions
from argoexec.controller.loop.runner import WorkflowRunner
from argoexec.controller.loop.thread_pods import ThreadPods
from argoexec.controller.runtime.podman import PodmanRuntime, image_exists, podman_binary
from argoexec.controller.runtime.results import LocalResults

WORKFLOW_NAME = "bench-podman"
USER_IMAGE = "localhost/busybox:test"
TOOL_IMAGE = "localhost/scratch:test"
TOOL = "/tool"  # the scratch image's one static binary
EMISSARY = Path(__file__).resolve().parents[1] / "build" / "emissary" / "argoexec"


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _podman(*args: str, timeout: float = 300.0) -> str:
    done = subprocess.run(
        [podman_binary(), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def require_images(*images: str) -> None:
    for image in images:
        if not image_exists(image):
            raise SystemExit(f"bench: image {image} is missing: run `make images` first")


def run_floor(graph: Mapping[str, list[str]], parallelism: int, image: str) -> float:
    from bench.controller import run_graph

    def job(_name: str) -> None:
        for _ in range(3):  # init, main, wait: a pod's three containers, one after the other
            _podman("run", "--rm", "--network", "host", image, "true")

    return run_graph(graph, parallelism, job)


def run_pods(root: Path, wf: Mapping[str, Any], executor_image: str) -> float:
    runtime = PodmanRuntime(root / "pods", executor_image=executor_image, claims=root / "claims")
    results = LocalResults(runtime.volume_path)
    pods = ThreadPods(runtime, results)
    runner = WorkflowRunner(
        wf,
        name=WORKFLOW_NAME,
        runtime=runtime,
        results=results,
        options=RunOptions(executor_image=executor_image, runtime=PODMAN_RUNTIME),
        pods=pods,
    )
    begin = time.perf_counter()
    final = runner.run()
    total = time.perf_counter() - begin
    pods.settle(60.0)
    phase = final["status"]["phase"]
    if phase != "Succeeded":
        raise RuntimeError(f"the workflow ended {phase} (state under {root})")
    return total


def per_pod(args: argparse.Namespace) -> dict[str, Any]:
    from bench.controller import task_graph, workflow

    require_images(args.image, args.executor_image)
    graph = task_graph(args.tasks)
    wf = workflow(graph, args.parallelism, ["true"])
    wf["spec"]["templates"][1]["container"]["image"] = args.image
    totals, floors = [], []
    for index in range(args.runs):
        progress(f"run {index + 1}/{args.runs}: floor ({args.tasks} x 3 podman run --rm)")
        floors.append(run_floor(graph, args.parallelism, args.image))
        progress(f"run {index + 1}/{args.runs}: workflow ({args.tasks} pods in podman)")
        root = Path(tempfile.mkdtemp(prefix="bench-podman-"))
        try:
            totals.append(run_pods(root, wf, args.executor_image))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    total, floor = statistics.median(totals), statistics.median(floors)
    slots = args.tasks / args.parallelism
    return {
        "runtime": PODMAN_RUNTIME,
        "tasks": args.tasks,
        "parallelism": args.parallelism,
        "runs": args.runs,
        "image": args.image,
        "total_s": round(total, 2),
        "floor_s": round(floor, 2),
        "floor_per_pod_ms": round(floor / slots * 1000, 1),
        "ratio_vs_floor": round(total / floor, 2),
        "per_pod_overhead_ms": round((total - floor) / slots * 1000, 1),
    }


def emissary_in_container(runs: int, image: str = USER_IMAGE) -> dict[str, float]:
    """Medians (ms) of ``/bin/true`` and the emissary-wrapped ``/bin/true`` in one container
    of ``image``: read-only root, uid 54321, no /tmp."""
    require_images(image, TOOL_IMAGE)
    if not EMISSARY.is_file():
        raise SystemExit(f"bench: {EMISSARY} is missing: run `make emissary-binary` first")
    work = Path(tempfile.mkdtemp(prefix="bench-emissary-"))
    try:
        var_run = work / "var-run-argo"
        var_run.mkdir(mode=0o777)
        var_run.chmod(0o777)
        shutil.copy(EMISSARY, var_run / "argoexec")
        (var_run / "template").write_text(json.dumps({"name": "bench", "container": {}}))
        tool = work / "tool"
        _copy_tool(tool)
        base = [
            "run", "--rm", "--network", "none", "--read-only", "--user", "54321",
            "-v", f"{var_run}:/var/run/argo", "-v", f"{tool}:/bench-tool:ro",
            "-e", "ARGO_CONTAINER_NAME=main", image, "/bench-tool", "time", str(runs),
        ]  # fmt: skip
        direct = float(_podman(*base, "/bin/true").split()[0])
        wrapped = float(
            _podman(*base, "/var/run/argo/argoexec", "emissary", "--", "/bin/true").split()[0]
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "direct_in_container_ms": round(direct, 2),
        "emissary_in_container_ms": round(wrapped, 2),
        "emissary_overhead_in_container_ms": round(wrapped - direct, 1),
    }


def _copy_tool(target: Path) -> None:
    """The scratch image's static binary, copied out of the image."""
    name = f"bench-tool-{time.monotonic_ns()}"
    _podman("create", "--name", name, TOOL_IMAGE)
    try:
        _podman("cp", f"{name}:{TOOL}", str(target))
    finally:
        _podman("rm", "--force", name)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.controller --runtime podman")
    parser.add_argument("--runtime", choices=[PODMAN_RUNTIME], default=PODMAN_RUNTIME)
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--tasks", type=int, default=20, help="pods in the DAG (at least 3)")
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--image", default=USER_IMAGE, help="the tasks' image")
    parser.add_argument("--executor-image", default=PODMAN_EXECUTOR_IMAGE)
    parser.add_argument("--emissary-runs", type=int, default=30)
    args = parser.parse_args(list(argv))
    if args.tasks < 3 or args.parallelism < 1 or args.runs < 1:
        parser.error("--tasks must be at least 3, --parallelism and --runs at least 1")
    results = per_pod(args)
    results.update(emissary_in_container(args.emissary_runs))
    for key, value in results.items():
        print(f"{key:36} {value}")
    if args.json:
        print(json.dumps(results, sort_keys=True))
    return 0
