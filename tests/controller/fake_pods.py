"""Helpers (no tests): a runtime whose pods are no processes, for engine tests about scheduling,
stopping and errors, where what a container does does not matter.

A pod "runs" until the test releases it (`release`) or its stop token is set; it then ends
with every container exited `exit_code` (137 when stopped), and its result is `outputs` (per
node name, default none). The same object is the runtime and the result channel.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from argoexec.controller.loop.options import RunOptions
from argoexec.controller.loop.runner import WorkflowRunner
from argoexec.controller.runtime import ExecResult, PodResult
from argoexec.controller.runtime.status import ContainerStatus
from argoexec.lifecycle import Stop
from argoexec.models import NodeResult


class FakePods:
    def __init__(self, *, hold: bool = False, exit_code: int = 0) -> None:
        self.exit_code = exit_code  # of every container of every pod not stopped
        self.lock = threading.Condition()
        self.running: set[str] = set()
        self.most_running = 0
        self.started: list[str] = []
        self.cleaned: list[str] = []
        self.killed: list[str] = []  # pods the engine killed (abort): signals reach no one here
        self.outputs: dict[str, dict[str, Any]] = {}  # node name -> reported outputs
        self._node: dict[str, str] = {}  # pod name -> node name
        self._released = threading.Event()
        if not hold:
            self._released.set()

    def release(self) -> None:
        """Let every pod (running or to come) end."""
        self._released.set()

    def wait_running(self, count: int, timeout: float = 30.0) -> None:
        """Block until `count` pods run at once (an AssertionError after `timeout`)."""
        end = time.monotonic() + timeout
        with self.lock:
            while len(self.running) < count:
                if not self.lock.wait(max(0.0, end - time.monotonic())):
                    raise AssertionError(f"{len(self.running)} pods run, not {count}")

    # --- Runtime -----------------------------------------------------------------------------

    def run_pod(
        self,
        pod: Mapping[str, Any],
        *,
        secrets: Path | None = None,
        config_maps: Mapping[str, Mapping[str, str]] | None = None,
        stop: Stop | None = None,
    ) -> PodResult:
        name = str(pod["metadata"]["name"])
        with self.lock:
            self.running.add(name)
            self.started.append(name)
            self.most_running = max(self.most_running, len(self.running))
            self.lock.notify_all()
        stop = stop or Stop()
        while not self._released.is_set() and not stop.is_set():
            stop.wait(0.01)
        with self.lock:
            self.running.discard(name)
            self.lock.notify_all()
        code = 137 if stop.is_set() else self.exit_code
        result = PodResult(name, start_time=time.time())
        for container in pod["spec"].get("containers") or []:
            status = ContainerStatus(str(container["name"]), started_at=time.time())
            status.terminate(code, "", time.time())
            result.containers.append(status)
        result.conclude()
        return result

    def status(self, pod_name: str) -> PodResult | None:
        return None

    def exec(
        self, pod_name: str, container: str, command: Sequence[str], *, timeout: float = 60.0
    ) -> ExecResult:
        return ExecResult(0, "", "")

    def kill(
        self, pod_name: str, container: str | None = None, signum: int = signal.SIGTERM
    ) -> None:
        self.killed.append(pod_name)

    def logs(self, pod_name: str, container: str) -> str:
        return ""

    def cleanup(self, pod_name: str) -> None:
        self.cleaned.append(pod_name)

    # --- ResultChannel ---------------------------------------------------------------------

    def prepare(self, pod: dict[str, Any]) -> None:
        node = pod["metadata"]["annotations"]["workflows.argoproj.io/node-name"]
        self._node[str(pod["metadata"]["name"])] = str(node)

    def read(self, pod_name: str) -> NodeResult | None:
        outputs = self.outputs.get(self._node.get(pod_name, "")) or {}
        return NodeResult.model_validate({"outputs": outputs})

    def exit_recorded(self, pod_name: str, container: str) -> bool:
        return True


def fake_runner(
    spec: Mapping[str, Any], pods: FakePods, *, name: str = "wf", **options: Any
) -> WorkflowRunner:
    """A runner of the Workflow with `spec` on `pods`."""
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": dict(spec),
    }
    return WorkflowRunner(
        workflow,
        name=name,
        runtime=pods,
        results=pods,
        options=RunOptions(poll_interval=0.01, **options),
    )
