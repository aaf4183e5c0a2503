"""Pod and container status in the shape of Kubernetes' ``PodStatus`` (restartPolicy Never).

The controller reads the same fields it reads from a real pod (argo-contract.md §1.9): the pod
``phase``/``reason``/``message`` and, per container, ``state.terminated.exitCode``, ``reason``
and ``message`` (the termination message), with ``startedAt``/``finishedAt``.

``to_k8s`` writes that ``PodStatus`` and ``from_k8s`` reads it back: with ``precise=True`` the
timestamps keep their microseconds (Kubernetes' ``MicroTime`` form, still RFC 3339), so a status
recorded in a file and read by another process is the one that was written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from argoexec.durations import epoch_seconds, rfc3339

SUCCEEDED = "Succeeded"
FAILED = "Failed"
RUNNING = "Running"
PENDING = "Pending"

# Kubernetes' reasons for a terminated container. OOMKilled is never reported: the local
# runtime enforces no memory limit, so a kill by the host's OOM killer shows as Error (137).
COMPLETED = "Completed"
ERROR = "Error"
START_ERROR = "StartError"
POD_INITIALIZING = "PodInitializing"
CONTAINER_CREATING = "ContainerCreating"
CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
FAILED_MOUNT = "FailedMount"  # the kubelet's event reason when a volume cannot be set up
FAILED_CREATE_POD_SANDBOX = "FailedCreatePodSandBox"  # ... when the pod itself cannot be
DEADLINE_EXCEEDED = "DeadlineExceeded"
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


def start_error(cause: str) -> str:
    """A container that could not be started, in the words of containerd and runc."""
    return (
        "failed to create containerd task: failed to create shim task: OCI runtime create "
        f"failed: runc create failed: unable to start container process: {cause}: unknown"
    )


@dataclass
class ContainerStatus:
    """One entry of ``containerStatuses`` / ``initContainerStatuses``."""

    name: str
    image: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    message: str = ""
    waiting_reason: str = POD_INITIALIZING
    terminated_reason: str = ""  # overrides Completed/Error, e.g. StartError
    # Set by a readinessProbe (False until it succeeds); None: ready whenever it runs, as the
    # kubelet reports a container without a probe.
    probed_ready: bool | None = None

    @property
    def terminated(self) -> bool:
        return self.exit_code is not None

    @property
    def running(self) -> bool:
        return self.started_at is not None and self.exit_code is None

    @property
    def ready(self) -> bool:
        return self.running and self.probed_ready is not False

    @property
    def reason(self) -> str:
        if self.terminated_reason:
            return self.terminated_reason
        return COMPLETED if self.exit_code == 0 else ERROR

    def terminate(self, exit_code: int, message: str, at: float) -> None:
        self.exit_code, self.message, self.finished_at = exit_code, message, at

    def state(self, *, precise: bool = False) -> dict[str, Any]:
        if self.exit_code is not None:
            terminated: dict[str, Any] = {"exitCode": self.exit_code, "reason": self.reason}
            if self.message:
                terminated["message"] = self.message
            if self.started_at is not None:
                terminated["startedAt"] = rfc3339(self.started_at, precise=precise)
            if self.finished_at is not None:
                terminated["finishedAt"] = rfc3339(self.finished_at, precise=precise)
            return {"terminated": terminated}
        if self.started_at is not None:
            return {"running": {"startedAt": rfc3339(self.started_at, precise=precise)}}
        waiting: dict[str, Any] = {"reason": self.waiting_reason}
        if self.message:
            waiting["message"] = self.message
        return {"waiting": waiting}

    def to_k8s(self, *, precise: bool = False) -> dict[str, Any]:
        return {
            "name": self.name,
            "image": self.image,
            "ready": self.ready,
            "started": self.running,
            "restartCount": 0,
            "state": self.state(precise=precise),
        }

    @classmethod
    def from_k8s(cls, status: Mapping[str, Any]) -> ContainerStatus:
        """The inverse of `to_k8s`: one entry of ``containerStatuses``."""
        found = cls(str(status.get("name") or ""), image=str(status.get("image") or ""))
        state = status.get("state") or {}
        if "terminated" in state:
            terminated = state["terminated"] or {}
            found.exit_code = int(terminated.get("exitCode") or 0)
            found.message = str(terminated.get("message") or "")
            found.started_at = epoch_seconds(terminated.get("startedAt"))
            found.finished_at = epoch_seconds(terminated.get("finishedAt"))
            reason = str(terminated.get("reason") or "")
            if reason != (COMPLETED if found.exit_code == 0 else ERROR):
                found.terminated_reason = reason
        elif "running" in state:
            found.started_at = epoch_seconds((state["running"] or {}).get("startedAt"))
            if status.get("ready") is False:
                found.probed_ready = False
        else:
            waiting = state.get("waiting") or {}
            found.waiting_reason = str(waiting.get("reason") or POD_INITIALIZING)
            found.message = str(waiting.get("message") or "")
        return found


@dataclass
class PodResult:
    """The pod's status once it ended (or a live snapshot while it runs)."""

    name: str
    phase: str = PENDING
    reason: str = ""
    message: str = ""
    start_time: float | None = None
    pod_ip: str = ""  # Kubernetes' status.podIP: the pod's address on the pod network
    init_containers: list[ContainerStatus] = field(default_factory=list)
    containers: list[ContainerStatus] = field(default_factory=list)
    # The node the pod was bound to (`spec.nodeName`; the node's `hostNodeName`), "" when
    # the runtime has no nodes (this machine).
    node_name: str = ""

    @classmethod
    def pending(cls, pod: Mapping[str, Any], *, start_time: float | None = None) -> PodResult:
        """The status of ``pod`` (a Kubernetes Pod dict) before anything of it ran."""
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        result = cls(str(meta.get("name") or ""), start_time=start_time)
        result.init_containers = [_waiting(c) for c in spec.get("initContainers") or []]
        result.containers = [_waiting(c) for c in spec.get("containers") or []]
        return result

    @property
    def succeeded(self) -> bool:
        return self.phase == SUCCEEDED

    @property
    def ended(self) -> bool:
        """Whether the pod is in a terminal phase (every container has ended)."""
        return self.phase in (SUCCEEDED, FAILED)

    def container(self, name: str) -> ContainerStatus:
        for status in (*self.init_containers, *self.containers):
            if status.name == name:
                return status
        raise KeyError(f"pod {self.name} has no container {name!r}")

    def conclude(self) -> None:
        """restartPolicy Never: Succeeded when every container exited 0, else Failed."""
        everything = [*self.init_containers, *self.containers]
        if self.phase == FAILED:
            return
        if all(c.exit_code == 0 for c in everything):
            self.phase = SUCCEEDED
        else:
            self.phase = FAILED

    def fail(self, reason: str, message: str) -> None:
        """The pod as a whole failed (its deadline, a stop): ``message`` is the pod's."""
        self.phase, self.reason, self.message = FAILED, reason, message

    def fail_to_start(self, reason: str, message: str, containers: list[str] | None = None) -> None:
        """``containers`` (all that never started, by default) could not start: each stays
        waiting with ``reason`` and ``message``, as the kubelet reports them."""
        self.phase, self.reason = FAILED, reason
        for status in (*self.init_containers, *self.containers):
            never_started = status.started_at is None and status.exit_code is None
            if never_started and (containers is None or status.name in containers):
                status.waiting_reason, status.message = reason, message

    def to_k8s(self, *, precise: bool = False) -> dict[str, Any]:
        status: dict[str, Any] = {"phase": self.phase}
        if self.reason:
            status["reason"] = self.reason
        if self.message:
            status["message"] = self.message
        if self.start_time is not None:
            status["startTime"] = rfc3339(self.start_time, precise=precise)
        if self.pod_ip:
            status["podIP"] = self.pod_ip
            status["podIPs"] = [{"ip": self.pod_ip}]
        status["initContainerStatuses"] = [c.to_k8s(precise=precise) for c in self.init_containers]
        status["containerStatuses"] = [c.to_k8s(precise=precise) for c in self.containers]
        return status

    @classmethod
    def from_k8s(cls, name: str, status: Mapping[str, Any]) -> PodResult:
        """The inverse of `to_k8s`: the ``status`` of the pod ``name``."""
        return cls(
            name,
            phase=str(status.get("phase") or PENDING),
            reason=str(status.get("reason") or ""),
            message=str(status.get("message") or ""),
            start_time=epoch_seconds(status.get("startTime")),
            pod_ip=str(status.get("podIP") or ""),
            init_containers=[
                ContainerStatus.from_k8s(c) for c in status.get("initContainerStatuses") or []
            ],
            containers=[ContainerStatus.from_k8s(c) for c in status.get("containerStatuses") or []],
        )


def _waiting(container: Mapping[str, Any]) -> ContainerStatus:
    return ContainerStatus(str(container["name"]), image=str(container.get("image", "")))
