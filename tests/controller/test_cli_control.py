"""`argoexec retry`, `resubmit`, `terminate`, `suspend` and `resume`: changes to the stored
Workflow, which the controller driving the run (or the command itself) acts on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from argoexec.cli import main
from argoexec.controller.sandbox import find_bubblewrap
from tests.servers.procs import require, wait_until

REPO = Path(__file__).resolve().parents[2]

FLAKY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: flaky}
spec:
  entrypoint: main
  arguments: {parameters: [{name: fail, value: "yes"}]}
  templates:
  - name: main
    steps:
    - - {name: first, template: ok}
    - - {name: second, template: maybe}
  - name: ok
    container: {image: alpine, command: [sh, -c, "echo first"]}
  - name: maybe
    container:
      image: alpine
      command: [sh, -c, "test {{workflow.parameters.fail}} = no"]
"""

SLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: slow}
spec:
  entrypoint: main
  onExit: bye
  templates:
  - name: main
    steps:
    - - {name: a, template: nap}
    - - {name: b, template: quick}
  - name: nap
    container: {image: alpine, command: [sh, -c, "echo started; sleep 3"]}
  - name: quick
    container: {image: alpine, command: [sh, -c, "echo quick"]}
  - name: bye
    container: {image: alpine, command: [sh, -c, "echo bye"]}
"""


@pytest.fixture(autouse=True)
def _bwrap() -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")


def stored(state: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((state / name / "workflow.json").read_text())
    return loaded


def nodes(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in workflow["status"]["nodes"].values()}


def test_retry_resets_the_failed_node_keeps_the_succeeded_one_and_runs_to_the_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "wf.yaml").write_text(FLAKY)
    state = tmp_path / "state"
    assert main(["run", str(tmp_path / "wf.yaml"), "--state-dir", str(state)]) == 1
    failed = stored(state, "flaky")
    first = nodes(failed)["flaky[0].first"]
    capsys.readouterr()

    assert main(["retry", "flaky", "-p", "fail=no", "--state-dir", str(state)]) == 0
    final = stored(state, "flaky")
    assert final["status"]["phase"] == "Succeeded"
    assert nodes(final)["flaky[0].first"] == first  # kept as it was: it is not run again
    assert nodes(final)["flaky[1].second"]["phase"] == "Succeeded"
    assert {p["name"]: p["value"] for p in final["spec"]["arguments"]["parameters"]} == {
        "fail": "no"
    }


def test_resubmit_runs_the_same_spec_again_under_a_new_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "wf.yaml").write_text(FLAKY)
    state = tmp_path / "state"
    args = ["run", str(tmp_path / "wf.yaml"), "-p", "fail=no", "--state-dir", str(state)]
    assert main(args) == 0
    capsys.readouterr()
    assert main(["resubmit", "flaky", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    name = out.split()[1]
    assert name.startswith("flaky-") and name != "flaky"
    again = stored(state, name)
    assert again["status"]["phase"] == "Succeeded"
    labels = again["metadata"].get("labels") or {}
    assert labels.get("workflows.argoproj.io/resubmitted-from-workflow") == "flaky"


def _run_in_background(tmp_path: Path, document: str) -> subprocess.Popen[str]:
    (tmp_path / "wf.yaml").write_text(document)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "HOME": os.environ["HOME"]}
    argv = [sys.executable, "-m", "argoexec", "run", "wf.yaml", "-o", "json"]
    return subprocess.Popen(
        [*argv, "--state-dir", "state"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _node_phase(state: Path, name: str, node: str) -> str | None:
    try:
        found = nodes(stored(state, name)).get(node)
    except (OSError, ValueError, KeyError):
        return None
    return found["phase"] if found else None


def test_terminate_from_another_process_ends_the_run_without_its_exit_handler(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proc = _run_in_background(tmp_path, SLOW)
    state = tmp_path / "state"
    try:
        wait_until(lambda: _node_phase(state, "slow", "slow[0].a") == "Running", 60, "a runs")
        assert main(["terminate", "slow", "--state-dir", str(state)]) == 0
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 1, err
    final = json.loads(out)
    assert final["status"]["message"] == "Stopped with strategy 'Terminate'"
    assert "slow[1].b" not in nodes(final)
    assert "slow.onExit" not in nodes(final)  # Terminate runs no exit handler


def test_suspend_holds_new_steps_until_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proc = _run_in_background(tmp_path, SLOW)
    state = tmp_path / "state"
    try:
        wait_until(lambda: _node_phase(state, "slow", "slow[0].a") == "Running", 60, "a runs")
        assert main(["suspend", "slow", "--state-dir", str(state)]) == 0
        wait_until(lambda: _node_phase(state, "slow", "slow[0].a") == "Succeeded", 60, "a ends")
        time.sleep(1.0)  # passes go by: nothing new starts while suspended
        assert _node_phase(state, "slow", "slow[1].b") is None
        assert main(["resume", "slow", "--state-dir", str(state)]) == 0
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err
    final = json.loads(out)
    assert nodes(final)["slow[1].b"]["phase"] == "Succeeded"
    assert nodes(final)["slow.onExit"]["phase"] == "Succeeded"


METERED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: metered}
spec:
  entrypoint: main
  metrics:
    prometheus:
    - name: metered_runs
      help: runs by outcome
      labels: [{key: status, value: "{{workflow.status}}"}]
      counter: {value: "1"}
  templates:
  - name: main
    steps:
    - - {name: a, template: nap}
    - - {name: b, template: quick}
  - name: nap
    container: {image: alpine, command: [sh, -c, "echo started; sleep 2"]}
  - name: quick
    metrics:
      prometheus:
      - {name: quick_done, help: quick steps done, counter: {value: "1"}}
    container: {image: alpine, command: [sh, -c, "echo quick"]}
"""


def test_a_run_taken_over_by_the_controller_records_the_metrics_emitted_from_then_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proc = _run_in_background(tmp_path, METERED)
    state = tmp_path / "state"
    try:
        wait_until(lambda: _node_phase(state, "metered", "metered[0].a") == "Running", 60, "a runs")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    assert main(["controller", "--state-dir", str(state), "--exit-when-done"]) == 0
    capsys.readouterr()
    assert stored(state, "metered")["status"]["phase"] == "Succeeded"
    assert main(["get", "metered", "--state-dir", str(state), "-o", "metrics"]) == 0
    text = capsys.readouterr().out
    assert "quick_done 1" in text, text
    assert 'metered_runs{status="Succeeded"} 1' in text, text
