"""What the in-container emissary adds to a container's command: ``python -m bench.emissary_start
[--runs 40] [--json] [BINARY | LABEL=BINARY ...]`` (default: build/emissary/argoexec).

For each binary (``sh images/emissary/build.sh`` builds one; pass an older build as ``old=PATH``
to compare in the same run) and each scenario, runs ``BINARY emissary -- /bin/true`` over a
fresh temporary ``/var/run/argo`` and reports the median and 90th percentile wall time, and the
median overhead over running ``/bin/true`` directly. Runs are interleaved (one of each in turn),
so a busy machine slows every column alike. Scenarios:

* ``plain``: a template with no outputs (the common container);
* ``capture``: the same with ``ARGO_INCLUDE_SCRIPT_OUTPUT=true`` (stdout/combined tees);
* ``params``: a template with two output parameters whose files exist (copied after the run);
* ``kill``: ``BINARY kill 0 PID``, the interpreter's own start and exit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRUE = "/bin/true"
SCENARIOS = ("plain", "capture", "params", "kill")


def _run(argv: list[str], env: dict[str, str]) -> float:
    """Wall time of one run in milliseconds; stdout/stderr to /dev/null."""
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        began = time.perf_counter()
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, devnull, 1),
                (os.POSIX_SPAWN_DUP2, devnull, 2),
            ],
        )
        _, status = os.waitpid(pid, 0)
        elapsed = (time.perf_counter() - began) * 1000
    finally:
        os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed with status {status}")
    return elapsed


class Scenario:
    """One scenario's command line and environment over its own temporary /var/run/argo."""

    def __init__(self, name: str, scratch: Path) -> None:
        self.name = name
        self.root = scratch / name / "var-run-argo"
        self.root.mkdir(parents=True)
        template: dict[str, object] = {}
        if name == "params":
            params = []
            for index in range(2):
                source = scratch / name / f"param-{index}"
                source.write_text(f"value {index}")
                params.append({"name": f"p{index}", "valueFrom": {"path": str(source)}})
            template = {"outputs": {"parameters": params}}
        (self.root / "template").write_text(json.dumps(template))
        self.env = {
            "PATH": "/usr/bin:/bin",
            "ARGO_CONTAINER_NAME": "main",
            "ARGOEXEC_VAR_RUN_DIR": str(self.root),
            "ARGOEXEC_TERMINATION_LOG": str(scratch / name / "termination-log"),
            "ARGO_DEADLINE": "0001-01-01T00:00:00Z",  # what Argo sets without a deadline
        }
        if name == "capture":
            self.env["ARGO_INCLUDE_SCRIPT_OUTPUT"] = "true"

    def argv(self, binary: str) -> list[str]:
        if self.name == "kill":
            return [binary, "kill", "0", str(os.getpid())]
        return [binary, "emissary", "--", TRUE]

    def reset(self) -> None:
        """Each run starts as a fresh container: no ctr/ or outputs/ from the last one."""
        for sub in ("ctr", "outputs"):
            shutil.rmtree(self.root / sub, ignore_errors=True)


def measure(binaries: dict[str, str], runs: int) -> dict[str, dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {"true": {"-": []}}
    for label in binaries:
        times[label] = {name: [] for name in SCENARIOS}
    with tempfile.TemporaryDirectory(prefix="emissary-start-") as scratch:
        scenarios = [Scenario(name, Path(scratch)) for name in SCENARIOS]
        for _ in range(runs):
            times["true"]["-"].append(_run([TRUE], {"PATH": "/usr/bin:/bin"}))
            for scenario in scenarios:
                for label, binary in binaries.items():
                    scenario.reset()
                    times[label][scenario.name].append(_run(scenario.argv(binary), scenario.env))
    return times


def report(times: dict[str, dict[str, list[float]]]) -> str:
    base = statistics.median(times["true"]["-"])
    lines = [f"{'binary':<10} {'scenario':<9} {'median':>8} {'p90':>8} {'overhead':>9}  (ms)"]
    for label, by_scenario in times.items():
        for name, values in by_scenario.items():
            median = statistics.median(values)
            p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else median
            over = "" if label == "true" else f"{median - base:9.2f}"
            lines.append(f"{label:<10} {name:<9} {median:8.2f} {p90:8.2f} {over:>9}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--json", action="store_true", help="raw times as JSON")
    parser.add_argument("binaries", nargs="*", help="BINARY or LABEL=BINARY")
    args = parser.parse_args()
    binaries: dict[str, str] = {}
    for index, spec in enumerate(args.binaries or [str(REPO / "build/emissary/argoexec")]):
        label, _, path = spec.rpartition("=")
        binaries[label or f"b{index}"] = os.path.abspath(path)
    times = measure(binaries, args.runs)
    sys.stdout.write((json.dumps(times) if args.json else report(times)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
