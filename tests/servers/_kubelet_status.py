"""The ``PodStatus`` the node agent (``kubelet.py``) writes from the runtime's `PodResult`.

The runtime's own status (`status.PodResult.to_k8s`) plus what the kubelet adds: ``hostIP`` and,
once the pod's sandbox is up, ``podIP``: the runtime's own pod address when it gives the pod a
network namespace of its own, else 127.0.0.1 (the pods share this machine's network),
and the four conditions with their transition times. The phase is the kubelet's: Pending while
init containers run (the local runtime says Running as soon as the volumes are set up).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from argoexec.controller.runtime import status as st
from argoexec.controller.runtime.status import PodResult

NODE_IP = "127.0.0.1"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Conditions:
    """The pod's conditions, each keeping the time its status last changed."""

    seen: dict[str, tuple[str, str]] = field(default_factory=dict)  # type -> (status, since)

    def condition(
        self, kind: str, true: bool, reason: str = "", message: str = ""
    ) -> dict[str, Any]:
        value = "True" if true else "False"
        last = self.seen.get(kind)
        since = last[1] if last is not None and last[0] == value else _now()
        self.seen[kind] = (value, since)
        found: dict[str, Any] = {
            "type": kind,
            "status": value,
            "lastProbeTime": None,
            "lastTransitionTime": since,
        }
        if not true and reason:
            found["reason"] = reason
        if not true and message:
            found["message"] = message
        return found


def phase(result: PodResult) -> str:
    """The kubelet's phase: Pending until every init container has completed."""
    initialized = all(c.exit_code == 0 for c in result.init_containers)
    if result.phase == st.RUNNING and not initialized:
        return st.PENDING
    return result.phase


def pod_status(result: PodResult, conditions: Conditions) -> dict[str, Any]:
    status = result.to_k8s()
    status["phase"] = phase(result)
    status["hostIP"] = NODE_IP
    status["hostIPs"] = [{"ip": NODE_IP}]
    everything = [*result.init_containers, *result.containers]
    if result.phase != st.PENDING or any(c.started_at is not None for c in everything):
        address = result.pod_ip or NODE_IP
        status["podIP"] = address
        status["podIPs"] = [{"ip": address}]
    status["conditions"] = _conditions(result, conditions)
    return status


def _conditions(result: PodResult, conditions: Conditions) -> list[dict[str, Any]]:
    initialized = all(c.exit_code == 0 for c in result.init_containers)
    not_initialized = [c.name for c in result.init_containers if c.exit_code != 0]
    unready = [c.name for c in result.containers if not c.ready]
    ready = phase(result) == st.RUNNING and not unready
    if result.ended:
        reason, message = "PodCompleted", ""
    else:
        reason = "ContainersNotReady"
        message = f"containers with unready status: [{' '.join(unready)}]"
    init_message = f"containers with incomplete status: [{' '.join(not_initialized)}]"
    return [
        conditions.condition("Initialized", initialized, "ContainersNotInitialized", init_message),
        conditions.condition("Ready", ready, reason, message),
        conditions.condition("ContainersReady", ready, reason, message),
        conditions.condition("PodScheduled", True),
    ]
