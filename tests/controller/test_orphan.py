"""A run whose ``argoexec run`` was killed with SIGKILL: shown as orphaned; its pods run on, and
``argoexec stop`` drives it to its end (Failed, every node terminal, the exit handler run,
nothing left behind). A run of an older argoexec (no options recorded) is finished by
``controller.orphan`` instead."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from argoexec.cli import main
from argoexec.controller.orphan import stopped
from argoexec.controller.processes import kill_session, pid_alive, start_ticks
from argoexec.controller.render import pod_name_of, pod_nodes
from argoexec.controller.runtime.volumes import PodDirs
from argoexec.controller.sandbox import find_bubblewrap
from argoexec.controller.state import StateError, StateStore
from tests.servers.procs import require, wait_until

SLEEPY = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: sleepy}
spec:
  entrypoint: main
  onExit: bye
  templates:
  - name: main
    steps:
    - - {name: a, template: sleep}
      - {name: b, template: sleep}
  - name: sleep
    container:
      image: alpine
      command: [sh, -c, "head -c 2000000 /dev/zero > /tmp/big; echo started; sleep 600"]
  - name: bye
    container: {image: alpine, command: [echo, bye]}
"""


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def workflow_of(state: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((state / "sleepy" / "workflow.json").read_text())
    return loaded


def both_started(state: Path) -> bool:
    workflow = workflow_of(state)
    pods = [pod_name_of(workflow, node) for node in pod_nodes(workflow)]
    logs = [state / "sleepy" / "pods" / str(pod) / "logs" / "main.log" for pod in pods]
    return len(pods) == 2 and all(p.is_file() and "started" in p.read_text() for p in logs)


@dataclass
class Killed:
    state: Path
    sandboxed: bool
    sessions: list[tuple[int, str | None]]  # the containers' recorded sessions


@pytest.fixture(params=["sandboxed", "unsandboxed"])
def killed_run(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Killed]:
    """`sleepy`, whose `argoexec run` (relative --state-dir) was SIGKILLed while both of its
    pods ran, each with 2 MB in its /tmp."""
    sandboxed = request.param == "sandboxed"
    if sandboxed:
        require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    (tmp_path / "wf.yaml").write_text(SLEEPY)
    state = tmp_path / "state"
    argv = [sys.executable, "-m", "argoexec", "run", "wf.yaml", "--state-dir", "state"]
    controller = subprocess.Popen(
        argv if sandboxed else [*argv, "--no-sandbox"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: both_started(state), 60, "both pods of the workflow")
    finally:
        controller.send_signal(signal.SIGKILL)
        controller.wait(30)
    pods = (state / "sleepy" / "pods").glob("sleepy-*")
    killed = Killed(state, sandboxed, [s for p in pods for s in PodDirs(p).recorded_processes()])
    yield killed
    for pid, ticks in killed.sessions:  # never leave a process behind
        kill_session(pid, ticks)


def test_a_runs_pods_outlive_its_controller_and_stop_drives_the_run_to_its_end(
    killed_run: Killed, capsys: pytest.CaptureFixture[str]
) -> None:
    state, root = killed_run.state, str(killed_run.state)
    code, out, _ = run_cli(capsys, "list", "--state-dir", root)
    assert code == 0
    assert "sleepy  Running (orphaned)" in out
    pods = sorted((state / "sleepy" / "pods").glob("sleepy-*"))
    assert len(pods) == 2
    assert len(killed_run.sessions) == 6  # init, wait and main of each pod
    # The pods run on without the controller that created them (sandboxed or not).
    assert any(pid_alive(pid) for pid, _ in killed_run.sessions)

    code, out, err = run_cli(capsys, "stop", "sleepy", "--state-dir", root)
    assert code == 1, err  # driven here to its end: Failed
    assert out.startswith("workflow sleepy stopped\n")

    workflow = workflow_of(state)
    status = workflow["status"]
    assert status["phase"] == "Failed"
    assert status["message"] == "Stopped with strategy 'Stop'"
    assert status["finishedAt"]
    for node in status["nodes"].values():
        assert node["phase"] not in ("Pending", "Running"), node
        assert node["finishedAt"], node
    messages = {n["displayName"]: n.get("message") for n in pod_nodes(workflow)}
    assert messages["a"] == messages["b"] == "Stopped with strategy 'Stop'"
    assert messages["sleepy.onExit"] is None  # the exit handler ran, and succeeded
    for pod in pods:  # the pods' directories are gone but for their logs
        assert sorted(p.name for p in pod.iterdir()) == ["logs"]
        assert "started" in (pod / "logs" / "main.log").read_text()
    assert not any(pid_alive(pid) for pid, _ in killed_run.sessions)

    code, out, _ = run_cli(capsys, "list", "--state-dir", root)
    assert "sleepy  Failed" in out
    code, _, err = run_cli(capsys, "stop", "sleepy", "--state-dir", root)
    assert code == 64
    assert "workflow 'sleepy' is not running: it has finished (Failed)" in err


def test_a_run_that_died_before_recording_its_state_is_shown_so_and_stop_finishes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    run = StateStore(tmp_path).create("early", owner=gone.pid)
    (run.pods_dir / "early-x" / "volumes").mkdir(parents=True)
    code, out, _ = run_cli(capsys, "list", "--state-dir", str(tmp_path))
    assert code == 0
    assert "early  Pending (orphaned)" in out
    assert f"its process (pid {gone.pid}) ended before it recorded any state" in out
    code, out, err = run_cli(capsys, "stop", "early", "--state-dir", str(tmp_path))
    assert code == 0, err
    status = run.read_workflow()["status"]
    assert status["phase"] == "Failed"
    assert status["message"] == (
        f"Stopped with strategy 'Stop': the process that ran it (pid {gone.pid}) had died "
        "before it recorded any state"
    )
    assert not (run.pods_dir / "early-x" / "volumes").exists()


def test_a_live_run_without_state_yet_is_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    StateStore(tmp_path).create("fresh", owner=os.getpid())
    code, out, _ = run_cli(capsys, "list", "--state-dir", str(tmp_path))
    assert code == 0
    assert "fresh  Pending" in out and "starting: no state recorded yet" in out
    assert "orphaned" not in out


def test_a_stop_message_is_kept_and_an_exit_handler_under_way_did_not_finish() -> None:
    workflow = {
        "metadata": {"name": "wf"},
        "spec": {"entrypoint": "main", "onExit": "bye"},
        "status": {
            "phase": "Running",
            "nodes": {
                "wf": {"name": "wf", "phase": "Failed", "finishedAt": "2026-01-01T00:00:00Z"},
                "wf-1": {"name": "wf.onExit", "phase": "Running"},
                "wf-2": {"name": "wf.onExit.x", "phase": "Pending"},
            },
        },
    }
    final = stopped(workflow, "enough", pid=42, now=1_800_000_000)
    status = final["status"]
    assert status["message"] == (
        "enough: the process that ran it (pid 42) had died; its exit handler did not finish"
    )
    assert status["nodes"]["wf"]["finishedAt"] == "2026-01-01T00:00:00Z"  # finished: unchanged
    for node in ("wf-1", "wf-2"):
        assert status["nodes"][node] == {
            "name": status["nodes"][node]["name"],
            "phase": "Failed",
            "message": "enough",
            "finishedAt": "2027-01-15T08:00:00Z",
        }
    assert workflow["status"]["phase"] == "Running"  # the input is not changed


def test_two_stops_of_one_orphan_do_not_both_finish_it(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    run = StateStore(tmp_path).create("early", owner=gone.pid)
    from argoexec.controller.orphan import stop_orphan

    with run.exclusive(), pytest.raises(StateError, match="being changed by another process"):
        stop_orphan(run, "")
    assert not run.has_state()


def test_a_session_whose_leader_pid_was_reused_is_left_alone() -> None:
    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        ticks = start_ticks(other.pid)
        assert ticks is not None
        assert kill_session(other.pid, str(int(ticks) - 1)) == []  # another start time
        assert pid_alive(other.pid)
        assert kill_session(other.pid, ticks) == [other.pid]
        assert other.wait(10) == -signal.SIGKILL
    finally:
        other.kill()
