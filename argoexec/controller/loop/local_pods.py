"""`LocalPods`: the `PodBackend` of the `local` runtime, whose pods outlive their controller.

Each pod runs under a supervisor of its own (`podhost`), detached from the controller that
created it; what the pod is and how it goes is in files under its directory (`podfiles`), so
any controller process on the same root (one started after the first died) observes it, signals
its containers and deletes it. A pod whose supervisor is gone before the pod ended (killed,
the machine restarted) is observed Failed, with a message saying so, as Argo sees a pod deleted
under it; what is left of its containers is killed then. A pod whose supervisor never started
(its creator was killed while starting it) is started by the next process that observes it, as
a kubelet runs the pods it finds: creating a pod is claiming its name, and the pod then runs.

Admission is not the backend's: it runs every pod it is given (the reconciler counts the pods
that run, as Argo's controller counts against `parallelism`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal as signals
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argoexec.contract import ANNOTATION_NODE_ID as NODE_ID
from argoexec.contract import ANNOTATION_NODE_NAME as NODE_NAME
from argoexec.contract import LABEL_WORKFLOW, MAX_OUTPUT_PARAMETERS_BYTES
from argoexec.controller.loop import podhost
from argoexec.controller.loop.adapt import adapt_local
from argoexec.controller.loop.podfiles import CHANGES_FIFO, Listener, Manifest, PodFiles, read_json
from argoexec.controller.loop.podhost import RuntimeSettings
from argoexec.controller.loop.seams import PodObservation
from argoexec.controller.processes import kill_session, same_process
from argoexec.controller.runtime.results import LocalResults, ResultError, add_result_channel
from argoexec.controller.runtime.status import FAILED, RUNNING, SUCCEEDED, PodResult
from argoexec.controller.runtime.volumes import PodDirs
from argoexec.errors import os_cause
from argoexec.models import NodeResult

log = logging.getLogger("argoexec.controller.local_pods")

SUPERVISOR_LOST = "SupervisorLost"  # the reason of a pod whose supervisor is gone
# How often `wait` looks for changes no supervisor tells (a supervisor killed with SIGKILL).
POLL_SECONDS = 1.0
_KILLED = 137


StatusKey = tuple[int, int, int]
Supervisor = tuple[int, str | None]  # pid, start ticks


@dataclass(frozen=True)
class _Ended:
    key: StatusKey  # the status file it was read from
    observation: PodObservation


class LocalPods:
    """Pods as sandboxed processes on this machine, each in ``<root>/<pod name>/``.

    ``secrets`` is the directory of ``<secretName>/<key>`` files that secret volumes and
    references read; ``max_parameters_bytes`` the cap on a node's output parameters that
    `adapt` tells `wait` and `observe` enforces on its result (0: none). ``start_method``:
    `podhost.FORK`, `podhost.SPAWN`, or None to fork when this process has one thread.

    One thread uses it (the controller loop's); it holds caches of what it observed, and the
    FIFO `wait` listens on. Any number of instances, in any processes, may share a root, one
    at a time waiting on its FIFO.
    """

    def __init__(
        self,
        root: Path,
        *,
        settings: RuntimeSettings | None = None,
        secrets: Path | None = None,
        max_parameters_bytes: int = MAX_OUTPUT_PARAMETERS_BYTES,
        start_method: str | None = None,
        kubeconfig: Path | None = None,
    ) -> None:
        self.root = root
        self.kubeconfig = kubeconfig
        self.settings = settings or RuntimeSettings()
        self.runtime = self.settings.runtime(root)
        self.secrets = secrets
        self.start_method = start_method
        self._results = LocalResults(
            self.runtime.volume_path, max_parameters_bytes=max_parameters_bytes
        )
        self._manifests: dict[str, tuple[tuple[int, int], Manifest]] = {}
        self._ended: dict[str, _Ended] = {}
        # Pods last observed unfinished: what their status file was, which supervisor runs them.
        self._live: dict[str, tuple[StatusKey | None, Supervisor | None]] = {}
        self._listener: Listener | None = None

    # --- PodBackend ---------------------------------------------------------------------------

    def adapt(
        self, pod: Mapping[str, Any], template: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """``pod`` as this backend runs it: its reporter writes the node's result into a volume
        that `observe` reads (the file sink); `local:` artifact roots and the kubeconfig of a
        resource template are bound in (`adapt.adapt_local`). Called before `create`."""
        adapted = adapt_local(pod, template or {}, kubeconfig=self.kubeconfig)
        add_result_channel(adapted, max_parameters_bytes=self._results.max_parameters_bytes)
        return adapted

    def create(self, pod: Mapping[str, Any], config_maps: Mapping[str, Mapping[str, str]]) -> None:
        name = str((pod.get("metadata") or {}).get("name") or "")
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"not a pod name: {name!r}")
        files = self._files(name)
        files.root.mkdir(parents=True, exist_ok=True)
        # The lock is held until the supervisor has recorded itself: a process that finds the
        # pod without a supervisor and the lock free knows its creator died starting it.
        with files.locked() as lock:
            if lock is None or files.manifest.exists() or files.deleted.exists():
                return  # it exists, is being created or deleted: Kubernetes' AlreadyExists
            podhost.write_pod(files, pod, config_maps)
            if not files.claim(_manifest(pod, now=time.time())):
                return
            self._start(files, pod, lock)

    def _start(self, files: PodFiles, pod: Mapping[str, Any], lock: int) -> PodResult | None:
        """Start the supervisor of the pod whose files are written (``lock``: the pod's lock,
        which it inherits); the pod's final status if it could not start."""
        name = files.root.parent.name
        self.runtime.prepare()  # once: forked supervisors inherit it
        method = self.start_method or podhost.start_method()
        try:
            pid = podhost.start(
                self.runtime, self.settings, files, secrets=self.secrets, method=method, lock=lock
            )
        except (OSError, RuntimeError) as exc:
            log.error("pod %s: its supervisor did not start: %s", name, exc)
            status = files.read_status() or PodResult.pending(pod)
            status.fail(podhost.SUPERVISOR_ERROR, f"the pod's supervisor did not start: {exc}")
            files.write_status(status, ended=True)
            return status
        log.debug("pod %s: supervisor %d (%s)", name, pid, method)
        return None

    def observe(self, workflow_name: str) -> dict[str, PodObservation]:
        found: dict[str, PodObservation] = {}
        try:
            entries = sorted(os.scandir(self.root), key=lambda e: e.name)
        except FileNotFoundError:
            return found
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                continue
            files = self._files(entry.name)
            manifest = self._manifest(entry.name, files)
            if manifest is None:
                self._collect(entry.name, files)
                continue
            if manifest.workflow != workflow_name:
                continue
            observation = self._observe(manifest, files)
            found[manifest.node_id or manifest.name] = observation
        return found

    def settle(self, timeout: float) -> bool:
        """Wait until no pod of this backend has a live supervisor (a deleted pod's included:
        it ends after its grace period), at most `timeout` seconds; True if none has."""
        end = time.monotonic() + timeout
        while True:
            alive = False
            try:
                entries = list(os.scandir(self.root))
            except FileNotFoundError:
                return True
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
                    continue
                supervisor = self._files(entry.name).supervisor()
                if supervisor is not None and same_process(*supervisor):
                    alive = True
                    break
            if not alive:
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.05)

    def signal(self, pod_name: str, container: str, signum: int) -> None:
        files = self._files(pod_name)
        supervisor = files.supervisor()
        if not files.manifest.exists() or supervisor is None or not same_process(*supervisor):
            return  # no such pod, or it has ended: no container runs
        status = files.read_status()
        if status is not None and status.ended:
            return  # its containers all ended; its supervisor is on its way out
        files.request_signal(container, signum)
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile, and the container
            os.kill(supervisor[0], signals.SIGUSR1)

    def delete(self, pod_name: str) -> None:
        files = self._files(pod_name)
        self._forget(pod_name)
        lock = files.lock(wait=False)
        if lock is None:
            if files.deleted.exists() or not files.root.is_dir():
                return  # deleted already (its supervisor or another deleter cleans up)
            # Its creator is starting it, or its supervisor is exiting: moments.
            lock = files.lock(wait=True)
        try:
            files.mark_deleted()
            # Under the lock, a live supervisor that is not exiting has not looked for the
            # deletion yet: it cleans up once the pod ended. Otherwise it is gone (or going, or
            # never started): what the pod left is removed here.
            supervisor = files.supervisor()
            exiting = files.exiting.exists()
            if supervisor is not None and same_process(*supervisor) and not exiting:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(supervisor[0], signals.SIGTERM)  # it terminates the pod, then cleans up
                    return
            if files.deleted.exists():
                self._remove(pod_name)
        finally:
            if lock is not None:
                os.close(lock)

    def wait(self, timeout: float) -> bool:
        if self._listener is None:
            self._listener = Listener(self.root)
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.0, deadline - time.monotonic())
            if self._listener.wait(min(left, POLL_SECONDS)) or self._changed_unannounced():
                return True
            if left <= 0:
                return False

    def close(self) -> None:
        """Stop listening for changes (pods go on)."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    # --- more -----------------------------------------------------------------------------

    def logs(self, pod_name: str, container: str) -> str:
        return self.runtime.logs(pod_name, container)

    @property
    def changes(self) -> Path:
        """The FIFO supervisors write a byte to after each status they record."""
        return self.root / CHANGES_FIFO

    # --- internals ----------------------------------------------------------------------------

    def _files(self, name: str) -> PodFiles:
        return PodFiles(self.runtime.pod_dirs(name).supervisor)

    def _manifest(self, name: str, files: PodFiles) -> Manifest | None:
        """The pod's manifest, read once per manifest file; None if the pod does not exist."""
        try:
            stat = files.manifest.stat()
        except OSError:
            self._forget(name)
            return None
        key = (stat.st_ino, stat.st_mtime_ns)
        cached = self._manifests.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        manifest = files.read_manifest()
        if manifest is not None:
            self._manifests[name] = (key, manifest)
        return manifest

    def _observe(self, manifest: Manifest, files: PodFiles) -> PodObservation:
        name = manifest.name
        key = files.status_key()
        ended = self._ended.get(name)
        if ended is not None and ended.key == key:
            return ended.observation  # a finished pod: one stat a pass
        status = files.read_status()
        supervisor = files.supervisor()
        if status is None or not status.ended:
            status = self._lost(manifest, files, status, supervisor) or status
            key = files.status_key()
        if status is None:
            status = PodResult(name)
        if not status.ended and status.phase in (SUCCEEDED, FAILED):
            # A pod is over only once every container ended; the runtime marks it failing as
            # soon as it starts terminating it (a deadline, a stop).
            status.phase = RUNNING
        observation = PodObservation(name, manifest.node_id, status)
        if not status.ended or key is None:
            self._live[name] = (key, supervisor)
            return observation
        self._live.pop(name, None)
        result, error = self._result(name)
        observation = PodObservation(
            name, manifest.node_id, status, result=result, completed=True, result_error=error
        )
        self._ended[name] = _Ended(key, observation)
        return observation

    def _lost(
        self,
        manifest: Manifest,
        files: PodFiles,
        status: PodResult | None,
        supervisor: Supervisor | None,
    ) -> PodResult | None:
        """The final status of an unfinished pod whose supervisor is gone (recorded here, what
        is left of its containers killed), None while it runs or still starts."""
        if supervisor is None:
            return self._adopt(manifest, files)
        if same_process(*supervisor):
            return None
        again = files.read_status()  # it may have recorded the end just before it exited
        if again is not None and again.ended:
            return again
        message = (
            f"the pod's supervisor (pid {supervisor[0]}) is gone: it was killed, or the "
            "machine restarted, before the pod ended; its containers were stopped"
        )
        dirs = self.runtime.pod_dirs(manifest.name)
        for pid, ticks in dirs.recorded_processes():
            kill_session(pid, ticks)  # unsandboxed containers outlive it; sandboxed do not
        final = status or PodResult(manifest.name)
        now = time.time()
        for container in (*final.init_containers, *final.containers):
            if container.running:
                container.terminate(_KILLED, "", now)
        final.fail(SUPERVISOR_LOST, message)
        try:
            files.write_status(final, ended=True)
        except OSError as exc:  # a full disk: the next observation finds it lost again
            log.warning("pod %s: cannot record its end: %s", manifest.name, os_cause(exc))
        log.warning("pod %s: %s", manifest.name, message)
        return final

    def _adopt(self, manifest: Manifest, files: PodFiles) -> PodResult | None:
        """A pod that exists but whose supervisor never started, its creator gone (a controller
        killed while creating it), is started here, as a kubelet starts the pods it finds:
        the controller that asks for it again finds it exists. None once started, or while
        another process starts it (or deletes it); its final status if it cannot start."""
        with files.locked() as lock:
            if lock is None or files.supervisor() is not None or not files.manifest.exists():
                return None
            status = files.read_status()
            if status is not None and status.ended:
                return status
            pod = read_json(files.pod)
            if not isinstance(pod, dict):
                final = status or PodResult(manifest.name)
                final.fail(podhost.SUPERVISOR_ERROR, "the pod's supervisor never started")
                files.write_status(final, ended=True)
                return final
            log.warning("pod %s: its creator ended before starting it; starting it", manifest.name)
            return self._start(files, pod, lock)

    def _result(self, name: str) -> tuple[NodeResult | None, str]:
        try:
            return self._results.read(name), ""
        except ResultError as exc:
            return None, str(exc)
        except ValueError as exc:  # not JSON, or not a NodeResult
            return None, f"the executor's result cannot be read: {exc}"

    def _collect(self, name: str, files: PodFiles) -> None:
        """Remove what a deleted pod left but its logs, once its supervisor is gone."""
        if not files.deleted.exists():
            return
        supervisor = files.supervisor()
        if supervisor is not None and same_process(*supervisor):
            return  # it is terminating the pod; it cleans up when done
        self._remove(name)

    def _remove(self, name: str) -> None:
        dirs: PodDirs = self.runtime.pod_dirs(name)
        for pid, ticks in dirs.recorded_processes():
            kill_session(pid, ticks)
        dirs.remove_all_but_logs()

    def _forget(self, name: str) -> None:
        self._manifests.pop(name, None)
        self._ended.pop(name, None)
        self._live.pop(name, None)

    def _changed_unannounced(self) -> bool:
        """Whether a pod last observed unfinished changed without a word on the FIFO: its
        status file is another, or its supervisor is gone."""
        for name, (key, supervisor) in list(self._live.items()):
            files = self._files(name)
            if files.status_key() != key:
                return True
            if supervisor is None or not same_process(*supervisor):
                return True
        return False


def _manifest(pod: Mapping[str, Any], *, now: float) -> Manifest:
    """What `observe` needs of the pod: its workflow label, node id and name annotations."""
    meta = pod.get("metadata") or {}
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    return Manifest(
        name=str(meta.get("name") or ""),
        workflow=str(labels.get(LABEL_WORKFLOW) or ""),
        node_id=str(annotations.get(NODE_ID) or ""),
        node_name=str(annotations.get(NODE_NAME) or ""),
        created=now,
    )
