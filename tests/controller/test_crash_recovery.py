"""Killing `argoexec run` (SIGKILL) at any point loses nothing: `argoexec controller
--exit-when-done` takes the run over and finishes it as if nothing had happened.

One workflow has every kind of node whose state the controller keeps: steps, a loop, a retried
step (its first attempt fails, its second succeeds), a suspend with a duration, a DAG, a global
output and an exit handler. It is run once uninterrupted: the reference. Then, for each kill
point, it is run again and its `argoexec run` killed with SIGKILL at that point, the controller
drives it to its end, and the outcome must be the reference's: the workflow's phase and global
outputs, and its nodes (id, name, type, phase).

Kill points are moments of the run, not delays: a stored status (a node reached a phase in
`workflow.json`: the loop stored what it had derived) or a pod's own files (a pod was just
created, or it ended and no controller has stored that yet). They are found by polling the
state directory; the kill lands a few milliseconds after the moment, never before.

No pod is created twice for the same node attempt: the main container of every pod appends its
pod's name to a file on a hostPath volume when it starts, so a pod that ran twice (or a node
attempt that got a second pod) shows there. (The runtime keeps no such count itself: a pod
started again under its name starts with fresh logs, and a deleted pod's supervisor files are
removed.) At the end no process of the run is left, and every pod's directory is cleaned but
for its logs.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller.render import pod_name_of
from argoexec.controller.sandbox import find_bubblewrap
from tests.servers.procs import command_lines, require, wait_until

REPO = Path(__file__).resolve().parents[2]
NAME = "crash"
# A command line no other process has (another session's run of these tests included): how the
# containers' user processes are found at the end.
NAP = f"sleep 0.4{random.randrange(10**6, 10**7)}"
FINAL = {"Succeeded", "Failed", "Error", "Skipped", "Omitted"}
RUN_TIMEOUT = 180.0  # seconds; a run takes some 10 s


def document(starts: Path) -> str:
    start = f"echo {{{{pod.name}}}} >> /starts/log; {NAP}"
    mount = "volumeMounts: [{name: starts, mountPath: /starts}]"
    return f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{name: {NAME}}}
spec:
  entrypoint: main
  onExit: bye
  volumes:
  - name: starts
    hostPath: {{path: "{starts}", type: Directory}}
  templates:
  - name: main
    steps:
    - - name: hello
        template: say
        arguments: {{parameters: [{{name: word, value: hello}}]}}
    - - name: fan
        template: say
        arguments: {{parameters: [{{name: word, value: "{{{{item}}}}"}}]}}
        withItems: [a, b, c]
      - name: flaky
        template: flaky
    - - name: pause
        template: pause
    - - name: graph
        template: graph
  - name: graph
    dag:
      tasks:
      - {{name: A, template: say, arguments: {{parameters: [{{name: word, value: a}}]}}}}
      - name: B
        depends: A
        template: say
        arguments: {{parameters: [{{name: word, value: b}}]}}
      - name: C
        depends: A
        template: say
        arguments: {{parameters: [{{name: word, value: c}}]}}
      - {{name: D, depends: B && C, template: publish}}
  - name: say
    inputs: {{parameters: [{{name: word}}]}}
    container:
      image: alpine
      command: [sh, -c]
      args: ["{start}; echo {{{{inputs.parameters.word}}}}"]
      {mount}
  - name: flaky
    retryStrategy: {{limit: 2}}
    container:
      image: alpine
      command: [sh, -c]
      args: ["{start}; test {{{{retries}}}} -ge 1"]
      {mount}
  - name: pause
    suspend: {{duration: "2s"}}
  - name: publish
    container:
      image: alpine
      command: [sh, -c]
      args: ["{start}; printf done > /tmp/out"]
      {mount}
    outputs:
      parameters:
      - {{name: out, globalName: result, valueFrom: {{path: /tmp/out}}}}
  - name: bye
    container:
      image: alpine
      command: [sh, -c]
      args: ["{start}; echo {{{{workflow.status}}}}"]
      {mount}
"""


def _env() -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "HOME": os.environ["HOME"]}


class Run:
    """A run of the workflow under `tmp`: its workflow file, state directory and start log."""

    def __init__(self, tmp: Path) -> None:
        require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
        self.tmp = tmp
        self.state = tmp / "state"
        self.dir = self.state / NAME
        self.starts = tmp / "starts"
        self.starts.mkdir()
        self.file = tmp / "workflow.yaml"
        self.file.write_text(document(self.starts))
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, *argv: str) -> subprocess.Popen[bytes]:
        """`argoexec ARGV` on the state directory; its output in `<tmp>/<command>.out|.err`."""
        out = self.tmp / f"{argv[0]}.out"
        with out.open("wb") as stdout, out.with_suffix(".err").open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-m", "argoexec", *argv, "--state-dir", str(self.state)],
                env=_env(),
                stdout=stdout,
                stderr=stderr,
            )
        self.procs.append(proc)
        return proc

    def run(self) -> subprocess.Popen[bytes]:
        return self.start("run", str(self.file), "-o", "json")

    def output(self, command: str) -> tuple[str, str]:
        out = self.tmp / f"{command}.out"
        return out.read_text(), out.with_suffix(".err").read_text()

    def workflow(self) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = json.loads((self.dir / "workflow.json").read_text())
        except (OSError, ValueError):
            return None
        return found

    def started_pods(self) -> collections.Counter[str]:
        """How many times each pod's container started (its name, once per start)."""
        try:
            lines = (self.starts / "log").read_text().split()
        except FileNotFoundError:
            return collections.Counter()
        return collections.Counter(lines)

    def processes(self) -> list[str]:
        """Command lines of processes of this run: supervisors (forked from a controller whose
        arguments name the state directory), containers' bwrap (whose binds do), and the
        containers' user processes (NAP)."""
        return [line for _, line in _processes(str(self.tmp))]

    def cleanup(self) -> None:
        """Whatever of the run a failed test left: its controllers, then each pod process."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
        for pid, _ in _processes(str(self.tmp)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def settled(self) -> None:
        """Wait (generously) until no process of the run is left; then none may be."""
        with contextlib.suppress(TimeoutError):
            wait_until(lambda: not self.processes(), 60, "the run's processes ending")
        assert self.processes() == []


def _processes(needle: str) -> list[tuple[int, str]]:
    return [(pid, line[:300]) for pid, line in command_lines() if needle in line or NAP in line]


@dataclass(frozen=True)
class Reference:
    workflow: dict[str, Any]
    pods: dict[str, str]  # node name -> the pod it ran in
    started: collections.Counter[str]


def outcome(workflow: dict[str, Any]) -> dict[str, Any]:
    """What must be the same however the run went: phase, global outputs, nodes."""
    status = workflow["status"]
    nodes = sorted(
        (n["id"], n["name"], n["type"], n["phase"]) for n in (status.get("nodes") or {}).values()
    )
    return {"phase": status.get("phase"), "outputs": status.get("outputs"), "nodes": nodes}


def finish(run: Run, proc: subprocess.Popen[bytes], command: str, *, code: int) -> str:
    proc.wait(timeout=RUN_TIMEOUT)
    out, err = run.output(command)
    assert "Traceback" not in err, err
    assert proc.returncode == code, err
    return out


def check_clean(run: Run, reference: Reference) -> None:
    """Nothing of the run runs any more; every pod ran once; the pods' directories hold only
    their logs."""
    run.settled()
    started = run.started_pods()
    assert [pod for pod, times in started.items() if times > 1] == []
    assert set(started) == set(reference.started)
    pods = sorted(p for p in (run.dir / "pods").iterdir() if not p.name.startswith("."))
    assert [p.name for p in pods] == sorted(reference.pods.values())
    for pod in pods:
        assert [p.name for p in pod.iterdir()] in (["logs"], []), pod


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    """The workflow run once without interruption."""
    run = Run(tmp_path_factory.mktemp("reference"))
    try:
        out = finish(run, run.run(), "run", code=0)
        final: dict[str, Any] = json.loads(out)
        assert final["status"]["phase"] == "Succeeded"
        assert final["status"]["outputs"] == {"parameters": [{"name": "result", "value": "done"}]}
        pods = {
            n["name"]: str(pod_name_of(final, n))
            for n in final["status"]["nodes"].values()
            if n["type"] == "Pod"
        }
        found = Reference(final, pods, run.started_pods())
        assert set(found.started) == set(pods.values())
        check_clean(run, found)
        yield found
    finally:
        run.cleanup()


# --- kill points ------------------------------------------------------------------------------

_RANK = {"Pending": 0, "Running": 1}


def _rank(phase: str) -> int:
    return _RANK.get(phase, 2)  # any final phase


Check = Callable[[Run, Reference], bool]


def stored(node: str, phase: str) -> Check:
    """The stored status has `node` (by display name, or the workflow's onExit node) in
    `phase` or a later one (Pending < Running < any final phase)."""

    def check(run: Run, reference: Reference) -> bool:
        workflow = run.workflow()
        nodes = ((workflow or {}).get("status") or {}).get("nodes") or {}
        return any(
            n.get("displayName") == node and _rank(str(n.get("phase"))) >= _rank(phase)
            for n in nodes.values()
        )

    return check


def submitted(run: Run, reference: Reference) -> bool:
    return run.workflow() is not None


def pod_created(node: str) -> Check:
    """The pod of `node` exists (its creator has just claimed its name)."""
    return lambda run, ref: (run.dir / "pods" / ref.pods[_full(node, ref)]).exists()


def pod_ended(node: str) -> Check:
    """The pod of `node` has ended (its supervisor recorded it; maybe no controller saw it)."""

    def check(run: Run, reference: Reference) -> bool:
        pod = run.dir / "pods" / reference.pods[_full(node, reference)]
        try:
            status = json.loads((pod / "supervisor" / "status.json").read_text())
        except (OSError, ValueError):
            return stored(node, "Succeeded")(run, reference)  # gone: deleted after its end
        return status.get("phase") in ("Succeeded", "Failed")

    return check


def _full(display: str, reference: Reference) -> str:
    for node in reference.workflow["status"]["nodes"].values():
        if node.get("displayName") == display:
            return str(node["name"])
    raise KeyError(display)


POINTS: dict[str, Check] = {
    "submitted": submitted,
    "hello-pod-created": pod_created("hello"),
    "hello-stored-running": stored("hello", "Running"),
    "hello-pod-ended": pod_ended("hello"),
    "fan-stored-pending": stored("fan(0:a)", "Pending"),
    "fan-c-pod-created": pod_created("fan(2:c)"),
    "flaky-0-pod-ended": pod_ended("flaky(0)"),
    "flaky-0-stored-failed": stored("flaky(0)", "Failed"),
    "flaky-1-pod-created": pod_created("flaky(1)"),
    "flaky-1-pod-ended": pod_ended("flaky(1)"),
    "pause-stored-running": stored("pause", "Running"),
    "pause-stored-succeeded": stored("pause", "Succeeded"),
    "dag-a-pod-created": pod_created("A"),
    "dag-a-stored-succeeded": stored("A", "Succeeded"),
    "dag-b-pod-ended": pod_ended("B"),
    "dag-d-pod-ended": pod_ended("D"),
    "dag-d-stored-succeeded": stored("D", "Succeeded"),
    "exit-pod-created": pod_created("crash.onExit"),
    "exit-stored-running": stored("crash.onExit", "Running"),
    "exit-pod-ended": pod_ended("crash.onExit"),
}


def kill_at(run: Run, proc: subprocess.Popen[bytes], point: Check, reference: Reference) -> None:
    """SIGKILL `proc` as soon as `point` is reached; it must not have ended before."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while not point(run, reference):
        if proc.poll() is not None:
            _, err = run.output("run")
            pytest.fail(f"the run ended before the kill point (exit {proc.returncode}): {err}")
        assert time.monotonic() < deadline, "the kill point was never reached"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=RUN_TIMEOUT)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.timeout(RUN_TIMEOUT * 2)
@pytest.mark.parametrize("point", list(POINTS))
def test_a_run_killed_at_any_point_is_finished_by_the_controller_as_if_never_killed(
    tmp_path: Path, reference: Reference, point: str
) -> None:
    run = Run(tmp_path)
    try:
        kill_at(run, run.run(), POINTS[point], reference)
        finish(run, run.start("controller", "--exit-when-done"), "controller", code=0)

        final = run.workflow()
        assert final is not None
        assert outcome(final) == outcome(reference.workflow)
        for node in final["status"]["nodes"].values():
            assert node["phase"] in FINAL and node.get("finishedAt"), node
        check_clean(run, reference)
    finally:
        run.cleanup()
