"""`synchronization` across `argoexec run` processes sharing one state directory: a mutex makes
the second run wait (Pending, Argo's message and status) until the first has finished, and a
ConfigMap semaphore of 2 (given with --templates) runs two of three runs at once. Real processes;
each run's pod waits for a gate file the test creates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.servers.procs import wait_until

REPO = Path(__file__).resolve().parents[2]
MUTEX = "default/Mutex/shared"
SEMAPHORE = "default/ConfigMap/limits/runs"


def _document(name: str, gate: Path, sync: str) -> str:
    return f"""
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{name: {name}}}
spec:
  entrypoint: main
  synchronization: {sync}
  templates:
  - name: main
    container:
      image: alpine
      command: [sh, -c, "while [ ! -e {gate} ]; do sleep 0.1; done; echo {name}"]
"""


LIMITS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: limits}
data: {runs: "2"}
"""


class Runs:
    """`argoexec run` processes on one state directory (unsandboxed: the gate is a host path)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.state = tmp_path / "state"
        self.gate = tmp_path / "gate"
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def start(self, name: str, sync: str, *flags: str) -> None:
        path = self.tmp / f"{name}.yaml"
        path.write_text(_document(name, self.gate, sync))
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "HOME": os.environ["HOME"]}
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "argoexec", "run", str(path), "-o", "json", "--no-sandbox",
             "--state-dir", str(self.state), *flags],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def status(self, name: str) -> dict[str, Any]:
        try:
            found: dict[str, Any] = json.loads((self.state / name / "workflow.json").read_text())
        except (OSError, ValueError):
            return {}
        return found.get("status") or {}

    def wait_phase(self, name: str, phase: str) -> None:
        wait_until(lambda: self.status(name).get("phase") == phase, 60, f"{name} {phase}")

    def finish(self, name: str) -> dict[str, Any]:
        out, err = self.procs[name].communicate(timeout=90)
        assert self.procs[name].returncode == 0, err
        status: dict[str, Any] = json.loads(out)["status"]
        return status

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()


def test_a_mutex_makes_the_second_run_wait_until_the_first_has_finished(tmp_path: Path) -> None:
    runs = Runs(tmp_path)
    try:
        mutex = "{mutexes: [{name: shared}]}"
        runs.start("first", mutex)
        runs.wait_phase("first", "Running")
        runs.start("second", mutex)
        runs.wait_phase("second", "Pending")
        waiting = runs.status("second")
        assert waiting["message"] == f"Waiting for {MUTEX} lock. Lock status: 0/1"
        assert waiting["synchronization"]["mutex"]["waiting"] == [
            {"mutex": MUTEX, "holder": "default/first"}
        ]
        assert runs.status("first")["synchronization"]["mutex"]["holding"] == [
            {"mutex": MUTEX, "holder": "default/first"}
        ]
        pods = runs.state / "second" / "pods"
        assert [p.name for p in pods.iterdir() if not p.name.startswith(".")] == []
        runs.gate.touch()
        first, second = runs.finish("first"), runs.finish("second")
    finally:
        runs.close()
    assert first["phase"] == second["phase"] == "Succeeded"
    assert "synchronization" not in first and "synchronization" not in second
    assert second["startedAt"] >= first["finishedAt"]
    locks = json.loads((runs.state / "synchronization.json").read_text())
    assert locks == {}


def test_a_semaphore_of_two_runs_two_of_three_runs_at_once(tmp_path: Path) -> None:
    runs = Runs(tmp_path)
    limits = tmp_path / "limits.yaml"
    limits.write_text(LIMITS)
    semaphore = "{semaphores: [{configMapKeyRef: {name: limits, key: runs}}]}"
    names = ("one", "two", "three")
    try:
        for name in names:
            runs.start(name, semaphore, "--templates", str(limits))
            wait_until(lambda n=name: bool(runs.status(n).get("phase")), 60, f"{name} started")
        phases = sorted(runs.status(name)["phase"] for name in names)
        assert phases == ["Pending", "Running", "Running"]
        pending = next(n for n in names if runs.status(n)["phase"] == "Pending")
        assert runs.status(pending)["message"] == (
            f"Waiting for {SEMAPHORE} lock. Lock status: 0/2"
        )
        runs.gate.touch()
        finals = [runs.finish(name) for name in names]
    finally:
        runs.close()
    assert [f["phase"] for f in finals] == ["Succeeded"] * 3


def test_a_waiting_run_killed_is_driven_to_its_end_by_the_controller(tmp_path: Path) -> None:
    runs = Runs(tmp_path)
    mutex = "{mutexes: [{name: shared}]}"
    try:
        runs.start("first", mutex)
        runs.wait_phase("first", "Running")
        runs.start("second", mutex)
        runs.wait_phase("second", "Pending")
        runs.procs["second"].kill()  # nobody drives `second` now; it stays Pending
        runs.procs["second"].communicate()
        runs.gate.touch()
        assert runs.finish("first")["phase"] == "Succeeded"
        env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "HOME": os.environ["HOME"]}
        done = subprocess.run(
            [sys.executable, "-m", "argoexec", "controller", "--exit-when-done",
             "--state-dir", str(runs.state)],
            env=env, capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    finally:
        runs.close()
    second = runs.status("second")
    assert second["phase"] == "Succeeded" and "synchronization" not in second
    assert json.loads((runs.state / "synchronization.json").read_text()) == {}
