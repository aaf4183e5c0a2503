"""One pod node: build Argo's pod for a resolved template, run it, and read the node's result.

The pod is exactly what `controller.pod` builds; a `ResultChannel` adds how the executor reports
back on this runtime (the file sink on `local`) and reads the `NodeResult`. How a finished pod
becomes a node phase follows Argo's controller (`podphase`, Argo's inferFailedReason): a failed
main container fails the node (`main: Error (exit code N)[: termination message]`), a failed
init or wait container or a pod that could not start is an Error, and the pod deadline reads as
Argo's message.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from argoexec.contract import (
    ENV_MAX_OUTPUT_PARAMETERS_BYTES,
    ENV_RESULT_FILE,
    INIT_CONTAINER,
    LOCAL_ARTIFACTS_VOLUME,
    MAIN_CONTAINER,
    MAX_OUTPUT_PARAMETERS_BYTES,
    PARAMETERS_HINT,
    RESULT_DIR,
    RESULT_FILE,
    RESULT_FILE_NAME,
    RESULT_MAX_BYTES,
    RESULT_VOLUME,
    VAR_RUN_ARGO_VOLUME,
    WAIT_CONTAINER,
)
from argoexec.controller.pod import PodBuildError, PodContext, build_pod_objects
from argoexec.controller.runtime import PodResult
from argoexec.controller.runtime.protocol import Runtime
from argoexec.lifecycle import Stop
from argoexec.models import NodeResult, Template
from argoexec.varrun import VarRun

from . import nodes as n
from . import podphase

LOST_POLL_SECONDS = 0.25
LOST_GRACE_SECONDS = 1.0
# What a result file may hold besides its output parameters: `outputs.result` (at most 256 KiB)
# and the artifacts' locations. A larger file is refused before it is read.
RESULT_FILE_SLACK = RESULT_MAX_BYTES + 1024 * 1024


class ResultError(Exception):
    """A node result that cannot be taken (too large); `str()` says why."""


class ResultChannel(Protocol):
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


@dataclass
class PodOutcome:
    phase: str
    message: str = ""
    outputs: dict[str, Any] | None = None


def _executor_containers(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = pod["spec"]
    found = [c for c in spec.get("initContainers") or [] if c.get("name") == INIT_CONTAINER]
    found += [c for c in spec.get("containers") or [] if c.get("name") == WAIT_CONTAINER]
    return found


def add_local_roots(pod: dict[str, Any], template: Template) -> None:
    """Bind the host directories of `local:` artifact locations into init and wait."""
    roots: set[str] = set()
    inputs = template.inputs.artifacts if template.inputs else None
    outputs = template.outputs.artifacts if template.outputs else None
    locations = [template.archive_location, *(inputs or []), *(outputs or [])]
    for location in locations:
        local = getattr(location, "local", None) if location is not None else None
        if local is not None and getattr(local, "root", None):
            roots.add(str(local.root))
    volumes = pod["spec"].setdefault("volumes", [])
    for index, root in enumerate(sorted(roots)):
        Path(root).mkdir(parents=True, exist_ok=True)
        name = f"{LOCAL_ARTIFACTS_VOLUME}-{index}"
        volumes.append({"name": name, "hostPath": {"path": root, "type": "DirectoryOrCreate"}})
        for container in _executor_containers(pod):
            mounts = container.setdefault("volumeMounts", [])
            mounts.append({"name": name, "mountPath": root})


def build(template: dict[str, Any], ctx: PodContext) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod and the config maps it needs (offloaded template/args)."""
    model = Template.model_validate(template)
    objects = build_pod_objects(model, ctx)
    pod = objects.pod  # built fresh for this call: ours to amend
    add_local_roots(pod, objects.template)
    config_maps: dict[str, Any] = {}
    if objects.config_map is not None:
        cm = objects.config_map
        config_maps[str(cm["metadata"]["name"])] = dict(cm.get("data") or {})
    return pod, config_maps


def run(
    runtime: Runtime,
    channel: ResultChannel,
    pod: dict[str, Any],
    *,
    config_maps: Mapping[str, Mapping[str, str]],
    secrets: Path | None,
    stop: Stop,
    main_containers: list[str],
    max_parameters_bytes: int = 0,
) -> PodOutcome:
    channel.prepare(pod)
    name = str(pod["metadata"]["name"])
    lost: list[str] = []
    done = threading.Event()
    if any(c.get("name") == WAIT_CONTAINER for c in pod["spec"].get("containers") or []):
        watcher = threading.Thread(
            target=_watch_mains,
            args=(runtime, channel, name),
            kwargs={"mains": main_containers, "stop": stop, "done": done, "lost": lost},
            daemon=True,
        )
        watcher.start()
    try:
        result = runtime.run_pod(pod, secrets=secrets, config_maps=config_maps, stop=stop)
    finally:
        done.set()
    try:
        reported = channel.read(name)
    except ResultError as exc:
        return PodOutcome(n.ERROR, str(exc))
    if lost:
        return PodOutcome(n.ERROR, lost[0])
    outcome = interpret(result, reported, main_containers, stop, pod)
    too_large = oversized_parameters(outcome.outputs, max_parameters_bytes)
    if too_large:
        # The executor caps them itself; this is for one that does not (another version).
        return PodOutcome(n.ERROR, too_large)
    return outcome


def oversized_parameters(outputs: Mapping[str, Any] | None, limit: int) -> str:
    """Why the output parameters of a node are too large to keep (all together more than
    `limit` bytes; 0: no cap), or ""."""
    total = 0
    for param in (outputs or {}).get("parameters") or []:
        total += len(str(param.get("value") or "").encode())
        if limit and total > limit:
            return (
                f"output parameter {param.get('name')!r}: the node's output parameters hold "
                f"more than {limit} bytes ({PARAMETERS_HINT})"
            )
    return ""


def _watch_mains(
    runtime: Runtime,
    channel: ResultChannel,
    name: str,
    *,
    mains: list[str],
    stop: Stop,
    done: threading.Event,
    lost: list[str],
) -> None:
    """`wait` waits for main's exit code, which only main's emissary writes: a main container
    that ended without one (it never started: a bad mount, a missing command) would leave
    `wait` waiting forever. Stop such a pod and say why."""
    ended_at: dict[str, float] = {}
    while not done.wait(LOST_POLL_SECONDS):
        status = runtime.status(name)
        if status is None:
            continue
        for main in mains:
            try:
                container = status.container(main)
            except KeyError:
                continue
            if not container.terminated or channel.exit_recorded(name, main):
                continue
            first = ended_at.setdefault(main, time.monotonic())
            if time.monotonic() - first < LOST_GRACE_SECONDS:
                continue
            detail = container.message.strip() or runtime.logs(name, main).strip()[-300:]
            reason = f"{container.reason} (exit code {container.exit_code})"
            lost.append(f"{main}: {reason}: {detail}" if detail else f"{main}: {reason}")
            stop.set(lost[-1])
            return


def _exit_code(result: PodResult, container: str) -> int | None:
    try:
        return result.container(container).exit_code
    except KeyError:
        return None


def interpret(
    result: PodResult,
    reported: NodeResult | None,
    mains: list[str],
    stop: Stop,
    pod: dict[str, Any],
) -> PodOutcome:
    outputs = reported.outputs.to_wire() if reported and reported.outputs else {}
    for art in outputs.get("artifacts") or []:
        # A subPath declared on a container's output selects nothing: Argo never applies it.
        art.pop("subPath", None)
    exit_codes = [_exit_code(result, m) for m in mains]
    main_code = next(
        (c for c in exit_codes if c not in (None, 0)), exit_codes[-1] if mains else None
    )
    if main_code is not None:
        outputs["exitCode"] = str(main_code)
    outcome = PodOutcome(n.SUCCEEDED, outputs=outputs or None)
    if stop.is_set():
        outcome.phase, outcome.message = n.FAILED, stop.reason or "Stopped"
        return outcome
    verdict: tuple[str, str] | None = podphase.assess(result, mains)
    if verdict == (n.SUCCEEDED, ""):
        verdict = None
    if verdict is None and reported is not None and reported.phase in (n.FAILED, n.ERROR):
        verdict = reported.phase, reported.message or ""
    has_wait = any(c["name"] == WAIT_CONTAINER for c in pod["spec"]["containers"])
    if verdict is None and reported is None and has_wait:
        verdict = n.ERROR, "the executor reported no result"
    if verdict is not None:
        outcome.phase, outcome.message = verdict
    return outcome


__all__ = [
    "PodBuildError",
    "PodOutcome",
    "ResultChannel",
    "ResultError",
    "build",
    "interpret",
    "oversized_parameters",
    "run",
]


class LocalResults:
    """The file sink on the `local` runtime: `wait` writes the NodeResult into an emptyDir that
    only it mounts, and the controller reads it from the host side of that volume."""

    def __init__(
        self,
        volume_path: Callable[[str, str], Path],
        *,
        max_parameters_bytes: int = MAX_OUTPUT_PARAMETERS_BYTES,
    ) -> None:
        self._volume_path = volume_path  # e.g. LocalRuntime.volume_path
        # Passed on to `wait` (which then reads no more), and bounds what is read back here.
        self.max_parameters_bytes = max_parameters_bytes

    def prepare(self, pod: dict[str, Any]) -> None:
        spec = pod["spec"]
        containers = spec.get("containers") or []
        # `wait` reports; a pod without one (resource, data) reports from main.
        has_wait = any(c.get("name") == WAIT_CONTAINER for c in containers)
        reporter = WAIT_CONTAINER if has_wait else MAIN_CONTAINER
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
                    {
                        "name": ENV_MAX_OUTPUT_PARAMETERS_BYTES,
                        "value": str(self.max_parameters_bytes),
                    },
                ]
            )

    def exit_recorded(self, pod_name: str, container: str) -> bool:
        var_run = self._volume_path(pod_name, VAR_RUN_ARGO_VOLUME)
        return VarRun(var_run).exitcode(container).exists()

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
