"""Following a Workflow on a cluster: a watch on it until it has finished (``submit --watch``,
``logs --follow``), and its pods' logs streamed as they run (``submit --log``).

The watch is one object's (``fieldSelector=metadata.name=NAME``), resumed from the last
resourceVersion seen when the server ends it, and started again from a fresh read when that
version is too old (410), as client-go's watch tools do.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from argoexec.contract import MAIN_CONTAINER
from argoexec.controller.cluster.api import ClusterApi
from argoexec.controller.cluster.pods import pods_path
from argoexec.controller.cluster.store import workflows_path
from argoexec.controller.loop.controller import finished
from argoexec.controller.render import pod_name_of, pod_nodes
from argoexec.kube.errors import KubeError, KubeNotFoundError

from .cluster_access import ClusterError
from .workflows import log_prefix

log = logging.getLogger("argoexec")

WATCH_SECONDS = 300.0  # one watch request; the server may end it sooner
START_WAIT = 60.0  # how long a pod's container may take to start before its log is given up
LOG_DRAIN_SECONDS = 30.0  # how long the logs may take to end once the workflow has finished


def _version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def watch_workflow(
    api: ClusterApi,
    namespace: str,
    name: str,
    on_change: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """Every version of Workflow `name` to `on_change` (the current one first) until it has
    finished; the finished Workflow."""
    current = api.get(workflows_path(namespace, name))
    on_change(current)
    query = {"fieldSelector": f"metadata.name={name}", "allowWatchBookmarks": "true"}
    while not finished(current):
        events = api.watch(
            workflows_path(namespace),
            {**query, "resourceVersion": _version(current)},
            timeout=WATCH_SECONDS,
        )
        for event in events:
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":  # 410 Expired: the version is compacted; read it again
                current = api.get(workflows_path(namespace, name))
                on_change(current)
                break
            if kind == "DELETED":
                raise ClusterError(f'workflow "{name}" was deleted in namespace "{namespace}"')
            if kind == "BOOKMARK":
                current.setdefault("metadata", {})["resourceVersion"] = _version(obj)
                continue
            current = obj
            on_change(current)
            if finished(current):
                break
    return current


class PodLogs:
    """Each pod's `container` log, followed from when its node runs, every line prefixed with
    the node's display name (the format of `argoexec run --log`); lines of different pods
    interleave whole."""

    def __init__(
        self, api: ClusterApi, namespace: str, out: TextIO, container: str = MAIN_CONTAINER
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.out = out
        self.container = container
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def update(self, workflow: dict[str, Any]) -> None:
        for node in pod_nodes(workflow):
            pod = pod_name_of(workflow, node)
            if pod is None or pod in self._threads or node.get("phase") in (None, "Pending"):
                continue
            thread = threading.Thread(
                target=self._follow, args=(pod, log_prefix(node)), name=f"log-{pod}", daemon=True
            )
            self._threads[pod] = thread
            thread.start()

    def close(self, timeout: float = LOG_DRAIN_SECONDS) -> None:
        """Wait for the logs to end (the pods' containers have, once the workflow finished)."""
        end = time.monotonic() + timeout
        for thread in self._threads.values():
            thread.join(max(0.0, end - time.monotonic()))
        self.out.flush()

    def _follow(self, pod: str, prefix: str) -> None:
        give_up = time.monotonic() + START_WAIT
        query = [("container", self.container), ("follow", "true")]
        while True:
            try:
                pending = b""
                for chunk in self.api.text(f"{pods_path(self.namespace, pod)}/log", query):
                    *lines, pending = (pending + chunk).split(b"\n")
                    self._write(prefix, lines)
                self._write(prefix, [pending] if pending else [])
                return
            except KubeNotFoundError:
                return  # the pod is gone (deleted, garbage collected): nothing to follow
            except KubeError as exc:
                # 400 while the container waits to start (or the pod has no node yet).
                if exc.status == 400 and time.monotonic() < give_up:
                    time.sleep(0.5)
                    continue
                log.warning("no log of pod %s: %s", pod, exc)
                return

    def _write(self, prefix: str, lines: list[bytes]) -> None:
        if not lines:
            return
        text = "".join(f"{prefix}{line.decode(errors='replace')}\n" for line in lines)
        with self._lock:
            self.out.write(text)
            self.out.flush()
