"""What a caller gives `WorkflowRunner` besides the Workflow: the run's options (`RunOptions`),
requests from outside the run (`Control`), and the error of a workflow that cannot start
(`EngineError`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from argoexec.contract import (
    DEFAULT_EXECUTOR_IMAGE,
    DEFAULT_POD_NETWORK,
    LOCAL_RUNTIME,
    MAX_OUTPUT_PARAMETERS_BYTES,
)
from argoexec.controller.pod import ImageEntrypoint
from argoexec.controller.reconcile.context import DEFAULT_MAX_CHILDREN
from argoexec.models import ArtifactRepository


class EngineError(Exception):
    """The workflow cannot start (bad reference, missing argument...): nothing has run."""


class Control(Protocol):
    """Requests from outside the run (`argoexec stop` / `argoexec resume`)."""

    def stop_requested(self) -> str | None: ...

    def take_resume_requests(self) -> list[str | None]: ...

    def take_supplied(self) -> list[tuple[str | None, dict[str, str]]]:
        """Values for suspended nodes' `valueFrom.supplied` outputs: (node or None, values)."""
        ...


@dataclass
class RunOptions:
    parameters: Mapping[str, str] = field(default_factory=dict)
    entrypoint: str | None = None
    artifact_repository: ArtifactRepository | None = None
    config_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    secrets_dir: Path | None = None
    kubeconfig: Path | None = None
    executor_image: str = DEFAULT_EXECUTOR_IMAGE
    namespace: str = "default"
    max_depth: int = 100
    # Seconds between two status writes of a changing workflow, at least (`write_interval`).
    poll_interval: float = 0.05
    log_level: str = "info"
    # (name, value) pairs added to the env of every executor container (Argo's `executor.env`).
    executor_env: tuple[tuple[str, str], ...] = ()
    # Children of one node (loop items, retry attempts); 0 = no cap.
    max_children: int = DEFAULT_MAX_CHILDREN
    # Pods running at once in this run (the local runtime's machine); 0 = no cap.
    max_pods: int = 0
    # Bytes of one node's output parameters, all together; 0 = no cap.
    max_output_parameters_bytes: int = MAX_OUTPUT_PARAMETERS_BYTES
    # Where pods run: `local` (sandboxed processes) or `podman` (real images).
    runtime: str = LOCAL_RUNTIME
    # Which pods of the local runtime get networks of their own: auto, pod or host.
    pod_network: str = DEFAULT_POD_NETWORK
    # Argo's `images` index: image -> ENTRYPOINT/CMD, for containers without a command.
    images: Mapping[str, ImageEntrypoint] = field(default_factory=dict)
