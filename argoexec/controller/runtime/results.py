"""The file sink on the `local` runtime: how a pod's `wait` reports its NodeResult, and how the
controller reads it back.

`wait` writes the NodeResult into an emptyDir that only it mounts (`RESULT_VOLUME` at
`RESULT_DIR`), before it exits; the controller reads it from the host side of that volume. The
volume and `wait`'s environment are part of the pod: `add_result_channel` adds them when the
pod is built (the runtime's `adapt` step), never after.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from argoexec.contract import (
    ENV_MAX_OUTPUT_PARAMETERS_BYTES,
    ENV_RESULT_FILE,
    MAX_OUTPUT_PARAMETERS_BYTES,
    PARAMETERS_HINT,
    RESULT_DIR,
    RESULT_FILE,
    RESULT_FILE_NAME,
    RESULT_MAX_BYTES,
    RESULT_VOLUME,
    VAR_RUN_ARGO_VOLUME,
)
from argoexec.controller.runtime.mains import exit_recorded
from argoexec.models import NodeResult

# What a result file may hold besides its output parameters: `outputs.result` (at most 256 KiB)
# and the artifacts' locations. A larger file is refused before it is read.
RESULT_FILE_SLACK = RESULT_MAX_BYTES + 1024 * 1024


class ResultError(Exception):
    """A node result that cannot be taken (too large); `str()` says why."""


def add_result_channel(
    pod: dict[str, Any], *, max_parameters_bytes: int = MAX_OUTPUT_PARAMETERS_BYTES
) -> None:
    """Make the pod's reporter write its NodeResult where `LocalResults.read` finds it: `wait`,
    or `main` in a pod without one (resource, data). `max_parameters_bytes` is passed on to it
    (it then reads no more), and bounds what is read back."""
    spec = pod["spec"]
    containers = spec.get("containers") or []
    reporter = "wait" if any(c.get("name") == "wait" for c in containers) else "main"
    for container in containers:
        if container.get("name") != reporter:
            continue
        spec.setdefault("volumes", []).append({"name": RESULT_VOLUME, "emptyDir": {}})
        container.setdefault("volumeMounts", []).append(
            {"name": RESULT_VOLUME, "mountPath": RESULT_DIR}
        )
        container.setdefault("env", []).extend(
            [
                {"name": ENV_RESULT_FILE, "value": RESULT_FILE},
                {"name": ENV_MAX_OUTPUT_PARAMETERS_BYTES, "value": str(max_parameters_bytes)},
            ]
        )


class ResultChannel(Protocol):
    """How the executor of a pod reports back on a runtime, and how the controller reads it."""

    def prepare(self, pod: dict[str, Any]) -> None:
        """Make the pod's `wait` report its NodeResult where `read` finds it."""
        ...

    def read(self, pod_name: str) -> NodeResult | None:
        """The pod's reported result, None if it reported none; `ResultError` if it cannot be
        taken."""
        ...

    def exit_recorded(self, pod_name: str, container: str) -> bool:
        """Whether the container's emissary wrote its exit code (`/var/run/argo/ctr/NAME`)."""
        ...


class LocalResults:
    """The result channel (`ResultChannel`) on the `local` runtime: the file sink."""

    def __init__(
        self,
        volume_path: Callable[[str, str], Path],
        *,
        max_parameters_bytes: int = MAX_OUTPUT_PARAMETERS_BYTES,
    ) -> None:
        self._volume_path = volume_path  # e.g. LocalRuntime.volume_path
        self.max_parameters_bytes = max_parameters_bytes

    def prepare(self, pod: dict[str, Any]) -> None:
        add_result_channel(pod, max_parameters_bytes=self.max_parameters_bytes)

    def exit_recorded(self, pod_name: str, container: str) -> bool:
        return exit_recorded(self._volume_path(pod_name, VAR_RUN_ARGO_VOLUME), container)

    def read(self, pod_name: str) -> NodeResult | None:
        path = self._volume_path(pod_name, RESULT_VOLUME) / RESULT_FILE_NAME
        limit = self.max_parameters_bytes + RESULT_FILE_SLACK if self.max_parameters_bytes else 0
        try:
            with path.open("rb") as file:
                data = file.read(limit + 1) if limit else file.read()
        except FileNotFoundError:
            return None
        if limit and len(data) > limit:
            raise ResultError(
                f"the executor's result is larger than {limit} bytes: its output parameters "
                f"may hold at most {self.max_parameters_bytes} bytes ({PARAMETERS_HINT})"
            )
        return NodeResult.model_validate(json.loads(data))
