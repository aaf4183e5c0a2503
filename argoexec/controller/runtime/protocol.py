"""The contract between the thin controller and whatever runs its pods (local, podman, kubernetes).

A runtime receives the pod exactly as Argo's controller builds it (a plain ``dict`` in the
Kubernetes ``Pod`` shape) and reports back what the controller reads from a real pod: the phase
and the per-container statuses (``status.PodResult``). ``run_pod`` blocks until every container
ended; ``status``, ``exec`` and ``kill`` are called from other threads while it runs.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from argoexec.controller.runtime.process import ExecResult
from argoexec.controller.runtime.status import PodResult
from argoexec.lifecycle import Stop

ConfigMaps = Mapping[str, Mapping[str, str]]


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
