"""The ``podman`` runtime: each pod runs as a real pod in podman, with the images it names.

``run_pod`` writes the pod for ``podman kube play`` (`podman_pod.kube_pod`) and plays it; podman
runs the init containers one after the other (a failed one fails the pod and nothing else
starts), then the containers together. The runtime polls the pod's containers (``podman ps``)
for the status the controller reads, enforces ``activeDeadlineSeconds`` and the stop token
(``podman pod stop`` with the pod's grace period: SIGTERM to each container's PID 1, SIGKILL
after it), and when every container has ended keeps each one's log and termination message in
the pod's directory, then removes the pod from podman. Nothing is pulled that the pod does not
ask for: podman applies each container's ``imagePullPolicy``.

``exec`` is ``podman exec`` (the controller's ``argoexec kill 15 1`` reaches the container's
PID 1, the emissary); ``kill`` is ``podman kill``. Podman is found on ``PATH`` and runs with
the caller's environment (``CONTAINERS_CONF`` and the like apply).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from argoexec.contract import PODMAN_EXECUTOR_IMAGE
from argoexec.controller.runtime import status as st
from argoexec.controller.runtime.env import EnvError
from argoexec.controller.runtime.hostpods import HostPods, PodRun
from argoexec.controller.runtime.launch import FALLBACK_TO_LOGS
from argoexec.controller.runtime.pod_network_policy import runs_daemon
from argoexec.controller.runtime.podman_pod import NEVER_PULL, PodmanNames, kube_pod, pull_policy
from argoexec.controller.runtime.podnet import HOST_ADDRESS
from argoexec.controller.runtime.process import ExecResult, termination_message
from argoexec.controller.runtime.protocol import ConfigMaps, OnChange
from argoexec.controller.runtime.status import ContainerStatus, PodResult
from argoexec.controller.runtime.volumes import VolumeError
from argoexec.errors import os_cause
from argoexec.lifecycle import Stop

log = logging.getLogger("argoexec.controller.runtime")

PODMAN = "podman"
POD_FILE = "podman-pod.json"  # JSON is YAML to `kube play`
PLAY_LOG = "podman-play.log"  # what `kube play` said
# With container events streaming, the containers are still looked at this often (an event
# missed while the stream started).
EVENTS_FALLBACK_SECONDS = 1.0
_CLI_TIMEOUT = 120.0  # one podman command (an image look-up, ps, logs, rm)
_NOT_RUNNING = 126
_PULL_ERRORS = ("image not known", "pulling image", "initializing source", "manifest unknown")
ERR_IMAGE_PULL = "ErrImagePull"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
_START_SUMMARY = re.compile(r"Error: failed to start \d+ containers?")
_STARTING = re.compile(r"^starting container [0-9a-f]{12,64}: ")


class PodmanError(Exception):
    """Podman is missing or refused a command; `str()` says which and why."""


def podman_binary() -> str:
    found = shutil.which(PODMAN)
    if found is None:
        raise PodmanError("the podman runtime needs podman: it is not on PATH")
    return found


def run_podman(args: Sequence[str], *, timeout: float = _CLI_TIMEOUT) -> str:
    """``podman ARGS``' standard output; `PodmanError` with its own words if it fails."""
    try:
        done = subprocess.run(
            [podman_binary(), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PodmanError(f"podman {args[0]} did not answer in {timeout:.0f} s") from None
    except OSError as exc:
        raise PodmanError(f"cannot run podman: {os_cause(exc)}") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise PodmanError(f"podman {args[0]} failed: {said[-1] if said else done.returncode}")
    return done.stdout


def image_exists(image: str) -> bool:
    """Whether podman has ``image`` locally (`PodmanError` if podman cannot be asked)."""
    try:
        done = subprocess.run(
            [podman_binary(), "image", "exists", image],
            capture_output=True,
            timeout=_CLI_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PodmanError(f"cannot run podman: {exc}") from None
    if done.returncode not in (0, 1):
        said = done.stderr.decode(errors="replace").strip().splitlines()
        raise PodmanError(f"podman image exists failed: {said[-1] if said else done.returncode}")
    return done.returncode == 0


@dataclass
class _Pod(PodRun):
    created: set[str] = field(default_factory=set)  # listed by podman as never started
    stopping: subprocess.Popen[bytes] | None = None


class PodmanRuntime(HostPods[_Pod]):
    def __init__(
        self,
        root: Path,
        *,
        executor_image: str = PODMAN_EXECUTOR_IMAGE,
        claims: Path | None = None,
        poll_interval: float = 0.25,
    ) -> None:
        super().__init__(root, claims)
        self.executor_image = executor_image
        self.poll_interval = max(poll_interval, 0.1)  # each look is a podman command
        self.names = PodmanNames.of(str(root.resolve()))

    def prepare(self) -> None:
        """Fail early, with the reason, when podman cannot be run."""
        podman_binary()

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
        if runs_daemon(pod):  # the host's network: a daemon listens on this machine
            state.result.pod_ip = HOST_ADDRESS
        try:
            try:
                state.notify()
                self._run(state)
            finally:
                self._keep(state)
                self.conclude(state)
            state.notify(ended=True)
        finally:  # after the end is told: removing a pod takes podman a while
            self._remove(state)
        return state.result

    def exec(
        self, pod_name: str, container: str, command: Sequence[str], *, timeout: float = 60.0
    ) -> ExecResult:
        name = self.names.container(pod_name, container)
        try:
            done = subprocess.run(
                [podman_binary(), "exec", name, *command],
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired, PodmanError) as exc:
            return ExecResult(_NOT_RUNNING, "", f"exec failed: {exc}\n")
        return ExecResult(done.returncode, done.stdout, done.stderr)

    def kill(
        self, pod_name: str, container: str | None = None, signum: int = signal.SIGTERM
    ) -> None:
        state = self.running(pod_name)
        running = [c.name for c in state.result.containers if c.running] if state else []
        names = [self.names.container(pod_name, c) for c in running if container in (None, c)]
        if names:
            with contextlib.suppress(PodmanError):
                run_podman(["kill", "--signal", str(signum), *names])

    def logs(self, pod_name: str, container: str) -> str:
        if self.running(pod_name):  # live: podman has it; once ended, the pod's directory
            with contextlib.suppress(PodmanError):
                return self._podman_logs(pod_name, container)
        return self.kept_log(pod_name, container)

    def cleanup(self, pod_name: str) -> None:
        self.refuse_running(pod_name)
        with contextlib.suppress(PodmanError):
            run_podman(["pod", "rm", "--force", "--ignore", self.names.pod(pod_name)])
        self.pod_dirs(pod_name).remove_all_but_logs()

    # --- The pod's life ---------------------------------------------------------------------

    def _admit(
        self, pod: Mapping[str, Any], secrets: Path | None, config_maps: ConfigMaps, stop: Stop
    ) -> _Pod:
        state = _Pod(**self.admission(pod, secrets, config_maps, stop))
        spec = pod.get("spec") or {}
        for container in (*(spec.get("initContainers") or []), *(spec.get("containers") or [])):
            state.specs[str(container["name"])] = container
        self.register(state)
        return state

    def _run(self, state: _Pod) -> None:
        dirs = state.ctx.dirs
        try:
            dirs.fresh()  # a pod re-run under the same name starts with fresh logs
            state.ctx.volumes.prepare()
            for name in state.specs:
                termination = dirs.termination(name)
                termination.touch()
                termination.chmod(0o666)  # written by the container's user, whoever it is
            document = kube_pod(state.ctx, self.names, self.executor_image)
            pod_file = dirs.root / POD_FILE
            # The resolved env holds Secrets' values: readable by this user only.
            fd = os.open(pod_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            # Characters as UTF-8, not JSON escapes: podman's YAML reader refuses the surrogate
            # pairs JSON writes for characters beyond the BMP (an emoji). A lone surrogate
            # (no character at all) stays an escape, which podman refuses, naming it.
            with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as out:
                out.write(json.dumps(document, indent=1, ensure_ascii=False))
        except VolumeError as exc:
            state.result.fail_to_start(st.FAILED_MOUNT, str(exc))
            return
        except EnvError as exc:
            state.result.fail_to_start(st.CREATE_CONTAINER_CONFIG_ERROR, str(exc))
            return
        except OSError as exc:  # the pod's files could not be written (a full disk)
            state.result.fail_to_start(st.FAILED_CREATE_POD_SANDBOX, os_cause(exc))
            return
        state.result.phase = st.RUNNING
        state.notify()
        events = self._events(state)
        play_log = dirs.root / PLAY_LOG  # a file, not a pipe: pull progress could fill one
        with play_log.open("wb") as said_to:
            play = subprocess.Popen(
                [podman_binary(), "kube", "play", "--replace", "--network", "host", str(pod_file)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=said_to,
            )
        try:
            self._supervise(state, play, events)
        finally:
            for process in (play, events):
                if process is not None and process.poll() is None:
                    process.kill()
                if process is not None:
                    process.wait()
            if events is not None and events.stdout is not None:
                events.stdout.close()

    def _events(self, state: _Pod) -> subprocess.Popen[bytes] | None:
        """``podman events`` for the pod's containers, started before the pod: a container
        that starts or ends wakes the supervision at once (None if podman cannot stream)."""
        filters = [
            f"--filter=container={self.names.container(state.result.name, c)}" for c in state.specs
        ]
        try:
            events = subprocess.Popen(
                [podman_binary(), "events", "--format", "{{.Status}}", *filters],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            return None
        assert events.stdout is not None
        os.set_blocking(events.stdout.fileno(), False)
        return events

    def _await(self, events: subprocess.Popen[bytes] | None, timeout: float) -> bool:
        """Wait up to ``timeout`` for a container event; whether one (or the stream's end)
        came."""
        if events is None or events.stdout is None:
            time.sleep(timeout)
            return True
        ready, _, _ = select.select([events.stdout], [], [], timeout)
        if not ready:
            return False
        with contextlib.suppress(BlockingIOError):
            while events.stdout.read(65536):
                pass
        return True

    def _supervise(
        self,
        state: _Pod,
        play: subprocess.Popen[bytes],
        events: subprocess.Popen[bytes] | None,
    ) -> None:
        said: str | None = None  # what `kube play` said, once it has returned
        idle = 0  # looks since then with nothing running and the pod not ended
        seen = False  # a container of the pod exists
        changed, looked = True, 0.0
        while True:
            now = time.monotonic()
            streaming = events is not None and events.poll() is None
            fresh = changed or not streaming or now - looked >= EVENTS_FALLBACK_SECONDS
            if said is None and play.poll() is not None:
                said = _read_text(state.ctx.dirs.root / PLAY_LOG)
                fresh = True  # what it left
            if fresh:
                seen = self._look(state) or seen
                looked, changed = now, False
            state.notify()
            if said is not None and play.returncode != 0 and not seen:
                self._refused(state, said)
                return
            if self._ended(state, played=said is not None):
                return
            if said is not None and play.returncode != 0 and self._never_start(state):
                self._refused(state, said, started=True)
                return
            if fresh and said is not None and state.stopping is None:
                running = any(c.running for c in state.result.containers)
                idle = 0 if running else idle + 1
                if idle >= 2:  # podman is done and some containers never started
                    self._refused(state, said, started=True)
                    return
            if state.stopping is None:
                if state.must_end():
                    self._terminate(state)
            elif state.stopping.poll() is not None:
                if play.poll() is None:  # still pulling or starting: the pod is stopped anyway
                    play.kill()
                    play.wait()
                self._look(state)
                self._give_up_waiting(state)
                return
            changed = self._await(events, self.poll_interval) or changed

    def _look(self, state: _Pod) -> bool:
        """Update the containers' statuses from podman; whether any container exists yet."""
        try:
            listed = json.loads(
                run_podman(
                    ["ps", "--all", "--format", "json", "--filter", f"pod={self._pod(state)}"]
                )
                or "[]"
            )
        except (PodmanError, ValueError):
            return False
        prefix = self._pod(state) + "-"
        seen = False
        for entry in listed if isinstance(listed, list) else []:
            names = entry.get("Names") or []
            name = str(names[0] if names else "")
            if entry.get("IsInfra") or not name.startswith(prefix):
                continue
            container = name[len(prefix) :]
            if container not in state.specs:
                continue
            seen = True
            if entry.get("State") == "created":
                state.created.add(container)
            else:
                state.created.discard(container)
            self._update(state, state.result.container(container), entry)
        return seen

    def _never_start(self, state: _Pod) -> bool:
        """`kube play` has failed and left a container created: it starts no more containers
        (a workingDir the image lacks, an executable it cannot find), and the others would
        wait for that one forever (``wait`` for main)."""
        return state.stopping is None and any(
            c.name in state.created and c.exit_code is None for c in state.result.containers
        )

    def _update(self, state: _Pod, status: ContainerStatus, entry: Mapping[str, Any]) -> None:
        kind = str(entry.get("State") or "")
        if status.exit_code is not None:
            return
        if kind == "running":
            status.started_at = status.started_at or _seconds(entry.get("StartedAt"))
        elif kind in ("exited", "stopped"):
            started = _seconds(entry.get("StartedAt"))
            if not started:  # created, never started (an init container failed)
                return
            status.started_at = status.started_at or started
            code = int(entry.get("ExitCode") or 0)
            finished = _seconds(entry.get("ExitedAt")) or time.time()
            status.terminate(code, "", finished)

    def _ended(self, state: _Pod, *, played: bool) -> bool:
        """Every container ended, or an init container failed (the rest never start)."""
        result = state.result
        for init in result.init_containers:
            if init.exit_code is None:
                return False
            if init.exit_code != 0:
                return played
        return all(c.exit_code is not None for c in result.containers)

    def _terminate(self, state: _Pod) -> None:
        log.info("terminating pod %s: %s", state.result.name, state.result.message)
        state.stopping = subprocess.Popen(
            [podman_binary(), "pod", "stop", "--time", str(int(state.grace)), self._pod(state)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _give_up_waiting(self, state: _Pod) -> None:
        """The pod was stopped and podman is done: containers that never started stay
        waiting; a running one that podman reported no end of is taken as killed."""
        for status in (*state.result.init_containers, *state.result.containers):
            if status.running:
                status.terminate(128 + signal.SIGKILL, "", time.time())

    def _refused(self, state: _Pod, said: str, *, started: bool = False) -> None:
        """Podman would not create (or start all of) the pod: an image it cannot have, a bad
        spec; the containers that never started stay waiting with podman's reason."""
        lines = [line.strip() for line in said.splitlines() if line.strip()]
        # `starting container ID: why` before the summary `Error: failed to start N containers`
        causes = [line for line in lines if not _START_SUMMARY.fullmatch(line)]
        message = (causes or lines or ["podman kube play did not start every container"])[-1]
        message = _STARTING.sub("", message.removeprefix("Error: "))
        never = self._absent_never_pulled(state, message)
        if never is not None:  # the kubelet's words for it
            reason = ERR_IMAGE_NEVER_PULL
            message = f'Container image "{never}" is not present with pull policy of Never'
        elif any(marker in message for marker in _PULL_ERRORS):
            reason = ERR_IMAGE_PULL
        else:
            reason = st.START_ERROR if started else st.FAILED_CREATE_POD_SANDBOX
        state.result.fail_to_start(reason, message)

    @staticmethod
    def _absent_never_pulled(state: _Pod, message: str) -> str | None:
        """The image podman says it does not have, if its container may not pull it."""
        if "image not known" not in message:
            return None
        for spec in state.specs.values():
            image = str(spec.get("image") or "")
            if image and image in message and pull_policy(spec) == NEVER_PULL:
                return image
        return None

    def _keep(self, state: _Pod) -> None:
        """Keep what the controller reads once the pod is gone: each container's log and
        termination message, and its exact times."""
        statuses = [*state.result.init_containers, *state.result.containers]
        logs = self._inspect(state, statuses)
        for status in statuses:
            if status.started_at is None:
                continue
            log_file = state.ctx.dirs.log(status.name)
            with contextlib.suppress(PodmanError, OSError):
                source = logs.get(status.name)
                text = _k8s_file_log(source) if source else None
                if not text:
                    # Unread, or empty: conmon may still be writing what the container said
                    # last when podman reports it exited; `podman logs` reads it after that.
                    text = self._podman_logs(state.result.name, status.name)
                log_file.write_text(text)
            if status.exit_code is not None:
                spec = state.specs.get(status.name) or {}
                status.message = termination_message(
                    state.ctx.dirs.termination(status.name),
                    log_file,
                    status.exit_code,
                    fallback_to_logs=spec.get("terminationMessagePolicy") == FALLBACK_TO_LOGS,
                )

    def _remove(self, state: _Pod) -> None:
        pod = self._pod(state)
        try:
            run_podman(["pod", "rm", "--force", "--ignore", pod])
        except PodmanError as exc:
            log.warning("pod %s: %s", pod, exc)

    def _inspect(self, state: _Pod, statuses: list[ContainerStatus]) -> dict[str, Path]:
        """Exact start and end times and OOM kills (``podman ps`` gives whole seconds), in one
        ``podman inspect``; the containers' log files where podman keeps them as k8s-file."""
        started = [s for s in statuses if s.started_at is not None]
        if not started:
            return {}
        names = [self.names.container(state.result.name, s.name) for s in started]
        try:
            found = json.loads(run_podman(["container", "inspect", *names]) or "[]")
        except (PodmanError, ValueError):
            return {}
        by_name = {str(entry.get("Name") or ""): entry for entry in found}
        logs: dict[str, Path] = {}
        for status, name in zip(started, names, strict=True):
            entry = by_name.get(name) or {}
            inspected = entry.get("State") or {}
            status.started_at = _instant(inspected.get("StartedAt")) or status.started_at
            if status.exit_code is not None:
                status.finished_at = _instant(inspected.get("FinishedAt")) or status.finished_at
                if inspected.get("OOMKilled"):
                    status.terminated_reason = "OOMKilled"
            log_config = (entry.get("HostConfig") or {}).get("LogConfig") or {}
            if log_config.get("Type") == "k8s-file" and log_config.get("Path"):
                logs[status.name] = Path(str(log_config["Path"]))
        return logs

    def _podman_logs(self, pod_name: str, container: str) -> str:
        name = self.names.container(pod_name, container)
        try:
            done = subprocess.run(
                [podman_binary(), "logs", name],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=_CLI_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PodmanError(f"podman logs {name}: {exc}") from None
        if done.returncode != 0:
            raise PodmanError(f"podman logs {name} failed")
        return done.stdout.decode(errors="replace")

    def _pod(self, state: _Pod) -> str:
        return self.names.pod(state.result.name)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _k8s_file_log(path: Path) -> str | None:
    """The text of a container's log in podman's k8s-file format (``TIME STREAM P|F TEXT`` per
    line; ``P`` a partial line, continued by the next), stdout and stderr as they came; None
    when it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    out: list[bytes] = []
    for line in data.splitlines():
        parts = line.split(b" ", 3)
        if len(parts) < 3:
            continue
        out.append(parts[3] if len(parts) == 4 else b"")
        if parts[2] != b"P":
            out.append(b"\n")
    return b"".join(out).decode(errors="replace")


def _seconds(value: object) -> float | None:
    """``podman ps``' Unix seconds; None for an unset (0) time."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def _instant(value: object) -> float | None:
    """``podman inspect``'s RFC 3339 time with nanoseconds; None for Go's zero time."""
    if not isinstance(value, str) or value.startswith("0001-"):
        return None
    text = value.strip()
    date, dot, rest = text.partition(".")
    if dot:  # Python reads at most six fractional digits
        digits = len(rest) - len(rest.lstrip("0123456789"))
        rest = rest[: min(digits, 6)] + rest[digits:]
        text = f"{date}.{rest}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
