"""Executor start-up and overhead benchmark: ``python -m bench.executor [--json] [--runs N]``.

Every figure is a median over ``--runs`` fresh processes, measured in one run against baselines:

* ``python_pass_ms``: ``python -c pass`` with the same interpreter (the floor of any Python tool);
* ``init_ms``: ``argoexec init`` for a container template with no artifacts;
* ``init_s3_ms``: ``argoexec init`` loading one 1 MiB S3 input artifact from a SeaweedFS on
  loopback (``bench.executor_artifacts``; null, with ``init_s3_skipped``, without SeaweedFS);
* ``wait_ms``: ``argoexec wait`` for a template with one output parameter, main already done,
  reporting a ``WorkflowTaskResult`` to a fake Kubernetes API server on loopback;
* ``emissary_overhead_ms``: ``/var/run/argo/argoexec emissary -- true`` (the launcher init
  installed, stdout capture on) minus running ``true`` directly;
* ``wait_peak_rss_mib``: peak RSS of that ``wait`` process. It is read from ``wait4`` in a small
  launcher forked from a bare interpreter, so the bench's own memory is not counted;
* ``emissary_overhead_in_container_ms``: the self-contained emissary (build/emissary/argoexec)
  wrapping ``/bin/true`` in a podman container of the busybox test image (read-only root, a
  random uid), minus ``/bin/true`` in the same container (bench/podman.py); null, with
  ``in_container_skipped`` saying why, without podman or the test images.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.servers.kube import FakeKube

TARGETS = {
    "init_ms": ("<=", 60.0),
    "init_s3_ms": ("<=", 250.0),
    "init_s3_peak_rss_mib": ("<=", 64.0),
    "wait_ms": ("<=", 100.0),
    "emissary_overhead_ms": ("<=", 50.0),
    "emissary_overhead_in_container_ms": ("<=", 30.0),
    "wait_peak_rss_mib": ("<=", 64.0),
}

# Forks from a bare interpreter, execs the command in the child, prints the child's peak RSS.
_RSS_LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execvp(sys.argv[1], sys.argv[1:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "print(usage.ru_maxrss, file=sys.stderr)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{argv[:4]} exited {done.returncode}: {done.stderr[-2000:]}")
    return elapsed, done


def base_env(work: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "ARGO_POD_NAME": "bench-pod",
        "ARGO_WORKFLOW_NAME": "bench-wf",
        "ARGO_WORKFLOW_UID": "00000000-0000-0000-0000-000000000001",
        "ARGO_DEADLINE": "0001-01-01T00:00:00Z",
        "ARGOEXEC_TERMINATION_LOG": str(work / "termination-log"),
    }


def measure_init(work: Path, runs: int) -> tuple[list[float], Path]:
    template = {"name": "main", "container": {"image": "busybox", "command": ["true"]}}
    times, var_run = [], work / "init-0"
    for i in range(runs):
        var_run = work / f"init-{i}"
        env = base_env(work) | {
            "ARGO_TEMPLATE": json.dumps(template),
            "ARGOEXEC_VAR_RUN_DIR": str(var_run),
        }
        elapsed, _ = timed([sys.executable, "-m", "argoexec", "init"], env)
        times.append(elapsed)
    return times, var_run


def measure_emissary(var_run: Path, work: Path, runs: int) -> tuple[list[float], list[float]]:
    true = shutil.which("true") or "/bin/true"
    env = base_env(work) | {
        "ARGOEXEC_VAR_RUN_DIR": str(var_run),
        "ARGO_CONTAINER_NAME": "main",
        "ARGO_INCLUDE_SCRIPT_OUTPUT": "true",
    }
    direct, ours = [], []
    for _ in range(runs):
        direct.append(timed([true], env)[0])
        ours.append(timed([str(var_run / "argoexec"), "emissary", "--", true], env)[0])
    return direct, ours


def prepare_wait(var_run: Path, template: dict[str, Any]) -> None:
    ctr = var_run / "ctr" / "main"
    ctr.mkdir(parents=True)
    (var_run / "template").write_text(json.dumps(template))
    param = var_run / "outputs" / "parameters" / "tmp" / "p"
    param.parent.mkdir(parents=True)
    param.write_text("value\n")
    (ctr / "exitcode").write_text("0")


def measure_wait(work: Path, kube: FakeKube, runs: int) -> tuple[list[float], list[float]]:
    kubeconfig = kube.kubeconfig(work / "kubeconfig", token=kube.token)
    template = {
        "name": "main",
        "container": {"image": "busybox"},
        "outputs": {"parameters": [{"name": "p", "valueFrom": {"path": "/tmp/p"}}]},
    }
    times, rss = [], []
    for i in range(runs):
        var_run = work / f"wait-{i}"
        prepare_wait(var_run, template)
        env = base_env(work) | {
            "ARGOEXEC_VAR_RUN_DIR": str(var_run),
            "ARGO_NODE_ID": f"bench-wf-{i}",
            "ARGO_CONTAINER_NAME": "wait",
        }
        argv = [sys.executable, "-m", "argoexec", "wait", "--kubeconfig", str(kubeconfig)]
        elapsed, done = timed([sys.executable, "-c", _RSS_LAUNCHER, *argv], env)
        times.append(elapsed)
        rss.append(int(done.stderr.strip().splitlines()[-1]) / 1024)
        check_task_result(kube, f"bench-wf-{i}")
    return times, rss


def check_task_result(kube: FakeKube, name: str) -> None:
    result = kube.get("workflowtaskresults", name, namespace="default", group="argoproj.io")
    labels = result["metadata"]["labels"]
    assert labels["workflows.argoproj.io/report-outputs-completed"] == "true", result
    assert result["outputs"]["parameters"][0]["value"] == "value", result


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def run(runs: int) -> dict[str, Any]:
    kube = FakeKube()
    kube.start()
    work = Path(tempfile.mkdtemp(prefix="bench-executor-"))
    try:
        python_pass = [
            timed([sys.executable, "-c", "pass"], base_env(work))[0] for _ in range(runs)
        ]
        init, var_run = measure_init(work, runs)
        direct, ours = measure_emissary(var_run, work, runs)
        wait, rss = measure_wait(work, kube, runs)
    finally:
        kube.stop()
        shutil.rmtree(work, ignore_errors=True)
    try:
        from argoexec.controller.runtime.podman import PodmanError
        from bench.podman import emissary_in_container

        in_container: dict[str, Any] = emissary_in_container(runs * 2)
    except (SystemExit, RuntimeError, OSError, PodmanError) as exc:
        in_container = {"emissary_overhead_in_container_ms": None, "in_container_skipped": str(exc)}
    try:
        from bench.executor_artifacts import measure_init_s3

        init_s3: dict[str, Any] = measure_init_s3(runs)
    except (SystemExit, RuntimeError, OSError) as exc:
        init_s3 = {"init_s3_ms": None, "init_s3_skipped": str(exc)}
    return (
        in_container
        | init_s3
        | {
            "python_pass_ms": median(python_pass),
            "init_ms": median(init),
            "wait_ms": median(wait),
            "emissary_ms": median(ours),
            "direct_command_ms": median(direct),
            "emissary_overhead_ms": round(median(ours) - median(direct), 1),
            "wait_peak_rss_mib": round(max(rss), 1),
            "runs": runs,
        }
    )


def verdicts(results: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, (op, target) in TARGETS.items():
        if key not in results:
            continue  # not measured by this bench (bench.executor_artifacts run alone)
        if results[key] is None:
            out[key] = "SKIPPED"
            continue
        ok = results[key] <= target if op == "<=" else results[key] >= target
        out[key] = "PASS" if ok else "MISS"
    return out


def report(results: dict[str, Any], keys: list[str], *, as_json: bool) -> None:
    """The table of ``keys`` (each with its target and verdict, or its role), then with
    ``as_json`` the results and their verdicts as one JSON object."""
    results["verdicts"] = verdicts(results)
    print(f"{'measure':28} {'value':>9}  target")
    for key in keys:
        op, target = TARGETS.get(key, ("", None))
        goal = f"{op} {target:g}  {results['verdicts'][key]}" if target is not None else "—"
        value = "skipped" if results[key] is None else results[key]
        print(f"{key:28} {value:>9}  {goal}")
    if as_json:
        print(json.dumps(results, sort_keys=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.executor")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args(argv)
    keys = [
        "python_pass_ms",
        "init_ms",
        "init_s3_ms",
        "wait_ms",
        "emissary_overhead_ms",
        "emissary_overhead_in_container_ms",
        "wait_peak_rss_mib",
    ]
    report(run(args.runs), keys, as_json=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
