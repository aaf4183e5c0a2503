"""What the runtimes whose pods keep their files on this host share (``local``, ``podman``).

`PodRun` is one pod's run: its context (the pod, its directories and volumes), the status it
reports, its stop token, grace period and deadline, and who is told each new status.
`HostPods` admits pods (one run per name at a time), keeps the status of running and finished
pods, knows their directories under the runtime's root, and says when the kubelet would end a
pod now (`HostPods.must_end`: its deadline, or a stop) with the kubelet's reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from argoexec.contract import DEFAULT_GRACE_SECONDS
from argoexec.controller.runtime import status as st
from argoexec.controller.runtime.launch import PodContext
from argoexec.controller.runtime.protocol import ConfigMaps, OnChange
from argoexec.controller.runtime.status import PodResult
from argoexec.controller.runtime.volumes import PodDirs, PodVolumes
from argoexec.lifecycle import Stop


@dataclass
class PodRun:
    ctx: PodContext
    result: PodResult
    stop: Stop
    grace: float
    deadline: float | None  # monotonic
    specs: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    on_change: OnChange | None = None
    told: dict[str, Any] | None = None  # the status `on_change` was last told

    def notify(self, *, ended: bool = False) -> None:
        if self.on_change is None:
            return
        current = self.result.to_k8s(precise=True)
        if ended or current != self.told:
            self.told = current
            self.on_change(self.result, ended)

    def must_end(self) -> bool:
        """Whether the pod must be terminated now: past its deadline, or its stop token set.
        If so its status says why, in the kubelet's (or the stopper's) words."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.result.fail(st.DEADLINE_EXCEEDED, st.DEADLINE_MESSAGE)
        elif self.stop.is_set():
            if self.stop.cause:  # the stopper says why, in its own words
                self.result.fail(self.stop.cause, self.stop.reason)
            else:
                self.result.fail("Terminated", f"the pod was stopped: {self.stop.reason}")
        else:
            return False
        return True


RunT = TypeVar("RunT", bound=PodRun)


class HostPods(Generic[RunT]):
    """The pods of one runtime under ``root``: admitted, running, finished."""

    def __init__(self, root: Path, claims: Path | None) -> None:
        self.root = root
        self.claims = claims or root / "claims"
        self._lock = threading.Lock()
        self._running: dict[str, RunT] = {}
        self._finished: dict[str, PodResult] = {}

    def status(self, pod_name: str) -> PodResult | None:
        with self._lock:
            running = self._running.get(pod_name)
            return running.result if running else self._finished.get(pod_name)

    def pod_dirs(self, pod_name: str) -> PodDirs:
        return PodDirs(self.root / pod_name)

    def volume_path(self, pod_name: str, volume: str) -> Path:
        """The host directory behind one of the pod's emptyDir (or projected) volumes."""
        return self.pod_dirs(pod_name).volumes / volume

    def kept_log(self, pod_name: str, container: str) -> str:
        """The container's log as kept in the pod's directory ("" if none)."""
        path = self.pod_dirs(pod_name).log(container)
        return path.read_text(errors="replace") if path.exists() else ""

    def running(self, pod_name: str) -> RunT | None:
        with self._lock:
            return self._running.get(pod_name)

    def refuse_running(self, pod_name: str) -> None:
        """`RuntimeError` for a pod that is still running (it cannot be cleaned up)."""
        with self._lock:
            if pod_name in self._running:
                raise RuntimeError(f"pod {pod_name} is still running")

    def admission(
        self, pod: Mapping[str, Any], secrets: Path | None, config_maps: ConfigMaps, stop: Stop
    ) -> dict[str, Any]:
        """The fields of a `PodRun` for ``pod`` (Pending, its volumes not yet prepared);
        `ValueError` for a pod without a name."""
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        name = str(meta.get("name") or "")
        if not name:
            raise ValueError("the pod has no metadata.name")
        dirs = self.pod_dirs(name)
        volumes = PodVolumes(
            dirs,
            spec.get("volumes") or [],
            secrets=secrets,
            config_maps=config_maps,
            claims=self.claims,
        )
        deadline = spec.get("activeDeadlineSeconds")
        grace = spec.get("terminationGracePeriodSeconds")
        return {
            "ctx": PodContext(pod, dirs, volumes, secrets, config_maps),
            "result": PodResult.pending(pod, start_time=time.time()),
            "stop": stop,
            "grace": float(DEFAULT_GRACE_SECONDS if grace is None else grace),
            "deadline": time.monotonic() + float(deadline) if deadline else None,
        }

    def register(self, run: RunT) -> None:
        """``run`` is running; `ValueError` if a pod of its name already is."""
        name = run.result.name
        with self._lock:
            if name in self._running:
                raise ValueError(f"pod {name} is already running")
            self._running[name] = run

    def conclude(self, run: RunT) -> None:
        """``run`` has ended: its phase is decided, and it is kept as finished."""
        run.result.conclude()
        with self._lock:
            del self._running[run.result.name]
            self._finished[run.result.name] = run.result
