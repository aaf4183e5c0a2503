"""One pod node: build Argo's pod for a resolved template, run it, and read the node's result.

The pod is exactly what `controller.pod` builds; a `ResultChannel` adds how the executor reports
back on this runtime (the file sink on `local`: `runtime.results.LocalResults`) and reads the
`NodeResult`. How a finished pod
becomes a node phase follows Argo's controller (`podphase`, Argo's inferFailedReason): a failed
main container fails the node (`main: Error (exit code N)[: termination message]`), a failed
init or wait container or a pod that could not start is an Error, and the pod deadline reads as
Argo's message.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from argoexec.contract import (
    INIT_CONTAINER,
    LOCAL_ARTIFACTS_VOLUME,
    PARAMETERS_HINT,
    WAIT_CONTAINER,
)
from argoexec.controller.pod import PodBuildError, PodContext, build_pod_objects
from argoexec.controller.runtime import PodResult
from argoexec.controller.runtime.mains import LOST_GRACE_SECONDS, LOST_POLL_SECONDS, LostMains
from argoexec.controller.runtime.protocol import Runtime
from argoexec.controller.runtime.results import RESULT_FILE_SLACK, LocalResults, ResultError
from argoexec.lifecycle import Stop
from argoexec.models import NodeResult, Template

from . import nodes as n
from . import podphase


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
    """Stop a pod whose main container ended without its exit code (`runtime.mains`), which
    would leave `wait` waiting forever, and say why."""
    watch = LostMains(
        mains,
        exit_recorded=lambda main: channel.exit_recorded(name, main),
        logs=lambda main: runtime.logs(name, main),
    )
    while not done.wait(LOST_POLL_SECONDS):
        status = runtime.status(name)
        why = watch.check(status) if status is not None else None
        if why:
            lost.append(why)
            stop.set(why)
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
    "LOST_GRACE_SECONDS",
    "LOST_POLL_SECONDS",
    "RESULT_FILE_SLACK",
    "LocalResults",
    "PodBuildError",
    "PodOutcome",
    "ResultChannel",
    "ResultError",
    "build",
    "interpret",
    "oversized_parameters",
    "run",
]
