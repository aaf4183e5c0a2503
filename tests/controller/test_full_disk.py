"""A full disk under the state directory or the artifact repository (a small tmpfs): ENOSPC is
named with its path, the containers' real outcomes are kept, the state is never half-written,
and no run is left without a state."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from argoexec.cli import main
from argoexec.controller.sandbox import find_bubblewrap
from tests.servers.procs import require, wait_until
from tests.tmpfs import fill, tmpfs

# The container fills its emptyDir, which lives in the pod's directory under the state
# directory (its own root is in memory).
FILL_TMP = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: fill}
spec:
  entrypoint: main
  volumes: [{name: scratch, emptyDir: {}}]
  templates:
  - name: main
    container:
      image: alpine
      command: [sh, -c, "head -c 3000000 /dev/zero > /data/big; echo done; exit 0"]
      volumeMounts: [{name: scratch, mountPath: /data}]
"""

BIG_OUTPUT = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: big}
spec:
  entrypoint: main
  templates:
  - name: main
    container:
      image: alpine
      command: [sh, -c, "head -c 3000000 /dev/urandom > /tmp/big"]
    outputs:
      artifacts:
      - {name: big, path: /tmp/big}
"""


@pytest.fixture(autouse=True)
def sandbox() -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["run", *args, "-o", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else {}, err


def no_partial_files(directory: Path) -> bool:
    return not [
        p for p in directory.rglob("*") if p.name.startswith((".argoexec-tmp-", ".workflow"))
    ]


def test_a_container_that_fills_the_state_dir_keeps_its_outcome_and_enospc_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "wf.yaml").write_text(FILL_TMP)
    with tmpfs(tmp_path / "small", size="1m") as small:
        state = small / "state"
        code, workflow, err = run(capsys, str(tmp_path / "wf.yaml"), "--state-dir", str(state))
        assert code == 1, err
        node = next(iter(workflow["status"]["nodes"].values()))
        # main ran and exited 0; what failed is saving its result, for want of room
        assert node["outputs"]["exitCode"] == "0"
        assert node["phase"] == "Error"
        assert f"{state}/fill/pods/fill: No space left on device" in node["message"]
        assert "Traceback" not in err
        # the final state was recorded whole (the pod's files are gone, so there was room)
        recorded = json.loads((state / "fill" / "workflow.json").read_text())
        assert recorded["status"]["phase"] == "Error"
        assert recorded["status"]["nodes"][node["id"]]["message"] == node["message"]
        assert no_partial_files(state)
        code = main(["list", "--state-dir", str(state)])
        out = capsys.readouterr().out
        assert code == 0
        assert "fill  Error" in out and "orphaned" not in out


@pytest.mark.parametrize("room", [0, 8192], ids=["no-room", "room-for-the-run-dir-only"])
def test_a_run_whose_state_cannot_be_recorded_does_not_start_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], room: int
) -> None:
    (tmp_path / "wf.yaml").write_text(FILL_TMP)
    with tmpfs(tmp_path / "small", size="256k") as small:
        state = small / "state"
        state.mkdir()
        fill(small, leave=room)
        code, workflow, err = run(capsys, str(tmp_path / "wf.yaml"), "--state-dir", str(state))
        assert (code, workflow) == (64, {})
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert f"{state}/fill" in lines[0] and "No space left on device" in lines[0]
        assert "Errno" not in lines[0]
        assert list(state.iterdir()) == []  # no run without a state is left to be listed
        assert main(["list", "--state-dir", str(state)]) == 0
        assert capsys.readouterr().out == "No workflows found\n"


PAUSE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: pause}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: pause, template: pause}
  - name: pause
    suspend: {duration: 3s}
"""


def test_state_that_cannot_be_written_mid_run_is_said_once_and_never_half_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The disk fills up while the workflow waits: the run goes on, says once why its state is
    not written, and fails at the end naming the file; what was recorded stays whole."""
    (tmp_path / "wf.yaml").write_text(PAUSE)
    with tmpfs(tmp_path / "small", size="256k") as small:
        state = small / "state"
        recorded = state / "pause" / "workflow.json"

        def suspended() -> bool:
            nodes = json.loads(recorded.read_text())["status"]["nodes"].values()
            return any(n["type"] == "Suspend" and n["phase"] == "Running" for n in nodes)

        def fill_when_suspended() -> None:
            wait_until(suspended, 30, "the suspended node")
            fill(small)

        filler = threading.Thread(target=fill_when_suspended)
        filler.start()
        try:  # its own process: one that ended, as `stop` will see below
            argv = ["run", "wf.yaml", "--state-dir", str(state), "-o", "json"]
            done = subprocess.run(
                [sys.executable, "-m", "argoexec", *argv],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        finally:
            filler.join()
        code, workflow, err = done.returncode, json.loads(done.stdout), done.stderr
        assert code == 64
        assert workflow["status"]["phase"] == "Succeeded"  # the outcome is still shown
        cannot = f"cannot write {recorded}: No space left on device"
        assert err.count(f"{cannot}; the run goes on") <= 1, err  # said once at most
        assert (
            f"workflow pause ended Succeeded, but its final state could not be recorded: {cannot}"
            in err
        )
        assert suspended()  # the last state recorded, whole
        assert no_partial_files(state)
        # its process is gone: `stop` drives it to its end (Failed) once there is room again
        (small / ".filler").unlink()
        assert main(["stop", "pause", "--state-dir", str(state)]) == 1
        capsys.readouterr()
        assert json.loads(recorded.read_text())["status"]["phase"] == "Failed"


def test_a_full_artifact_repository_is_named_and_leaves_no_partial_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "wf.yaml").write_text(BIG_OUTPUT)
    with tmpfs(tmp_path / "repo", size="1m") as repo:
        (tmp_path / "repo.yaml").write_text(f"local: {{root: {repo}}}\n")
        code, workflow, err = run(
            capsys,
            str(tmp_path / "wf.yaml"),
            "--state-dir",
            str(tmp_path / "state"),
            "--artifact-repository",
            str(tmp_path / "repo.yaml"),
        )
        assert code == 1, err
        node = next(iter(workflow["status"]["nodes"].values()))
        assert node["outputs"]["exitCode"] == "0"  # main's own outcome
        assert "artifact 'big'" in node["message"]
        assert f"under root '{repo}': No space left on device" in node["message"]
        assert no_partial_files(repo)
