"""``argoexec run --runtime podman`` as a process, for the podman end-to-end tests.

Each run is its own ``python -m argoexec run FILE ... --runtime podman -o json`` process (this
checkout's code, the project's ``containers.conf``), so that independent workflows run at once
on a small thread pool: a pod costs about a second of podman's time and a workflow mostly waits
for its pods. The result is `tests.controller.test_examples.Run`, so EXPECTED.yaml's checks
(`apply_check`) read it as they read a run of the local runtime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.controller.test_examples import Run
from tests.podman.images import EXECUTOR_IMAGE, podman_env

REPO = Path(__file__).resolve().parents[2]
# The executor image of the runs; ARGOEXEC_TEST_EXECUTOR_IMAGE runs them with another build.
EXECUTOR = os.environ.get("ARGOEXEC_TEST_EXECUTOR_IMAGE") or EXECUTOR_IMAGE
RUN_TIMEOUT = 300.0  # one workflow; the slowest example takes ~20 s with four at once


def run_env() -> dict[str, str]:
    """This process's environment with the project's ``CONTAINERS_CONF``; this checkout's
    ``argoexec`` first on the path."""
    env = podman_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


class RunProcess:
    """One ``argoexec run --runtime podman`` process; `finish` waits for it."""

    def __init__(
        self,
        file: Path,
        *args: str,
        state: Path,
        cwd: Path | None = None,
        executor_image: str = EXECUTOR,
    ) -> None:
        self.file = file
        self.state = state
        command = [sys.executable, "-m", "argoexec", "run", str(file), *args]
        command += ["--runtime", "podman", "--executor-image", executor_image]
        command += ["-o", "json", "--state-dir", str(state)]
        self.proc = subprocess.Popen(
            command,
            cwd=cwd or REPO,
            env=run_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stored(self) -> dict[str, Any] | None:
        """The run's stored Workflow as it is now (None before it is first written)."""
        for found in self.state.glob("*/workflow.json"):
            try:
                workflow: dict[str, Any] = json.loads(found.read_text())
            except (OSError, ValueError):
                return None
            return workflow
        return None

    def finish(self, timeout: float = RUN_TIMEOUT) -> Run:
        """The finished run; a run that prints no Workflow fails with what it said."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(
                f"argoexec run {self.file} took over {timeout:.0f} s:\n{err}"
            ) from None
        try:
            workflow = json.loads(out)
        except json.JSONDecodeError:
            raise AssertionError(
                f"argoexec run {self.file} printed no Workflow (exit {self.proc.returncode}):"
                f"\n{out}\n{err}"
            ) from None
        assert "Traceback" not in err, err
        return Run(self.proc.returncode, workflow, self.state)


def run_podman_workflow(file: Path, *args: str, state: Path, cwd: Path | None = None) -> Run:
    """Run ``file`` on the podman runtime to its end."""
    return RunProcess(file, *args, state=state, cwd=cwd).finish()


def node_named(run: Run, ref: str) -> dict[str, Any]:
    """The node ``ref`` (``WF`` standing for the workflow's name), which must exist."""
    node = run.node(ref)
    assert node is not None, f"no node {ref}\n{run.describe()}"
    return node
