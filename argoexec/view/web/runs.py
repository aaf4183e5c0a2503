"""Where the web view's workflows come from: the runs of a state directory (``argoexec run``).

Everything a request names (a namespace, a workflow, a node, a container, an artifact) is
looked up in what the state directory holds; nothing from a request becomes a path. A cluster
source (later) answers the same questions from the API server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from argoexec.controller.listing import orphaned, read_run
from argoexec.controller.render import nodes_of, parse_time, pod_name_of
from argoexec.controller.runtime.volumes import PodDirs
from argoexec.controller.state import RunDir, StateError, StateStore

WorkflowNode = tuple[dict[str, Any], dict[str, Any]]  # a workflow, and one of its nodes
# The namespace of a run whose Workflow does not say (`argoexec run`'s default).
DEFAULT_NAMESPACE = "default"


class NotFoundError(Exception):
    """What the request names is not there (the message says what)."""


@dataclass(frozen=True)
class LogChunk:
    data: bytes
    offset: int  # where the next read starts
    size: int  # the log's size when read


class RunSource(Protocol):
    """The questions the web view asks of the place its workflows live."""

    def workflows(self) -> list[tuple[dict[str, Any], bool]]:
        """Every workflow, newest first, each with whether it is orphaned."""
        ...

    def workflow(self, namespace: str, name: str) -> dict[str, Any]: ...

    def version(self, namespace: str, name: str) -> str:
        """A token that changes whenever the workflow does (cheap: polled)."""
        ...

    def node(self, namespace: str, name: str, node_id: str) -> WorkflowNode:
        """The workflow and its node `node_id`."""
        ...

    def containers(self, namespace: str, name: str, node_id: str) -> list[str]: ...

    def log(self, namespace: str, name: str, node_id: str, container: str) -> LogReader:
        """The container's log, found once (a stream reads it many times)."""
        ...


class LogReader(Protocol):
    def read(self, offset: int, limit: int) -> LogChunk:
        """At most `limit` bytes from `offset` (nothing once the log is gone)."""
        ...


@dataclass(frozen=True)
class LogFile:
    """A container's log kept in its pod's directory."""

    path: Path

    def read(self, offset: int, limit: int) -> LogChunk:
        try:
            with open(self.path, "rb") as stream:
                size = os.fstat(stream.fileno()).st_size
                start = min(max(offset, 0), size)
                stream.seek(start)
                data = stream.read(max(0, min(limit, size - start)))
        except OSError:
            return LogChunk(b"", offset, offset)
        return LogChunk(data, start + len(data), size)


def namespace_of(workflow: Mapping[str, Any]) -> str:
    return str((workflow.get("metadata") or {}).get("namespace") or DEFAULT_NAMESPACE)


def slim(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """What the list shows of a workflow: its metadata, spec.suspend and status without nodes
    (a list of big runs, polled, must not parse every node of every run each time)."""
    status = {k: v for k, v in (workflow.get("status") or {}).items() if k != "nodes"}
    spec = workflow.get("spec") or {}
    metadata = dict(workflow.get("metadata") or {})
    metadata.setdefault("namespace", DEFAULT_NAMESPACE)
    return {"metadata": metadata, "spec": {"suspend": spec.get("suspend")}, "status": status}


def summary(
    workflow: dict[str, Any], orphaned: bool, now: datetime | None = None
) -> dict[str, Any]:
    """A row of the list: what Argo's UI shows of each workflow."""
    now = now or datetime.now(UTC)
    meta, status = workflow.get("metadata") or {}, workflow.get("status") or {}
    started, finished = parse_time(status.get("startedAt")), parse_time(status.get("finishedAt"))
    duration = ((finished or now) - started).total_seconds() if started else None
    return {
        "name": str(meta.get("name") or ""),
        "namespace": namespace_of(workflow),
        "phase": str(status.get("phase") or "Pending"),
        "message": str(status.get("message") or ""),
        "startedAt": status.get("startedAt"),
        "finishedAt": status.get("finishedAt"),
        "duration": duration,
        "progress": str(status.get("progress") or ""),
        "orphaned": orphaned,
        "suspended": bool((workflow.get("spec") or {}).get("suspend")),
    }


class StateDirRuns:
    """The runs of one state directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = StateStore(root)
        self._slim: dict[str, tuple[str, dict[str, Any]]] = {}  # name: (version, slim)

    def workflows(self) -> list[tuple[dict[str, Any], bool]]:
        """Every run's slim workflow (re-read only when it changed), newest first."""
        found = []
        kept: dict[str, tuple[str, dict[str, Any]]] = {}
        for run in self.store.runs():
            version = self._version(run)
            cached = self._slim.get(run.name)
            if cached is not None and cached[0] == version and version != "none":
                workflow = cached[1]
            else:
                workflow = slim(read_run(run))
            kept[run.name] = (version, workflow)
            found.append((workflow, orphaned(run, workflow)))
        self._slim = kept
        return found

    def _run(self, namespace: str, name: str) -> tuple[RunDir, dict[str, Any]]:
        try:
            run = self.store.open(name)
        except StateError:
            raise NotFoundError(f"no workflow {namespace}/{name}") from None
        workflow = read_run(run)
        if namespace_of(workflow) != namespace:
            raise NotFoundError(f"no workflow {namespace}/{name}")
        return run, workflow

    def workflow(self, namespace: str, name: str) -> dict[str, Any]:
        return self._run(namespace, name)[1]

    def version(self, namespace: str, name: str) -> str:
        try:
            run = self.store.open(name)
        except StateError:
            return "none"
        return self._version(run)

    @staticmethod
    def _version(run: RunDir) -> str:
        try:
            info = os.stat(run.workflow_file)
        except OSError:
            return "none"
        # Written atomically (a new file renamed over the old): a new inode at each change.
        return f"{info.st_mtime_ns}-{info.st_size}-{info.st_ino}"

    def _node(self, namespace: str, name: str, node_id: str) -> tuple[RunDir, WorkflowNode]:
        run, workflow = self._run(namespace, name)
        node = nodes_of(workflow).get(node_id)
        if node is None:
            raise NotFoundError(f"workflow {namespace}/{name} has no node {node_id!r}")
        return run, (workflow, node)

    def node(self, namespace: str, name: str, node_id: str) -> WorkflowNode:
        return self._node(namespace, name, node_id)[1]

    def _pod_dirs(self, namespace: str, name: str, node_id: str) -> PodDirs:
        run, (workflow, node) = self._node(namespace, name, node_id)
        pod = pod_name_of(workflow, node)
        # A pod's directory is named after the pod; one outside the run's pods is none of its.
        path = (run.pods_dir / pod).resolve() if pod else None
        if path is None or not path.is_relative_to(run.pods_dir.resolve()):
            raise NotFoundError(f"node {node_id!r} of {namespace}/{name} has no pod (no logs)")
        return PodDirs(path)

    @staticmethod
    def _logged(dirs: PodDirs) -> list[str]:
        try:
            names = [p.stem for p in dirs.logs.glob("*.log") if p.is_file()]
        except OSError:
            return []
        # The main containers first, then the executor's (as `argo logs` lists them).
        return sorted(names, key=lambda n: (n in ("init", "wait"), n != "main", n))

    def containers(self, namespace: str, name: str, node_id: str) -> list[str]:
        return self._logged(self._pod_dirs(namespace, name, node_id))

    def log(self, namespace: str, name: str, node_id: str, container: str) -> LogFile:
        dirs = self._pod_dirs(namespace, name, node_id)
        if container not in self._logged(dirs):
            raise NotFoundError(
                f"node {node_id!r} of {namespace}/{name} has no log of {container!r}"
            )
        return LogFile(dirs.log(container))
