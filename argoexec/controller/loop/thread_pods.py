"""A `PodBackend` over a blocking `Runtime` (`run_pod` until the pod ends): each pod runs in a
thread of this process. Its pods end with the process, so a controller using it does not
survive a crash of its own (the `local` backend for that is `LocalPods`); it serves runs that
live and die with one process (`WorkflowRunner` on any runtime, test runtimes included).

Signals: SIGTERM or SIGKILL to a container terminates the whole pod the way the kubelet does
(SIGTERM to each container's PID 1, SIGKILL after the grace period), the only way a blocking
runtime can be asked to end a pod; other signals run Argo's kill command in the container.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argoexec.contract import ANNOTATION_NODE_ID, LABEL_WORKFLOW, WAIT_CONTAINER
from argoexec.controller.runtime.kill import kill_command
from argoexec.controller.runtime.mains import LOST_MAIN, LOST_POLL_SECONDS, LostMains, pod_mains
from argoexec.controller.runtime.protocol import Runtime
from argoexec.controller.runtime.results import ResultChannel, ResultError
from argoexec.controller.runtime.status import RUNNING, PodResult
from argoexec.lifecycle import Stop
from argoexec.models import NodeResult

from .adapt import adapt_local
from .seams import PodObservation

log = logging.getLogger("argoexec.controller")
DELETED = "the pod was deleted"
_POLL = 0.05  # how often `wait` looks at running pods' statuses without an event


@dataclass
class _Pod:
    pod: Mapping[str, Any]
    workflow: str
    node_id: str
    stop: Stop = field(default_factory=Stop)
    result: PodResult | None = None  # once it ended
    reported: NodeResult | None = None
    result_error: str = ""
    deleted: bool = False
    started: float = field(default_factory=time.time)


class ThreadPods:
    def __init__(
        self,
        runtime: Runtime,
        results: ResultChannel,
        *,
        secrets: Path | None = None,
        config_maps: Mapping[str, Mapping[str, str]] | None = None,
        kubeconfig: Path | None = None,
    ) -> None:
        self.runtime = runtime
        self.results = results
        self.secrets = secrets
        self.config_maps = dict(config_maps or {})
        self.kubeconfig = kubeconfig
        self._pods: dict[str, _Pod] = {}
        self._cond = threading.Condition()
        self._changed = False
        self._cleanups = 0  # ended pods whose files are being removed

    # --- PodBackend -------------------------------------------------------------------------

    def adapt(self, pod: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
        adapted = adapt_local(pod, template, kubeconfig=self.kubeconfig)
        self.results.prepare(adapted)
        return adapted

    def create(self, pod: Mapping[str, Any], config_maps: Mapping[str, Mapping[str, str]]) -> None:
        meta = pod["metadata"]
        name = str(meta["name"])
        with self._cond:
            if name in self._pods:
                return  # AlreadyExists
            state = _Pod(
                pod,
                str((meta.get("labels") or {}).get(LABEL_WORKFLOW) or ""),
                str((meta.get("annotations") or {}).get(ANNOTATION_NODE_ID) or ""),
            )
            self._pods[name] = state
        thread = threading.Thread(
            target=self._run, args=(state, {**self.config_maps, **config_maps}), daemon=True
        )
        thread.start()

    def observe(self, workflow_name: str) -> dict[str, PodObservation]:
        with self._cond:
            pods = [
                (n, s)
                for n, s in self._pods.items()
                if s.workflow == workflow_name and not s.deleted
            ]
        found: dict[str, PodObservation] = {}
        for name, state in pods:
            if state.result is not None:
                found[state.node_id] = PodObservation(
                    name, state.node_id, state.result, state.reported, True, state.result_error
                )
            else:
                found[state.node_id] = PodObservation(name, state.node_id, self._snapshot(state))
        return found

    def signal(self, pod_name: str, container: str, signum: int) -> None:
        with self._cond:
            state = self._pods.get(pod_name)
        if state is None or state.result is not None:
            return
        if signum in (signal.SIGTERM, signal.SIGKILL):
            state.stop.set(f"signalled ({signal.Signals(signum).name})")
            return
        command = kill_command(state.pod, container, signum)
        threading.Thread(
            target=self._exec, args=(pod_name, container, command), daemon=True
        ).start()

    def delete(self, pod_name: str) -> None:
        with self._cond:
            state = self._pods.get(pod_name)
            if state is None or state.deleted:
                return
            state.deleted = True
            ended = state.result is not None
        if ended:  # off the controller's thread: deleting a pod's files takes a while
            with self._cond:
                self._cleanups += 1
            threading.Thread(target=self._cleanup_ended, args=(pod_name,), daemon=True).start()
        else:
            state.stop.set(DELETED)

    def wait(self, timeout: float) -> bool:
        with self._cond:
            if not self._changed:
                self._cond.wait(min(timeout, _POLL))
            changed, self._changed = self._changed, False
        return changed

    # --- the pods ---------------------------------------------------------------------------

    def kill_all(self, reason: str) -> None:
        """Stop every pod at once (SIGKILL after no grace: the runtime's grace still applies)."""
        with self._cond:
            states = [s for s in self._pods.values() if s.result is None]
        for state in states:
            state.stop.set(reason)
            with contextlib.suppress(Exception):
                self.runtime.kill(str(state.pod["metadata"]["name"]), None, signal.SIGKILL)

    def running(self) -> int:
        with self._cond:
            return sum(1 for s in self._pods.values() if s.result is None)

    def settle(self, timeout: float) -> bool:
        """Wait until no pod runs and deleted pods' files are gone (True), at most `timeout`
        seconds."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._cleanups or any(s.result is None for s in self._pods.values()):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _snapshot(self, state: _Pod) -> PodResult:
        name = str(state.pod["metadata"]["name"])
        with contextlib.suppress(Exception):
            status = self.runtime.status(name)
            if status is not None:
                snapshot = PodResult.from_k8s(name, status.to_k8s(precise=True))
                # A pod is Failed only once every container ended (the runtime marks it
                # failing as soon as it starts terminating it).
                snapshot.phase = RUNNING
                return snapshot
        started = PodResult.pending(state.pod)
        started.phase = RUNNING
        for container in started.containers:
            container.started_at = state.started
        return started

    def _run(self, state: _Pod, config_maps: Mapping[str, Mapping[str, str]]) -> None:
        name = str(state.pod["metadata"]["name"])
        done = threading.Event()
        has_wait = any(
            c.get("name") == WAIT_CONTAINER for c in state.pod["spec"].get("containers") or []
        )
        if has_wait:
            mains = pod_mains(state.pod, config_maps)
            threading.Thread(target=self._watch, args=(state, mains, done), daemon=True).start()
        try:
            result = self.runtime.run_pod(
                state.pod, secrets=self.secrets, config_maps=config_maps, stop=state.stop
            )
        except Exception as exc:  # the runtime failed: the pod failed, the run goes on
            log.error("pod %s: the runtime failed (%s)", name, type(exc).__name__)
            log.debug("pod %s: the runtime failed", name, exc_info=exc)
            result = PodResult.pending(state.pod)
            result.fail("RuntimeError", f"the runtime failed to run the pod ({type(exc).__name__})")
        finally:
            done.set()
        if state.stop.cause == LOST_MAIN:
            result.fail(LOST_MAIN, state.stop.reason)
        try:
            state.reported = self.results.read(name)
        except ResultError as exc:
            state.result_error = str(exc)
        except Exception as exc:  # an unreadable result is the node's error, named
            state.result_error = f"the executor's result cannot be read: {exc}"
        with self._cond:
            state.result = result
            deleted = state.deleted
            self._changed = True
            self._cond.notify_all()
        if deleted:
            self._cleanup(name)

    def _watch(self, state: _Pod, mains: list[str], done: threading.Event) -> None:
        name = str(state.pod["metadata"]["name"])
        lost = LostMains(
            mains,
            exit_recorded=lambda main: self.results.exit_recorded(name, main),
            logs=lambda main: self.runtime.logs(name, main),
        )
        while not done.wait(LOST_POLL_SECONDS):
            status = self.runtime.status(name)
            why = lost.check(status) if status is not None else None
            if why:
                state.stop.set(why, cause=LOST_MAIN)
                return

    def _exec(self, pod_name: str, container: str, command: list[str]) -> None:
        try:
            self.runtime.exec(pod_name, container, command)
        except Exception as exc:  # the container ended meanwhile: nothing to signal
            log.debug("pod %s: %s: %s", pod_name, " ".join(command), exc)

    def _cleanup_ended(self, pod_name: str) -> None:
        try:
            self._cleanup(pod_name)
        finally:
            with self._cond:
                self._cleanups -= 1
                self._cond.notify_all()

    def _cleanup(self, pod_name: str) -> None:
        # Pod GC is best effort; the pod's logs stay either way.
        with contextlib.suppress(OSError, RuntimeError):
            self.runtime.cleanup(pod_name)
