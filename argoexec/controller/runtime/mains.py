"""A main container that ended without its exit code: `wait` would wait for it forever.

`wait` waits for each main container's exit code (`/var/run/argo/ctr/NAME/exitcode`), which
only that container's emissary writes, as its last act. A main container that ended without
one never ran its emissary to the end (a bad mount, a missing command, killed from outside):
the pod is stopped, with a message saying which container ended how. Whoever runs the pod
checks (the pod's supervisor on the `local` runtime), so it works without the controller.
Standard library only: the supervisor imports it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from argoexec.contract import ENV_TEMPLATE, OFFLOADED
from argoexec.controller.runtime.status import PodResult
from argoexec.emissary.template import main_containers
from argoexec.varrun import VarRun

LOST_POLL_SECONDS = 0.25
# How long a main container may have ended without its exit code before the pod is stopped:
# the emissary writes it as its very last act, the runtime may see the process end first.
LOST_GRACE_SECONDS = 1.0
_LOG_TAIL = 300
# The pod's reason when it was stopped for a lost main container (its message says which).
LOST_MAIN = "MainContainerLost"


def exit_recorded(var_run: Path, container: str) -> bool:
    """Whether the container's emissary wrote its exit code, `var_run` being the host side of
    the pod's `/var/run/argo` volume."""
    return VarRun(var_run).exitcode(container).exists()


def pod_mains(pod: Mapping[str, Any], config_maps: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The main containers of an Argo pod whose `wait` waits for them (none without a `wait`),
    from the template in `wait`'s `ARGO_TEMPLATE` (or in the pod's ConfigMap when offloaded)."""
    name = str((pod.get("metadata") or {}).get("name") or "")
    for container in (pod.get("spec") or {}).get("containers") or []:
        if container.get("name") != "wait":
            continue
        for env in container.get("env") or []:
            if env.get("name") != ENV_TEMPLATE:
                continue
            text = str(env.get("value") or "")
            if text == OFFLOADED:
                text = str((config_maps.get(name) or {}).get(ENV_TEMPLATE) or "")
            try:
                template = json.loads(text)
            except json.JSONDecodeError:
                template = None
            return main_containers(template if isinstance(template, dict) else {})
        return main_containers({})
    return []


class LostMains:
    """Tells, from successive pod statuses, whether a main container ended without its exit
    code for longer than `grace` seconds (and then why the pod must be stopped)."""

    def __init__(
        self,
        mains: Sequence[str],
        *,
        exit_recorded: Callable[[str], bool],
        logs: Callable[[str], str],
        grace: float = LOST_GRACE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mains = list(mains)
        self._exit_recorded = exit_recorded
        self._logs = logs
        self._grace = grace
        self._clock = clock
        self._ended_at: dict[str, float] = {}

    def check(self, status: PodResult) -> str | None:
        """``main: Error (exit code 127): <its termination message or log tail>``, or None."""
        for main in self.mains:
            try:
                container = status.container(main)
            except KeyError:
                continue
            if not container.terminated or self._exit_recorded(main):
                continue
            first = self._ended_at.setdefault(main, self._clock())
            if self._clock() - first < self._grace:
                continue
            detail = container.message.strip() or self._logs(main).strip()[-_LOG_TAIL:]
            reason = f"{container.reason} (exit code {container.exit_code})"
            return f"{main}: {reason}: {detail}" if detail else f"{main}: {reason}"
        return None
