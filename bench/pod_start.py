"""What starting a pod's supervisor costs the controller: ``python -m bench.pod_start [--pods 20]
[--json] [--no-sandbox]``.

For each start method of `LocalPods` (``fork``, ``spawn``), creates ``--pods`` one-container
pods (``true``) one after the other, each finished before the next is created, and reports the
median wall time of `create`: the supervisor detached and recorded itself (the pod runs after
it returns). Baselines measured in the same run: a bare ``fork`` + ``waitpid`` of this process
(what the kernel charges for copying it), and an interpreter that does nothing
(``python -S -c pass``).
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

from argoexec.controller.loop.local_pods import LocalPods
from argoexec.controller.loop.podhost import FORK, SPAWN, RuntimeSettings
from argoexec.controller.sandbox import find_bubblewrap

WORKFLOW = "bench"


def _pod(name: str) -> dict[str, object]:
    return {
        "metadata": {"name": name, "labels": {"workflows.argoproj.io/workflow": WORKFLOW}},
        "spec": {"containers": [{"name": "main", "image": "x", "command": ["true"]}]},
    }


def create_ms(root: Path, method: str, pods: int, sandbox: bool) -> list[float]:
    backend = LocalPods(root, settings=RuntimeSettings(sandbox=sandbox), start_method=method)
    backend.runtime.prepare()  # once per controller, not per pod
    times = []
    for index in range(pods):
        began = time.perf_counter()
        backend.create(_pod(f"{method}-{index}"), {})
        times.append((time.perf_counter() - began) * 1000)
        while not all(o.completed for o in backend.observe(WORKFLOW).values()):
            backend.wait(5.0)
    backend.close()
    return times


def bare_fork_ms(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        times.append((time.perf_counter() - began) * 1000)
    return times


def bare_python_ms(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-S", "-c", "pass"], check=True)
        times.append((time.perf_counter() - began) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pod_start", description=__doc__)
    parser.add_argument("--pods", type=int, default=20, help="pods per start method")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--no-sandbox", action="store_true", help="run containers unsandboxed")
    args = parser.parse_args(argv)
    sandbox = not args.no_sandbox and find_bubblewrap() is not None
    work = Path(tempfile.mkdtemp(prefix="bench-pod-start-"))
    try:
        results = {
            "fork_create_ms": statistics.median(create_ms(work, FORK, args.pods, sandbox)),
            "spawn_create_ms": statistics.median(create_ms(work, SPAWN, args.pods, sandbox)),
            "bare_fork_ms": statistics.median(bare_fork_ms(args.pods)),
            "bare_python_ms": statistics.median(bare_python_ms(args.pods)),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name, value in results.items():
        print(f"{name:>16}: {value:8.1f}")
    ratio = results["spawn_create_ms"] / results["fork_create_ms"]
    print(f"spawn / fork: {ratio:.1f}x   (sandbox: {sandbox})")
    if args.json:
        print(json.dumps({**results, "spawn_over_fork": ratio, "sandbox": sandbox}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
