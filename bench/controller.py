"""Thin-controller scheduling benchmark: ``python -m bench.controller [--json] [--tasks 100]
[--parallelism 2] [--runs 1] [--command true] [--poll-interval 0.02] [--no-sandbox]
[--probe-runs 10] [--pod-network auto|pod|host]``; ``--runtime podman`` measures the podman
runtime instead (bench/podman.py).

Runs a fan-out/fan-in DAG of ``--tasks`` no-op pods (one root, ``tasks - 2`` middle tasks that
depend on the root, one sink that depends on every middle task; ``parallelism`` on the DAG
template) with the real engine (``WorkflowRunner``: the controller loop over the reconciler, pods
on ``ThreadPods``) and the ``local`` runtime, each pod being ``argoexec init``, then
``argoexec wait`` next to the emissary-wrapped ``true``, every container a bubblewrap sandbox.
The baseline, in the same invocation, runs the same commands (``--command``) directly in the
same dependency order on a thread pool of ``parallelism`` workers.

Headline numbers (medians over ``--runs``; gaps and pod times pooled over all runs):

* ``total_s`` / ``baseline_s`` and ``pods_per_s`` (``tasks / total_s``);
* ``sched_gap_ms_median`` / ``_p90``: for each pod after the root, the instant the controller
  created it minus the latest end of any pod that ended before that (a pod's end: the runtime's
  ``run_pod`` returned; ``ThreadPods`` then reads its result and wakes the loop);
  ``sched_gap_build_ms_median``: the part of the gap spent in the pass that created the pod
  (observing the pods, reconciling, building the pod);
* ``per_pod_overhead_ms``: ``(total_s - baseline_s) / (tasks / parallelism)``, the extra wall
  time per pod per slot;
* ``pod_wall_ms_median``: pod created -> its run ended (pod GC comes later, once the status
  recording its end is stored);
* ``controller_peak_rss_mib`` (this process), ``controller_cpu_s`` (this process during the
  workflow) and ``children_cpu_s`` (the workflow's reaped children: bwrap and everything in it).

A breakdown of the pod's wall time comes from the runtime's container statuses (``started_at``
and ``finished_at`` per container; a finish is stamped when the runtime's poll sees the exit,
so it lags by up to ``--poll-interval``) and from two files the pod leaves behind, read just
before pod GC: the mtime of ``/var/run/argo/ctr/main/exitcode`` (the emissary's last act, so
the real end of main) and of the ``wait`` container's result file (outputs reported). Small
probes time ``true`` directly and inside the same bubblewrap sandbox the runtime builds, the
interpreter's start-up and the executor's imports, to attribute what the breakdown shows.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argoexec.contract import (
    DEFAULT_POD_NETWORK,
    POD_NETWORKS,
    RESULT_VOLUME,
    VAR_RUN_ARGO_VOLUME,
)
from argoexec.controller.loop.options import RunOptions
from argoexec.controller.loop.runner import WorkflowRunner
from argoexec.controller.loop.seams import PodObservation
from argoexec.controller.loop.thread_pods import ThreadPods
from argoexec.controller.reconcile import nodes as n
from argoexec.controller.runtime import LocalRuntime
from argoexec.controller.runtime.results import LocalResults
from argoexec.controller.runtime.status import ContainerStatus, PodResult
from argoexec.controller.sandbox import Bubblewrap, HostSystem, Sandbox, find_bubblewrap

EXECUTOR_IMAGE = "quay.io/argoproj/argoexec:v4.1.2"
WORKFLOW_NAME = "bench-dag"
MIB = 1024  # ru_maxrss is in KiB on Linux

# key -> (limit, at_most)
TARGETS: dict[str, tuple[float, bool]] = {
    "sched_gap_ms_median": (100.0, True),
    "per_pod_overhead_ms": (400.0, True),
}

# The parts a pod's wall time is cut into (see `breakdown`). The first eight add up to the pod's
# wall time along its critical path (init, then wait); the last three describe main, which runs
# alongside wait and, for a no-op command, ends long before wait has started up.
SEGMENTS = (
    ("admit_ms", "pod created -> runtime admitted it"),
    ("setup_ms", "admitted -> init started (dirs, volumes, init launch)"),
    ("init_ms", "init container (argoexec init in bwrap), start -> exit seen"),
    ("init_to_containers_ms", "init exit seen -> wait started"),
    ("wait_to_report_ms", "wait started -> result file written (start-up, wait, report)"),
    ("wait_exit_ms", "result file written -> wait exit seen (shutdown + poll lag)"),
    ("containers_end_ms", "wait exit seen -> last container exit seen"),
    ("teardown_ms", "last container exit seen -> the runtime's run_pod returned"),
    ("main_ms", "(parallel) main container start -> exitcode written by the emissary"),
    ("main_seen_late_ms", "(parallel) exitcode written -> main exit seen by the runtime"),
    ("wait_idle_ms", "(parallel) main exitcode written -> wait's result written"),
)


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the workload ---------------------------------------------------------------------------


def task_graph(tasks: int) -> dict[str, list[str]]:
    """Task name -> its dependencies, in start order: root, the middle fan, the sink."""
    middle = [f"t{i:03d}" for i in range(1, tasks - 1)]
    graph: dict[str, list[str]] = {"root": []}
    graph.update({name: ["root"] for name in middle})
    graph["sink"] = list(middle)
    return graph


def workflow(
    graph: Mapping[str, list[str]], parallelism: int, command: Sequence[str]
) -> dict[str, Any]:
    tasks: list[dict[str, Any]] = []
    for name, deps in graph.items():
        task: dict[str, Any] = {"name": name, "template": "noop"}
        if deps:
            task["dependencies"] = list(deps)
        tasks.append(task)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": WORKFLOW_NAME},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "parallelism": parallelism, "dag": {"tasks": tasks}},
                {"name": "noop", "container": {"image": "busybox", "command": list(command)}},
            ],
        },
    }


# --- the baseline ---------------------------------------------------------------------------


def run_graph(
    graph: Mapping[str, list[str]], parallelism: int, job: Callable[[str], None]
) -> float:
    """Run `job(name)` for every task in dependency order, at most `parallelism` at once,
    starting whatever is ready as soon as a slot frees; returns the wall seconds."""
    done: set[str] = set()
    started: set[str] = set()
    running: dict[Future[None], str] = {}
    begin = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        while len(done) < len(graph):
            for name, deps in graph.items():
                if len(running) >= parallelism:
                    break
                if name not in started and all(d in done for d in deps):
                    started.add(name)
                    running[pool.submit(job, name)] = name
            if not running:
                raise RuntimeError("the task graph has a cycle or a missing dependency")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                future.result()
                done.add(running.pop(future))
    return time.perf_counter() - begin


def run_baseline(graph: Mapping[str, list[str]], parallelism: int, command: Sequence[str]) -> float:
    argv = [shutil.which(command[0]) or command[0], *command[1:]]

    def job(_name: str) -> None:
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    return run_graph(graph, parallelism, job)


# --- our run --------------------------------------------------------------------------------


class TracingRuntime(LocalRuntime):
    """The local runtime, noting when each pod's run ended (the monotonic instant `run_pod`
    returned, with the `PodResult` it returned), and the mtimes of two files of each pod just
    before pod GC deletes them: main's ``exitcode`` and the wait container's result file."""

    def __init__(self, root: Path, **kwargs: Any) -> None:
        super().__init__(root, **kwargs)
        self.marks: dict[str, dict[str, float]] = {}
        self.ended: dict[str, tuple[float, PodResult]] = {}

    def run_pod(self, pod: Mapping[str, Any], **kwargs: Any) -> PodResult:
        result = super().run_pod(pod, **kwargs)
        self.ended[str(pod["metadata"]["name"])] = (time.monotonic(), result)
        return result

    def cleanup(self, pod_name: str) -> None:
        files = {
            "main_exitcode": self.volume_path(pod_name, VAR_RUN_ARGO_VOLUME) / "ctr/main/exitcode",
            "result": self.volume_path(pod_name, RESULT_VOLUME) / "result.json",
        }
        marks: dict[str, float] = {}
        for key, path in files.items():
            try:
                marks[key] = path.stat().st_mtime
            except OSError:
                continue
        self.marks[pod_name] = marks
        super().cleanup(pod_name)


class TimedPods:
    """The runner's `PodBackend` (`ThreadPods`), noting for each pod the monotonic instant it
    was created and the instant the controller's pass that created it began (its `observe`:
    a pass observes the pods, reconciles, then carries out its actions)."""

    def __init__(self, pods: ThreadPods) -> None:
        self.pods = pods
        self.created: dict[str, tuple[float, float]] = {}  # pod -> (pass began, created)
        self._observed_at = 0.0

    def adapt(self, pod: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
        return self.pods.adapt(pod, template)

    def create(self, pod: Mapping[str, Any], config_maps: Mapping[str, Mapping[str, str]]) -> None:
        name = str(pod["metadata"]["name"])
        self.created.setdefault(name, (self._observed_at, time.monotonic()))
        self.pods.create(pod, config_maps)

    def observe(self, workflow_name: str) -> dict[str, PodObservation]:
        self._observed_at = time.monotonic()
        return self.pods.observe(workflow_name)

    def signal(self, pod_name: str, container: str, signum: int) -> None:
        self.pods.signal(pod_name, container, signum)

    def delete(self, pod_name: str) -> None:
        self.pods.delete(pod_name)

    def wait(self, timeout: float) -> bool:
        return self.pods.wait(timeout)


@dataclass
class PodTimes:
    """One pod, in wall-clock seconds (monotonic instants converted once)."""

    name: str
    created: float  # the controller created the pod (handed it to the backend)
    pass_began: float  # the pass that created it began
    ended: float  # its run ended (the runtime's run_pod returned)
    result: PodResult | None
    marks: dict[str, float] = field(default_factory=dict)


@dataclass
class OurRun:
    total_s: float
    children_cpu_s: float
    controller_cpu_s: float
    phase: str
    pods: list[PodTimes] = field(default_factory=list)


def run_ours(
    root: Path,
    wf: Mapping[str, Any],
    *,
    poll_interval: float,
    sandbox: bool,
    pod_network: str = DEFAULT_POD_NETWORK,
) -> OurRun:
    runtime = TracingRuntime(
        root / "pods",
        executor_image=EXECUTOR_IMAGE,
        poll_interval=poll_interval,
        claims=root / "claims",
        sandbox=sandbox,
        pod_network=pod_network,
    )
    results = LocalResults(runtime.volume_path)
    pods = TimedPods(ThreadPods(runtime, results))
    runner = WorkflowRunner(
        wf,
        name=WORKFLOW_NAME,
        runtime=runtime,
        results=results,
        options=RunOptions(executor_image=EXECUTOR_IMAGE),
        pods=pods,
    )
    cpu_before, own_before = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF)
    begin = time.perf_counter()
    final = runner.run()
    total = time.perf_counter() - begin
    pods.pods.settle(10.0)
    cpu = _cpu(resource.RUSAGE_CHILDREN) - cpu_before
    own = _cpu(resource.RUSAGE_SELF) - own_before
    phase = str(final["status"]["phase"])
    if phase != n.SUCCEEDED:
        failed = [
            f"{v['name']}: {v.get('message', '')}"
            for v in final["status"]["nodes"].values()
            if v["phase"] != n.SUCCEEDED
        ]
        raise RuntimeError(f"the workflow ended {phase}: {failed[:5]} (state under {root})")
    to_wall = time.time() - time.monotonic()
    times: list[PodTimes] = []
    for name, (pass_began, created) in pods.created.items():
        if name not in runtime.ended:
            continue
        ended, result = runtime.ended[name]
        times.append(
            PodTimes(
                name=name,
                created=created + to_wall,
                pass_began=pass_began + to_wall,
                ended=ended + to_wall,
                result=result,
                marks=runtime.marks.get(name, {}),
            )
        )
    return OurRun(total, children_cpu_s=cpu, controller_cpu_s=own, phase=phase, pods=times)


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


# --- analysis -------------------------------------------------------------------------------


def sched_gaps(pods: Sequence[PodTimes]) -> tuple[list[float], list[float]]:
    """Per pod after the first: (its creation minus the latest end of any pod that ended
    before it, the part of that spent in the pass that created it: observing the pods,
    reconciling, building the pod)."""
    ordered = sorted(pods, key=lambda p: p.created)
    gaps: list[float] = []
    build: list[float] = []
    for pod in ordered[1:]:
        before = [p.ended for p in pods if p.ended <= pod.created]
        if not before:
            continue  # started before anything ended (the first wave of the fan)
        gaps.append((pod.created - max(before)) * 1000)
        build.append((pod.created - pod.pass_began) * 1000)
    return gaps, build


def _status(result: PodResult, name: str) -> ContainerStatus | None:
    try:
        return result.container(name)
    except KeyError:
        return None


def breakdown(pod: PodTimes) -> dict[str, float] | None:
    """The pod's wall time cut into SEGMENTS (ms); None if a status or a mark is missing."""
    result = pod.result
    if result is None or result.start_time is None:
        return None
    stamps: list[tuple[float, float]] = []
    for name in ("init", "main", "wait"):
        status = _status(result, name)
        if status is None or status.started_at is None or status.finished_at is None:
            return None
        stamps.append((status.started_at, status.finished_at))
    if "main_exitcode" not in pod.marks or "result" not in pod.marks:
        return None
    (i0, i1), (m0, m1), (w0, w1) = stamps
    main_end, reported = pod.marks["main_exitcode"], pod.marks["result"]
    last = max(m1, w1)
    ms = 1000.0
    return {
        "admit_ms": (result.start_time - pod.created) * ms,
        "setup_ms": (i0 - result.start_time) * ms,
        "init_ms": (i1 - i0) * ms,
        "init_to_containers_ms": (w0 - i1) * ms,
        "wait_to_report_ms": (reported - w0) * ms,
        "wait_exit_ms": (w1 - reported) * ms,
        "containers_end_ms": (last - w1) * ms,
        "teardown_ms": (pod.ended - last) * ms,
        "main_ms": (main_end - m0) * ms,
        "main_seen_late_ms": (m1 - main_end) * ms,
        "wait_idle_ms": (reported - main_end) * ms,
    }


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: a reported value really occurred)."""
    ordered = sorted(values)
    rank = min(max(1, math.ceil(fraction * len(ordered))), len(ordered))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


# --- probes ---------------------------------------------------------------------------------


def _timed_ms(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        begin = time.perf_counter()
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, capture_output=True)
        times.append((time.perf_counter() - begin) * 1000)
    return median(times)


def probes(runs: int) -> dict[str, float]:
    """Start-up costs behind each container: a bare command, the same in the runtime's sandbox,
    the interpreter, and the executor's CLI (its imports)."""
    true = shutil.which("true") or "/bin/true"
    python = sys.executable
    found: dict[str, float] = {
        "probe_true_ms": _timed_ms([true], runs),
        "probe_python_pass_ms": _timed_ms([python, "-c", "pass"], runs),
        "probe_python_no_site_ms": _timed_ms([python, "-S", "-c", "pass"], runs),
        "probe_import_pydantic_ms": _timed_ms([python, "-c", "import pydantic"], runs),
        "probe_import_models_ms": _timed_ms([python, "-c", "import argoexec.models"], runs),
        "probe_argoexec_help_ms": _timed_ms([python, "-m", "argoexec", "--help"], runs),
        "probe_import_init_ms": _timed_ms([python, "-c", "import argoexec.commands.init"], runs),
        "probe_import_wait_ms": _timed_ms([python, "-c", "import argoexec.commands.wait"], runs),
    }
    bwrap = find_bubblewrap()
    if bwrap is not None:
        with tempfile.TemporaryDirectory() as work:
            sandbox = Sandbox(bwrap, HostSystem.scan(), Path(work) / "files")
            sandbox.prepare()
            argv = sandbox.argv([true], hostname="p", as_pid_1=True)
            found["probe_bwrap_true_ms"] = _timed_ms(argv, runs)
        found["probe_bwrap_host_root_true_ms"] = _timed_ms(_host_root_sandbox(bwrap, true), runs)
    return found


def _host_root_sandbox(bwrap: Bubblewrap, command: str) -> list[str]:
    """The baseline sandbox: the layout before containers got their own root (every top-level
    host directory bound read-only, a private /tmp and /run), to compare start-up costs."""
    argv = [bwrap.path, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    argv.append("--as-pid-1")
    for entry in sorted(os.listdir("/")):
        path = Path("/") / entry
        if entry in ("proc", "dev", "tmp", "run", "sys"):
            continue
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), str(path)]
    argv += ["--ro-bind", "/sys", "/sys", "--proc", "/proc", "--dev", "/dev"]
    return [*argv, "--tmpfs", "/tmp", "--tmpfs", "/run", "--chdir", "/", "--", command]


# --- the benchmark --------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    load = os.getloadavg()[0]  # other work on the machine skews every number below
    graph = task_graph(args.tasks)
    command = shlex.split(args.command)
    wf = workflow(graph, args.parallelism, command)
    totals: list[float] = []
    baselines: list[float] = []
    cpus: list[float] = []
    own_cpus: list[float] = []
    pods: list[PodTimes] = []
    gaps: list[float] = []
    builds: list[float] = []
    for index in range(args.runs):
        progress(f"run {index + 1}/{args.runs}: baseline ({args.tasks} x {args.command})")
        baselines.append(run_baseline(graph, args.parallelism, command))
        progress(f"run {index + 1}/{args.runs}: workflow ({args.tasks} pods)")
        root = Path(tempfile.mkdtemp(prefix="bench-controller-"))
        try:
            ours = run_ours(root, wf, poll_interval=args.poll_interval,
                            sandbox=not args.no_sandbox, pod_network=args.pod_network)  # fmt: skip
        except BaseException:
            progress(f"state kept under {root}")
            raise
        shutil.rmtree(root, ignore_errors=True)
        if len(ours.pods) != args.tasks:
            raise RuntimeError(f"expected {args.tasks} pod nodes, found {len(ours.pods)}")
        totals.append(ours.total_s)
        cpus.append(ours.children_cpu_s)
        own_cpus.append(ours.controller_cpu_s)
        pods.extend(ours.pods)
        run_gaps, run_builds = sched_gaps(ours.pods)
        gaps.extend(run_gaps)
        builds.extend(run_builds)
    total, baseline = median(totals), median(baselines)
    walls = [(p.ended - p.created) * 1000 for p in pods]
    parts = [b for b in (breakdown(p) for p in pods) if b is not None]
    results: dict[str, Any] = {
        "tasks": args.tasks,
        "parallelism": args.parallelism,
        "command": args.command,
        "runs": args.runs,
        "poll_interval_s": args.poll_interval,
        "sandboxed": not args.no_sandbox and find_bubblewrap() is not None,
        "pod_network": args.pod_network,
        "loadavg_1m_at_start": round(load, 2),
        "total_s": round(total, 3),
        "baseline_s": round(baseline, 3),
        "total_s_runs": [round(t, 3) for t in totals],
        "baseline_s_runs": [round(t, 3) for t in baselines],
        "pods_per_s": round(args.tasks / total, 2),
        "sched_gap_ms_median": round(median(gaps), 1),
        "sched_gap_ms_p90": round(percentile(gaps, 0.9), 1) if gaps else float("nan"),
        "sched_gap_build_ms_median": round(median(builds), 1),
        "per_pod_overhead_ms": round(
            (total - baseline) / (args.tasks / args.parallelism) * 1000, 1
        ),
        "pod_wall_ms_median": round(median(walls), 1),
        "controller_peak_rss_mib": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MIB, 1
        ),
        "children_cpu_s": round(median(cpus), 2),
        "children_cpu_ms_per_pod": round(median(cpus) / args.tasks * 1000, 1),
        "controller_cpu_s": round(median(own_cpus), 2),
        "breakdown_pods": len(parts),
    }
    for key, _ in SEGMENTS:
        results[f"pod_{key}"] = round(median([p[key] for p in parts]), 1)
    if args.probe_runs:
        progress(f"probes: {args.probe_runs} runs each")
        results.update({k: round(v, 1) for k, v in probes(args.probe_runs).items()})
    return results


def verdicts(results: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, (limit, at_most) in TARGETS.items():
        value = float(results[key])
        ok = value <= limit if at_most else value >= limit
        out[key] = "PASS" if ok else "MISS"
    return out


def table(results: Mapping[str, Any]) -> str:
    lines = [f"{'measure':34} {'value':>10}  target", "-" * 60]
    lines.append(f"{'loadavg_1m_at_start':34} {results['loadavg_1m_at_start']:>10}")
    for key in (
        "total_s",
        "baseline_s",
        "pods_per_s",
        "sched_gap_ms_median",
        "sched_gap_ms_p90",
        "sched_gap_build_ms_median",
        "per_pod_overhead_ms",
        "pod_wall_ms_median",
        "controller_peak_rss_mib",
        "children_cpu_s",
        "children_cpu_ms_per_pod",
        "controller_cpu_s",
    ):
        goal = ""
        if key in TARGETS:
            limit, at_most = TARGETS[key]
            goal = f"{'<=' if at_most else '>='} {limit:g}  {results['verdicts'][key]}"
        lines.append(f"{key:34} {results[key]:>10}  {goal}")
    lines += ["", f"pod wall time breakdown (median of {results['breakdown_pods']} pods, ms)"]
    for key, what in SEGMENTS:
        lines.append(f"  {key:24} {results[f'pod_{key}']:>8}  {what}")
    probe_keys = [k for k in sorted(results) if k.startswith("probe_")]
    if probe_keys:
        lines += ["", "start-up probes (median, ms)"]
        lines += [f"  {key:24} {results[key]:>8}" for key in probe_keys]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.controller", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--tasks", type=int, default=100, help="pods in the DAG (at least 3)")
    parser.add_argument("--parallelism", type=int, default=2, help="the DAG's parallelism")
    parser.add_argument("--runs", type=int, default=1, help="workflow + baseline runs")
    parser.add_argument(
        "--poll-interval", type=float, default=0.02, help="the local runtime's poll interval (s)"
    )
    parser.add_argument(
        "--command", default="true", help="each task's command (shell words; default: true)"
    )
    parser.add_argument("--no-sandbox", action="store_true", help="run the pods without bubblewrap")
    parser.add_argument(
        "--pod-network",
        choices=POD_NETWORKS,
        default=DEFAULT_POD_NETWORK,
        help="which pods get networks of their own (pod: every pod, as on Kubernetes)",
    )
    parser.add_argument(
        "--probe-runs", type=int, default=10, help="runs per start-up probe (0: none)"
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="the reconciler's scale scenarios instead (bench/scale.py; no pod runs)",
    )
    args = parser.parse_args(argv)
    if args.tasks < 3:
        parser.error("--tasks must be at least 3 (root, one middle task, sink)")
    if args.parallelism < 1 or args.runs < 1 or args.poll_interval <= 0:
        parser.error("--parallelism and --runs must be at least 1, --poll-interval above 0")
    return args


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if "--runtime" in given or "--runtime=podman" in given:  # bench/podman.py measures podman
        from bench.podman import main as podman_main

        return podman_main(given)
    if "--kubernetes" in given:  # bench/kubernetes.py measures a (fake) cluster
        from bench.kubernetes import main as kubernetes_main

        return kubernetes_main(given)
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.scale:
        from bench.scale import run_all

        scale = run_all()
        for row in scale["scenarios"]:
            print(
                f"{row['scenario']:>14}: {row['nodes']:>5} nodes, {row['cpu_ms_per_node']} ms "
                f"CPU/node, {row['passes']} passes, {row['status_writes']} writes, "
                f"{row['peak_rss_mib']} MiB peak"
            )
        if args.json:
            print(json.dumps(scale, sort_keys=True))
        return 0
    results = run(args)
    results["verdicts"] = verdicts(results)
    print(table(results))
    if args.json:
        print(json.dumps(_no_nan(results), sort_keys=True))
    return 0


def _no_nan(value: Any) -> Any:
    """NaN (a median of nothing) as null: JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
