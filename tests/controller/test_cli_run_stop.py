"""Stopping `argoexec run` at any point, as a process: SIGTERM/SIGINT (once: stop; twice: abort)
and `argoexec stop` from another process, at points chosen at random (seeded) and at the
moments that matter (the loop being expanded, the first pods starting). Each run must end with
a terminal workflow whose every node is finished, on stdout (`-o json`) and in a valid
`workflow.json`, with no process of the run left (no bwrap, emissary or user process) and
every pod's directory cleaned but for its logs.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller.loop.runner import ABORT_MESSAGE, STOP_MESSAGE
from argoexec.controller.reconcile.context import CHILDREN_PER_PASS
from argoexec.controller.sandbox import find_bubblewrap
from tests.servers.procs import command_lines, require, wait_until

REPO = Path(__file__).resolve().parents[2]
FINISHED = {"Succeeded", "Failed", "Error", "Skipped", "Omitted"}
# A command line no other process has (another session's run of these tests included).
NAP = f"sleep 31.{random.randrange(10**6, 10**7)}"


def fan(items: int) -> str:
    """A loop of `items` pods (each sleeping), then an exit handler."""
    return f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{name: fan}}
spec:
  entrypoint: main
  onExit: bye
  templates:
  - name: main
    steps:
    - - name: fan
        template: nap
        arguments: {{parameters: [{{name: i, value: "{{{{item}}}}"}}]}}
        withSequence: {{count: "{items}"}}
  - name: nap
    inputs: {{parameters: [{{name: i}}]}}
    container: {{image: alpine, command: [sh, -c, "{NAP}"]}}
  - name: bye
    container: {{image: alpine, command: [sh, -c, "echo bye"]}}
"""


SLOW_EXIT = f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{name: slow-exit}}
spec:
  entrypoint: main
  onExit: bye
  templates:
  - name: main
    container: {{image: alpine, command: [sh, -c, "{NAP}"]}}
  - name: bye
    container: {{image: alpine, command: [sh, -c, "trap '' TERM; echo bye; {NAP}"]}}
"""


class Run:
    """One `argoexec run` process on a workflow file, with its state directory."""

    def __init__(self, tmp_path: Path, document: str, name: str, *flags: str) -> None:
        require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
        self.state = tmp_path / "state"
        self.dir = self.state / name
        workflow = tmp_path / "workflow.yaml"
        workflow.write_text(document)
        command = [sys.executable, "-m", "argoexec", "run", str(workflow), "-o", "json"]
        self.proc = subprocess.Popen(
            [*command, "--state-dir", str(self.state), "--max-pods", "2", *flags],
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_for(self, check: Callable[[], bool], what: str) -> None:
        wait_until(lambda: check() or self.proc.poll() is not None, 60, what)

    def workflow_written(self) -> bool:
        return (self.dir / "workflow.json").exists()

    def pods_started(self) -> bool:
        pods = self.dir / "pods"
        return pods.is_dir() and any(not p.name.startswith(".") for p in pods.iterdir())

    def node_running(self, suffix: str) -> bool:
        try:
            nodes = json.loads((self.dir / "workflow.json").read_text())["status"]["nodes"]
        except (OSError, ValueError, KeyError):
            return False
        return any(n["name"].endswith(suffix) and n["phase"] == "Running" for n in nodes.values())

    def log(self, pod_prefix: str, container: str) -> str:
        """The log of a container of the first pod whose name starts with `pod_prefix`."""
        for log in (self.dir / "pods").glob(f"{pod_prefix}*/logs/{container}.log"):
            return log.read_text(errors="replace")
        return ""

    def stop(self, how: str) -> None:
        if how == "stop":  # `argoexec stop NAME`, from another process
            done = subprocess.run(
                [sys.executable, "-m", "argoexec", "stop", self.dir.name],
                env={**_env(), "ARGOEXEC_STATE_DIR": str(self.state)},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
        else:
            self.proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)

    def finish(self) -> dict[str, Any]:
        """The final Workflow once the process ended, checked: printed and stored the same,
        terminal, every node finished, nothing of the run left behind."""
        out, err = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 1, err
        assert "Traceback" not in err, err
        final: dict[str, Any] = json.loads(out)
        stored = json.loads((self.dir / "workflow.json").read_text())
        assert stored["status"] == final["status"]
        assert final["status"]["phase"] == "Failed" and final["status"]["finishedAt"]
        for node in final["status"]["nodes"].values():
            assert node["phase"] in FINISHED and node["finishedAt"], node
        assert _processes_of(self.state) == []
        for pod in (self.dir / "pods").iterdir():
            if not pod.name.startswith("."):
                assert [p.name for p in pod.iterdir()] in (["logs"], []), pod
        return final


def _env() -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "HOME": os.environ["HOME"]}


def _processes_of(state: Path) -> list[str]:
    """Command lines of processes left by a run under `state`: its containers' bwrap (whose
    binds name the state directory) and the user processes (the NAP command)."""
    return [line[:200] for _, line in command_lines() if str(state) in line or NAP in line]


def _node(workflow: dict[str, Any], name: str) -> dict[str, Any]:
    for node in workflow["status"]["nodes"].values():
        if node["name"] == name:
            found: dict[str, Any] = node
            return found
    raise AssertionError(f"no node {name!r}")


def test_a_second_interrupt_during_a_slow_exit_handler_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    run = Run(tmp_path, SLOW_EXIT, "slow-exit")
    run.wait_for(lambda: run.node_running("slow-exit"), "main running")
    run.stop("sigint")
    run.wait_for(lambda: "bye" in run.log("slow-exit-bye-", "main"), "the exit handler's main")
    run.stop("sigint")
    final = run.finish()

    assert final["status"]["message"] == ABORT_MESSAGE
    assert _node(final, "slow-exit")["message"] == STOP_MESSAGE
    exit_node = _node(final, "slow-exit.onExit")
    assert (exit_node["phase"], exit_node["message"]) == ("Failed", ABORT_MESSAGE)


# (how, when): when is a moment of the run, or a delay (s) after its status first appears;
# the delays are random, seeded so that a failure can be run again.
_RANDOM = random.Random(9)
POINTS: list[tuple[str, str | float]] = [
    ("sigterm", "expanding"),
    ("stop", "expanding"),
    ("sigterm", "pods starting"),
    ("stop", "pods starting"),
    *((how, round(_RANDOM.uniform(0, 4), 2)) for how in ("sigterm", "stop", "sigint") * 2),
]


@pytest.mark.slow
@pytest.mark.parametrize(("how", "when"), POINTS)
def test_stopping_at_any_point_ends_the_run_cleanly(
    tmp_path: Path, how: str, when: str | float
) -> None:
    # While expanding: 300,000 items take seconds to expand, and the stop comes as soon as
    # the run has a status, during the first pass; otherwise the loop expands at once.
    items = 300_000 if when == "expanding" else 2000
    run = Run(tmp_path, fan(items), "fan", "--max-children", "0")
    run.wait_for(run.workflow_written, "the run's status")
    if when == "pods starting":
        run.wait_for(run.pods_started, "a pod")
    elif isinstance(when, float):
        time.sleep(when)
    run.stop(how)
    final = run.finish()

    assert final["status"]["message"] == STOP_MESSAGE
    assert _node(final, "fan.onExit")["phase"] == "Succeeded"
    if when == "expanding":  # one pass's batch of children at most was started
        # (none if the stop came before the first pass: the run has a status at once)
        nodes = final["status"]["nodes"].values()
        for group in (n for n in nodes if n["name"] == "fan[0]"):
            assert (group["phase"], group["message"]) == ("Failed", STOP_MESSAGE)
            assert len(group.get("children") or []) <= CHILDREN_PER_PASS
