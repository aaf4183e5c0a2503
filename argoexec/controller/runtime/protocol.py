"""The contract between the thin controller and whatever runs its pods (local, podman, kubernetes).

A runtime receives the pod exactly as Argo's controller builds it (a plain ``dict`` in the
Kubernetes ``Pod`` shape) and reports back what the controller reads from a real pod: the phase
and the per-container statuses (``status.PodResult``). ``run_pod`` blocks until every container
ended; ``status``, ``exec`` and ``kill`` are called from other threads while it runs.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from argoexec.controller.runtime.process import ExecResult
from argoexec.controller.runtime.status import PodResult
from argoexec.controller.runtime.volumes import PodDirs
from argoexec.lifecycle import Stop

ConfigMaps = Mapping[str, Mapping[str, str]]
# Told each new status of a running pod; ``ended`` once, last, when every container has ended.
OnChange = Callable[[PodResult, bool], None]


class Runtime(Protocol):
    def run_pod(
        self,
        pod: Mapping[str, Any],
        *,
        secrets: Path | None = None,
        config_maps: ConfigMaps | None = None,
        stop: Stop | None = None,
    ) -> PodResult:
        """Run the pod to its end: init containers in order, then all containers at once.

        ``secrets`` is a directory of ``<secretName>/<key>`` files, ``config_maps`` maps a
        ConfigMap's name to its data; both back volumes and ``env.valueFrom``. Setting ``stop``
        terminates the pod (SIGTERM, then SIGKILL after ``terminationGracePeriodSeconds``).
        """
        ...

    def status(self, pod_name: str) -> PodResult | None:
        """A snapshot of a running pod, or the result of the last run; None if unknown."""
        ...

    def exec(
        self, pod_name: str, container: str, command: Sequence[str], *, timeout: float = 60.0
    ) -> ExecResult:
        """Run ``command`` inside a running container (the controller's ``argoexec kill 15 1``)."""
        ...

    def kill(
        self, pod_name: str, container: str | None = None, signum: int = signal.SIGTERM
    ) -> None:
        """Signal a container's main process (or every running container) from the outside."""
        ...

    def logs(self, pod_name: str, container: str) -> str:
        """The container's stdout and stderr (kept after cleanup)."""
        ...

    def cleanup(self, pod_name: str) -> None:
        """Delete what the pod left on this machine except its logs (pod garbage collection)."""
        ...


class HostRuntime(Runtime, Protocol):
    """A runtime whose pods keep their files in host directories under ``root`` (``local``,
    ``podman``): what a pod supervisor drives (`controller.loop.podhost`)."""

    root: Path

    def prepare(self) -> None:
        """Whatever must exist before the first pod (written once; a forked supervisor
        inherits it); raises with the reason when the runtime cannot run pods here."""
        ...

    def run_pod(
        self,
        pod: Mapping[str, Any],
        *,
        secrets: Path | None = None,
        config_maps: ConfigMaps | None = None,
        stop: Stop | None = None,
        on_change: OnChange | None = None,
    ) -> PodResult: ...

    def pod_dirs(self, pod_name: str) -> PodDirs:
        """The pod's directory: volumes, logs, termination messages, supervisor files."""
        ...

    def volume_path(self, pod_name: str, volume: str) -> Path:
        """The host directory behind one of the pod's emptyDir (or projected) volumes."""
        ...
