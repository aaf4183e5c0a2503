"""Stopping a run whose ``argoexec run`` process is gone (killed with SIGKILL, crashed, or the
machine rebooted): what ``argoexec stop`` does when nobody is left to take its request.

Until the engine can resume a run from its recorded state, the run is finished here, as Argo's
controller finishes a stopped workflow: the workflow and every node that was Pending or Running
become Failed with the stop message and a ``finishedAt``. The exit handler is not run (it needs
the engine), and the workflow's message says so. Then what the run left behind is removed: any
of its container processes still alive (sandboxed ones die with the controller; unsandboxed
ones may not), its pods' directories but their logs (as pod GC would have removed them), and the
temporary files of artifact saves cut short in a ``local`` artifact repository.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argoexec.controller.engine.scope import workflow_scope
from argoexec.controller.loop.runner import STOP_MESSAGE
from argoexec.controller.processes import kill_session, pid_alive
from argoexec.controller.render import parse_time, pod_name_of, pod_nodes
from argoexec.controller.runtime.local import RUNTIME_FILES
from argoexec.controller.runtime.volumes import PodDirs
from argoexec.controller.state import RunDir, StateError
from argoexec.durations import rfc3339
from artifacts.drivers.local import remove_partial_writes
from artifacts.errors import ArtifactError
from artifacts.locations import DEFAULT_KEY_FORMAT, substitute_key_format

_UNFINISHED = ("Pending", "Running")
_FINISHED = ("Succeeded", "Failed", "Error")
_KILL_WAIT_SECONDS = 5.0


@dataclass
class OrphanStop:
    """What stopping an orphaned run did."""

    workflow: dict[str, Any]  # the final Workflow, as recorded
    processes: int  # container processes that were still alive, ended
    pods: int  # pod directories cleaned (logs kept)
    partial_artifacts: int  # temporary files of cut-short artifact saves removed


def stop_orphan(run: RunDir, message: str, *, now: float | None = None) -> OrphanStop:
    """Finish ``run``, whose process is gone, as stopped with ``message`` (Argo's default when
    empty), and remove its leftovers. Idempotent: an interrupted stop can be made again."""
    with run.exclusive():
        workflow = _recorded(run)
        phase = (workflow.get("status") or {}).get("phase")
        if phase in _FINISHED:
            raise StateError(f"workflow {run.name!r} is not running: it has finished ({phase})")
        processes = end_processes(run.pods_dir)
        pods = clean_pods(run.pods_dir)
        partial = remove_partial_artifacts(workflow, run.pods_dir)
        final = stopped(workflow, message, pid=run.owner_pid(), now=now)
        run.write_workflow(final)
    return OrphanStop(final, processes, pods, partial)


def _recorded(run: RunDir) -> dict[str, Any]:
    """The run's last recorded Workflow; a bare one if it died before recording any."""
    if not run.has_state():
        return {"kind": "Workflow", "metadata": {"name": run.name}, "status": {}}
    return run.read_workflow()


def stopped(
    workflow: dict[str, Any], message: str, *, pid: int | None, now: float | None = None
) -> dict[str, Any]:
    """``workflow`` finished as Failed by a stop: every Pending or Running node Failed with the
    stop message and ``finishedAt``, the workflow's message saying why it ended here."""
    final = copy.deepcopy(workflow)
    at = rfc3339(time.time() if now is None else now)
    reason = message or STOP_MESSAGE
    status = final.setdefault("status", {})
    for node in (status.get("nodes") or {}).values():
        if node.get("phase") in _UNFINISHED:
            node.update(phase="Failed", message=reason, finishedAt=at)
    status.update(phase="Failed", message=f"{reason}: {_why(final, pid)}", finishedAt=at)
    return final


def _why(workflow: dict[str, Any], pid: int | None) -> str:
    """Why the run ended here, and what of it did not happen."""
    process = f"the process that ran it (pid {pid})" if pid else "the process that ran it"
    spec, nodes = workflow.get("spec") or {}, (workflow.get("status") or {}).get("nodes") or {}
    if not spec:
        return f"{process} had died before it recorded any state"
    why = f"{process} had died"
    if spec.get("onExit") or (spec.get("hooks") or {}).get("exit"):
        exit_node = f"{(workflow.get('metadata') or {}).get('name')}.onExit"
        started = any(node.get("name") == exit_node for node in nodes.values())
        why += "; its exit handler did not finish" if started else "; its exit handler did not run"
    return why


def end_processes(pods_dir: Path) -> int:
    """SIGKILL what is left of the run's containers (each recorded session); the number of
    processes signalled. Waits, bounded, until they are gone, so nothing writes afterwards."""
    killed: list[int] = []
    for dirs in _pod_dirs(pods_dir):
        for pid, ticks in dirs.recorded_processes():
            killed += kill_session(pid, ticks)
    deadline = time.monotonic() + _KILL_WAIT_SECONDS
    while any(pid_alive(p) for p in killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(killed)


def clean_pods(pods_dir: Path) -> int:
    """Remove each pod's directory but its logs."""
    pods = _pod_dirs(pods_dir)
    for dirs in pods:
        dirs.remove_all_but_logs()
    return len(pods)


def _pod_dirs(pods_dir: Path) -> list[PodDirs]:
    if not pods_dir.is_dir():
        return []
    return [
        PodDirs(p) for p in sorted(pods_dir.iterdir()) if p.is_dir() and p.name != RUNTIME_FILES
    ]


def remove_partial_artifacts(workflow: dict[str, Any], pods_dir: Path) -> int:
    """Remove the temporary files of artifact saves cut short in the run's ``local`` artifact
    repository, under the keys of its pods. Only keys that name the pod: a key other runs may
    share (a fixed ``keyFormat``) could hold a live writer's file."""
    status = workflow.get("status") or {}
    repository = (status.get("artifactRepositoryRef") or {}).get("artifactRepository") or {}
    local = repository.get("local") or {}
    if not local.get("root"):
        return 0
    key_format = str(local.get("keyFormat") or DEFAULT_KEY_FORMAT)
    scope = _scope(workflow)
    pods = {str(pod_name_of(workflow, node)) for node in pod_nodes(workflow)}
    pods |= {dirs.root.name for dirs in _pod_dirs(pods_dir)}
    removed = 0
    for pod in sorted(pods):
        try:
            key = substitute_key_format(key_format, {**scope, "pod.name": pod})
        except ArtifactError:
            continue  # a variable only the live run knew
        if pod in key:
            removed += len(remove_partial_writes(str(local["root"]), key))
    return removed


def _scope(workflow: dict[str, Any]) -> dict[str, str]:
    """The global variables a key format may use, rebuilt from the recorded Workflow."""
    meta, spec = workflow.get("metadata") or {}, workflow.get("spec") or {}
    created = parse_time(meta.get("creationTimestamp")) or datetime.now(UTC)
    scope = workflow_scope(
        name=str(meta.get("name") or ""),
        namespace=str(meta.get("namespace") or "default"),
        uid=str(meta.get("uid") or ""),
        service_account_name=str(spec.get("serviceAccountName") or "default"),
        parameters=(spec.get("arguments") or {}).get("parameters") or [],
        labels=meta.get("labels"),
        annotations=meta.get("annotations"),
        creation_timestamp=created,
        main_entrypoint=str(spec.get("entrypoint") or ""),
    )
    return dict(scope)
