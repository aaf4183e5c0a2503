"""A node agent that plays the kubelet for the fake Kubernetes API server (``kube.py``).

`NodeAgent` makes the pods created in a `FakeKube` run on this machine with the project's own
``local`` runtime (bubblewrap-sandboxed processes), or ``podman``:

* It follows the pods of every namespace in the fake's store, in process: the current pods and
  the store's resourceVersion are taken under the store's lock, then every event after it — so
  a pod created while the agent starts is not missed; a compacted history (410 Gone) makes it
  list again, as an informer does.
* A pod it has not seen, not bound to another node and not already Succeeded/Failed, is bound
  to it (``spec.nodeName``, a Binding's effect) and runs on a worker thread (at most
  ``max_pods`` at once; the others wait Pending). Before running, it gets what admission and
  the kubelet give (`_kubelet_admit`): its service account's token — registered in
  ``fake.tokens`` as ``system:serviceaccount:<ns>:<sa>`` — with the CA and namespace at
  ``/var/run/secrets/kubernetes.io/serviceaccount``, the ``kubernetes`` service's variables,
  and the Secrets and ConfigMaps it refers to.
* Each change of the run is written to the pod's ``status`` (store-level ``/status`` update:
  resourceVersion bumped, watchers see MODIFIED): phase (Pending while init containers run),
  ``startTime``, ``hostIP``/``podIP`` 127.0.0.1, ``conditions``, ``initContainerStatuses``,
  ``containerStatuses`` (`status.PodResult.to_k8s`). ``activeDeadlineSeconds`` is the
  runtime's: Failed, reason DeadlineExceeded.
* A pod DELETED from the store is terminated (SIGTERM, SIGKILL after its
  ``terminationGracePeriodSeconds``), its token revoked, its files removed, logs included.
* It is the fake's ``kubelet`` (`PodHost`): ``log`` and ``exec`` serve ``pods/log`` and
  ``pods/exec``. They raise `ApiError` (``tests.servers._kube_store``) with the code, reason
  and message the API server answers with, which the fake sends as a ``Status``.

Its own requests do not go through HTTP, so the journal (``fake.requests``) holds only what the
pods and the code under test asked. ``stop()`` ends every pod it runs and joins its threads.
The ``node_agent`` fixture runs one on ``kube_api_tls`` (the executor reaches the API server
over https, as in a cluster).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller.runtime import status as st
from argoexec.controller.runtime.local import LocalRuntime, default_max_pods
from argoexec.controller.runtime.protocol import HostRuntime
from argoexec.controller.runtime.status import PodResult
from argoexec.controller.sandbox import find_bubblewrap
from argoexec.lifecycle import Stop
from tests.servers import _kubelet_logs as logs
from tests.servers._kube_store import ApiError, Kind
from tests.servers._kubelet_admit import admit
from tests.servers._kubelet_status import Conditions, pod_status
from tests.servers.kube import FakeKube
from tests.servers.procs import require

log = logging.getLogger("tests.kubelet")

STOP_GRACE = 5.0  # seconds stop() lets pods end on SIGTERM before it SIGKILLs them


@dataclass
class PodRun:
    """One pod (one uid) on this node."""

    namespace: str
    name: str
    uid: str
    pod: dict[str, Any]
    stop: Stop = field(default_factory=Stop)
    result: PodResult | None = None
    runtime: HostRuntime | None = None
    token: str | None = None
    deleted: bool = False
    finished: threading.Event = field(default_factory=threading.Event)
    conditions: Conditions = field(default_factory=Conditions)


class NodeAgent:
    """The kubelet of one node for ``fake``; pods keep their files under ``root``."""

    def __init__(
        self,
        fake: FakeKube,
        root: Path,
        *,
        runtime: str = "local",
        sandbox: bool = True,
        node_name: str = "node-1",
        max_pods: int | None = None,
    ) -> None:
        if runtime not in ("local", "podman"):
            raise ValueError(f"node agent: unknown runtime {runtime!r} (local or podman)")
        self.fake, self.root, self.runtime_name = fake, root, runtime
        self.sandbox, self.node_name = sandbox, node_name
        self.max_pods = max_pods or default_max_pods()
        self._pods: Kind = fake.kind("pods")
        self._lock = threading.Lock()
        self._runs: dict[str, PodRun] = {}  # by uid
        self._by_name: dict[tuple[str, str], PodRun] = {}  # the latest run of a pod name
        self._runtimes: dict[str, HostRuntime] = {}
        self._queue: queue.Queue[PodRun | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> NodeAgent:
        self.fake.kubelet = self  # type: ignore[attr-defined]
        watcher = threading.Thread(target=self._watch, name="kubelet-watch", daemon=True)
        self._threads.append(watcher)
        for index in range(self.max_pods):
            name = f"kubelet-pod-{index}"
            self._threads.append(threading.Thread(target=self._work, name=name, daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Terminate every pod (SIGKILL after `STOP_GRACE`), join the threads, revoke tokens."""
        self._stopping.set()
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.stop.set("the node agent stopped")
        deadline = time.monotonic() + STOP_GRACE
        for run in runs:
            if not run.finished.wait(max(0.0, deadline - time.monotonic())):
                break
        for run in runs:
            if not run.finished.is_set() and run.runtime is not None:
                run.runtime.kill(run.name, None, signal.SIGKILL)
        for _ in range(self.max_pods):
            self._queue.put(None)
        with self.fake.store.changed:
            self.fake.store.changed.notify_all()
        for thread in self._threads:
            thread.join(timeout=60)
        alive = [t.name for t in self._threads if t.is_alive()]
        for run in runs:
            self._revoke(run)
        if getattr(self.fake, "kubelet", None) is self:
            self.fake.kubelet = None  # type: ignore[attr-defined]
        if alive:
            raise RuntimeError(f"node agent: threads still running after stop: {alive}")

    def __enter__(self) -> NodeAgent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run_of(self, namespace: str, name: str) -> PodRun | None:
        """The latest run of the pod ``namespace/name`` on this node, if any."""
        with self._lock:
            return self._by_name.get((namespace, name))

    def _revoke(self, run: PodRun) -> None:
        """A bound token dies with its pod."""
        if run.token is not None:
            self.fake.tokens.pop(run.token, None)  # a bound token dies with its pod
            run.token = None

    # --- following the store --------------------------------------------------------------

    def _watch(self) -> None:
        store = self.fake.store
        rv = self._relist()
        while not self._stopping.is_set():
            with store.changed:
                if store.rv == rv:
                    store.changed.wait(0.5)
                try:
                    events = [
                        (e.type, e.obj) for e in store.events_since(rv) if e.kind == self._pods
                    ]
                    rv = store.rv
                except ApiError:  # 410 Gone: the history was compacted (a reset)
                    events = None
            if events is None:
                rv = self._relist()
                continue
            for event_type, obj in events:
                try:
                    self._event(event_type, obj)
                except Exception:  # one bad pod must not stop the node
                    log.exception("node agent: %s event of a pod", event_type)

    def _relist(self) -> int:
        store = self.fake.store
        with store.lock:
            items = store.list(self._pods, "")["items"]
            rv = store.rv
        present = {o["metadata"]["uid"] for o in items}
        with self._lock:
            gone = [r for uid, r in self._runs.items() if uid not in present and not r.deleted]
        for run in gone:
            self._deleted(run)
        for obj in items:
            self._event("ADDED", obj)
        return rv

    def _event(self, event_type: str, obj: dict[str, Any]) -> None:
        uid = str(obj["metadata"].get("uid") or "")
        with self._lock:
            run = self._runs.get(uid)
        if event_type == "DELETED":
            if run is not None:
                self._deleted(run)
            return
        if run is not None or self._stopping.is_set() or not self._ours(obj):
            return
        meta = obj["metadata"]
        run = PodRun(str(meta.get("namespace") or "default"), str(meta["name"]), uid, obj)
        with self._lock:
            self._runs[uid] = run
            previous = self._by_name.get((run.namespace, run.name))
            self._by_name[(run.namespace, run.name)] = run
        if previous is not None and previous.finished.is_set():
            self._forget(previous)
        self._bind(run)
        self._queue.put(run)

    def _ours(self, obj: dict[str, Any]) -> bool:
        node = (obj.get("spec") or {}).get("nodeName")
        phase = (obj.get("status") or {}).get("phase")
        return node in (None, "", self.node_name) and phase not in (st.SUCCEEDED, st.FAILED)

    def _deleted(self, run: PodRun) -> None:
        with self._lock:
            run.deleted = True
            clean = run.finished.is_set()
        run.stop.set("the pod was deleted")
        self._revoke(run)
        if clean:
            self._clean(run)

    def _forget(self, run: PodRun) -> None:
        with self._lock:
            self._runs.pop(run.uid, None)

    # --- running ---------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            run = self._queue.get()
            if run is None:
                return
            try:
                if not run.deleted and not self._stopping.is_set():
                    self._run(run)
            except Exception:
                log.exception("node agent: pod %s/%s failed to run", run.namespace, run.name)
            finally:
                with self._lock:  # against `_deleted`: exactly one of the two cleans up
                    run.finished.set()
                    clean = run.deleted
                if clean:
                    self._clean(run)

    def _run(self, run: PodRun) -> None:
        with self._lock:
            earlier = [
                r
                for r in self._runs.values()
                if (r.namespace, r.name) == (run.namespace, run.name) and r is not run
            ]
        for other in earlier:  # deleted, it is ending: a pod's name is free once it ended
            other.finished.wait()
        runtime = self._runtime(run.namespace)
        run.runtime = runtime
        try:
            sandboxed = getattr(runtime, "sandboxed", True)
            admitted = admit(
                self.fake,
                run.pod,
                self._work_dir(run),
                issue_token=self.fake.add_token,
                sandboxed=sandboxed,
            )
            run.token = admitted.token
            if run.deleted:  # deleted while admitted: its token must not outlive it
                self._revoke(run)
            run.result = runtime.run_pod(
                admitted.pod,
                secrets=admitted.secrets,
                config_maps=admitted.config_maps,
                stop=run.stop,
                on_change=lambda result, ended: self._changed(run, result),
            )
        except (OSError, ValueError, RuntimeError) as exc:
            failed = PodResult.pending(run.pod, start_time=time.time())
            failed.fail(st.FAILED_CREATE_POD_SANDBOX, f"the node agent could not run it: {exc}")
            self._report(run, failed)
            raise

    def _runtime(self, namespace: str) -> HostRuntime:
        """One runtime per namespace: the runtimes key pods by name."""
        with self._lock:
            found = self._runtimes.get(namespace)
            if found is None:
                root = self.root / "pods" / namespace
                claims = self.root / "claims"
                if self.runtime_name == "podman":
                    from argoexec.controller.runtime.podman import PodmanRuntime

                    found = PodmanRuntime(root, claims=claims)
                else:
                    found = LocalRuntime(root, sandbox=self.sandbox, claims=claims)
                self._runtimes[namespace] = found
            return found

    def _work_dir(self, run: PodRun) -> Path:
        path = self.root / "admitted" / run.uid
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True, mode=0o700)
        return path

    def _clean(self, run: PodRun) -> None:
        """What a deleted pod left: its files (logs too), its admission's, its token."""
        self._revoke(run)
        if run.runtime is not None:
            with self._lock:
                latest = self._by_name.get((run.namespace, run.name))
            # A pod of the same name created since owns the directory now.
            if latest is run:
                with contextlib.suppress(RuntimeError):
                    run.runtime.cleanup(run.name)
                shutil.rmtree(run.runtime.pod_dirs(run.name).root, ignore_errors=True)
        shutil.rmtree(self.root / "admitted" / run.uid, ignore_errors=True)
        self._forget(run)

    # --- status -------------------------------------------------------------------------------

    def _bind(self, run: PodRun) -> None:
        """The scheduler's Binding: ``spec.nodeName``, and the pod's first status."""
        store = self.fake.store
        with store.lock:
            current = self._current(run)
            if current is None:
                return
            if not (current.get("spec") or {}).get("nodeName"):
                current.setdefault("spec", {})["nodeName"] = self.node_name
                current["metadata"].pop("resourceVersion", None)
                current = store.update(self._pods, run.namespace, run.name, current)
            run.pod = current  # the pod runs as bound
        self._report(run, PodResult.pending(run.pod))

    def _changed(self, run: PodRun, result: PodResult) -> None:
        run.result = result  # the runtime's live status: `log` and `exec` look at it
        self._report(run, result)

    def _report(self, run: PodRun, result: PodResult) -> None:
        status = pod_status(result, run.conditions)
        store = self.fake.store
        with store.lock:
            if self._current(run) is None:
                return  # deleted (or replaced by a pod of the same name)
            try:
                store.update(
                    self._pods, run.namespace, run.name, {"status": status}, subresource="status"
                )
            except ApiError as exc:  # the store refused it: say so, the pod runs on
                log.error("node agent: status of pod %s/%s: %s", run.namespace, run.name, exc)

    def _current(self, run: PodRun) -> dict[str, Any] | None:
        try:
            current = self.fake.store.get(self._pods, run.namespace, run.name)
        except ApiError:
            return None
        return current if current["metadata"].get("uid") == run.uid else None

    # --- PodHost ------------------------------------------------------------------------------

    def log(
        self,
        namespace: str,
        pod: str,
        container: str,
        *,
        follow: bool = False,
        tail_lines: int | None = None,
        timestamps: bool = False,
        previous: bool = False,
    ) -> Iterator[bytes]:
        """``pods/log``: the container's output; ``follow`` streams until it has ended."""
        run, container = self._target(namespace, pod, container)
        if previous:
            message = f'previous terminated container "{container}" in pod "{pod}" not found'
            raise ApiError(400, "BadRequest", message)
        state = logs.started(run, container)
        if state is not None:
            message = f'container "{container}" in pod "{pod}" is waiting to start: {state}'
            raise ApiError(400, "BadRequest", message)
        return logs.stream(
            run,
            container,
            follow=follow,
            tail_lines=tail_lines,
            timestamps=timestamps,
            stopping=self._stopping,
        )

    def exec(
        self, namespace: str, pod: str, container: str, command: list[str]
    ) -> tuple[bytes, bytes, int]:
        """``pods/exec``: ``command`` in the running container → (stdout, stderr, exit code)."""
        run, container = self._target(namespace, pod, container)
        runtime, result = run.runtime, run.result
        if runtime is None or result is None or not result.container(container).running:
            # The kubelet's answer, passed on by the API server when the upgrade fails.
            raise ApiError(500, "InternalError", f'container not found ("{container}")')
        done = runtime.exec(run.name, container, command)
        return done.stdout.encode(), done.stderr.encode(), done.exit_code

    def _target(self, namespace: str, pod: str, container: str) -> tuple[PodRun, str]:
        """The run of ``pod`` and the container meant (the only one when none is named), with
        the API server's errors for a missing pod, an unknown container, an unbound pod."""
        obj = self.fake.get("pods", pod, namespace)
        if obj is None:
            raise ApiError(404, "NotFound", f'pods "{pod}" not found', name=pod, kind="pods")
        container = logs.resolve_container(obj, pod, container)
        with self._lock:
            run = self._runs.get(str(obj["metadata"].get("uid")))
        if run is None:
            raise ApiError(400, "BadRequest", f"pod {pod} does not have a host assigned")
        return run, container


@pytest.fixture
def node_agent(kube_api_tls: FakeKube, tmp_path: Path) -> Iterator[NodeAgent]:
    """A node agent running the pods of the (TLS) fake API server with the local runtime."""
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    with NodeAgent(kube_api_tls, tmp_path / "node") as agent:
        yield agent
