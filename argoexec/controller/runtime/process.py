"""One container as a host process: started, signalled, exec'd into, and reaped.

Sandboxed, the container is ``bwrap --as-pid-1 ... -- COMMAND``: COMMAND is PID 1 of its own
PID namespace, like a container's entrypoint. Its host PID is the one child of the outer
``bwrap`` process; the runtime signals that PID directly (the kubelet's stop) and ``nsenter``s
its namespaces for an exec, so a ``kill 15 1`` run by the controller inside the container
reaches the emissary or the executor under the kernel's PID-1 rules (a signal without a
handler is dropped; SIGKILL sent from inside is dropped too, from the host it is not).

Unsandboxed, the container is a plain process in its own session (process group).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from argoexec.contract import ENV_START_GATE
from argoexec.controller.processes import start_ticks
from argoexec.controller.runtime.status import START_ERROR, ContainerStatus, start_error
from argoexec.lifecycle import Stop

TERMINATION_MESSAGE_MAX = 4096  # the kubelet's per-container cap
_FALLBACK_LINES = 80  # FallbackToLogsOnError: the log's tail, as the kubelet takes it
_FALLBACK_BYTES = 2048
_PID1_WAIT = 5.0
_ABANDON_WAIT = 2.0  # seconds a gated process has to leave after EOF at its gate
START_EXIT_CODE = 128  # what the kubelet reports for a container that never started
_BWRAP_PREFIX = "bwrap: "


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one container."""

    argv: list[str]  # the host command line (bwrap's when sandboxed)
    env: dict[str, str]
    cwd: str | None  # host working directory (unsandboxed only; bwrap chdirs itself)
    log: Path
    termination: Path
    sandboxed: bool
    fallback_to_logs: bool = False  # terminationMessagePolicy: FallbackToLogsOnError
    record: Path | None = None  # where the started process's pid and start time are noted
    pod_dir: Path | None = None  # checked for room when the container fails without a message


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str


EXEC_NOT_RUNNING = 126  # the exit code of an exec that could not run its command


def run_exec(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | None, timeout: float
) -> ExecResult:
    """Run an exec (a readiness probe's, `kubectl exec`'s) to its end or its timeout.

    It runs in a process group of its own, which a timeout kills whole: `nsenter` forks the
    command into the pod and a shell forks its own children, so killing the first process
    alone left the command running, one more each probe period for as long as the pod ran
    (the kubelet kills an exec probe that outlives its `timeoutSeconds`)."""
    try:
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        return ExecResult(EXEC_NOT_RUNNING, "", f"exec failed: {exc}\n")
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()  # not its pipes: a process that left the group may still hold them
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        return ExecResult(EXEC_NOT_RUNNING, "", f"exec failed: timed out after {timeout:g}s\n")
    code = proc.returncode
    return ExecResult(128 - code if code < 0 else code, stdout, stderr)


class ContainerProcess:
    def __init__(self, launch: Launch, status: ContainerStatus) -> None:
        self.launch = launch
        self.status = status
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid1: int | None = None
        self._exit_fd: int | None = None  # a pidfd: readable once the process has ended
        self._gate: int | None = None  # the write end of a gated process's start gate

    def start(self, *, gated: bool = False) -> bool:
        """Start the process; False (and a terminated StartError status) if it cannot start.

        ``gated``: start it ahead of time, held at its start gate (``ENV_START_GATE``) until
        `release`; it is not started as far as its status goes, and a failure to start it
        leaves no trace (the container is then started the usual way, and fails there)."""
        started = time.time()
        gate = os.pipe() if gated else None
        env = self.launch.env | {ENV_START_GATE: str(gate[0])} if gate else self.launch.env
        try:
            self.launch.termination.touch()
            with self.launch.log.open("ab") as log:
                self._proc = subprocess.Popen(
                    self.launch.argv,
                    env=env,
                    cwd=self.launch.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                    pass_fds=gate[:1] if gate else (),
                )
        except (OSError, ValueError) as exc:
            if gate is not None:
                os.close(gate[1])
                return False
            self._start_failed(exc, started)
            return False
        finally:
            if gate is not None:
                os.close(gate[0])  # the child's end: the child has its own copy
        # Only now is it running: a status that says so must mean exec and signals can reach it.
        if gate is None:
            self.status.started_at = started
        self._gate = gate[1] if gate else None
        self._record(self._proc.pid)
        with contextlib.suppress(OSError, AttributeError):  # a kernel before 5.3: polled only
            self._exit_fd = os.pidfd_open(self._proc.pid)
        return True

    def _start_failed(self, exc: OSError | ValueError, started: float) -> None:
        self.status.started_at = started
        self.status.terminated_reason = START_ERROR
        if isinstance(exc, ValueError):  # what exec refuses before trying (EINVAL)
            cause = "an argument or environment variable holds a NUL byte"
        elif exc.filename is not None and str(exc.filename) != self.launch.argv[0]:
            cause = f"{exc.filename}: {exc.strerror or exc}"  # its log or message file
        else:
            cause = _exec_failure(self.launch.argv[0], exc.strerror or str(exc))
        self.status.terminate(START_EXIT_CODE, start_error(cause), time.time())

    def release(self) -> None:
        """Let a gated process go: from now on it is started."""
        self.status.started_at = time.time()
        if self._gate is not None:
            with contextlib.suppress(OSError):  # it died meanwhile: its end is seen as usual
                os.write(self._gate, b"1")
            os.close(self._gate)
            self._gate = None

    def abandon(self) -> None:
        """End a gated process that will never be let go (its pod does not start containers):
        EOF at its gate ends it; SIGKILL if it does not go within moments. Its status stays
        that of a container that never started."""
        if self._gate is None or self._proc is None:
            return
        os.close(self._gate)
        self._gate = None
        try:
            self._proc.wait(timeout=_ABANDON_WAIT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._close_exit_fd()

    def exit_fd(self) -> int | None:
        """A descriptor that becomes readable when the process ends (None: poll instead), so a
        supervisor learns of the end at once rather than at its next look."""
        return self._exit_fd

    def _close_exit_fd(self) -> None:
        if self._exit_fd is not None:
            os.close(self._exit_fd)
            self._exit_fd = None

    def _record(self, pid: int) -> None:
        """Note the process (the leader of its own session), so that what is left of it can be
        ended after the controller died; best effort (on a full disk the note is lost)."""
        if self.launch.record is None:
            return
        ticks = start_ticks(pid) or ""
        with contextlib.suppress(OSError):
            self.launch.record.write_text(f"{pid} {ticks}\n")

    @property
    def running(self) -> bool:
        return self._proc is not None and self.status.exit_code is None

    def poll(self) -> bool:
        """True once the process has ended (and its status is recorded)."""
        if self._proc is None:
            return self.status.terminated
        code = self._proc.poll()
        if code is None:
            return False
        self._close_exit_fd()
        if self.status.exit_code is None:
            cause = (
                _sandbox_failure(self.launch.log) if self.launch.sandboxed and code == 1 else None
            )
            if cause is not None:  # bwrap could not set the container up or exec its command
                self.status.terminated_reason = START_ERROR
                self.status.terminate(START_EXIT_CODE, start_error(cause), time.time())
                return True
            # A negative code means the outer process itself died of that signal.
            exit_code = 128 - code if code < 0 else code
            message = self._termination_message(exit_code)
            if exit_code != 0 and not message.strip() and self.launch.pod_dir is not None:
                # Its own message may have been lost for want of room to write it.
                message = full_disk(self.launch.pod_dir) or message
            self.status.terminate(exit_code, message, time.time())
        return True

    def wait(self, stop: Stop, interval: float = 0.1) -> None:
        while not self.poll():
            stop.wait(interval)

    def signal(self, signum: int) -> None:
        """Deliver ``signum`` from the host, as a container runtime stops a container."""
        if not self.running or self._proc is None:
            return
        if not self.launch.sandboxed:
            target = -self._proc.pid if signum == signal.SIGKILL else self._proc.pid
            _deliver(target, signum)
            return
        pid1 = self.pid1()
        if pid1 is not None:
            _deliver(pid1, signum)
        elif signum == signal.SIGKILL:
            _deliver(self._proc.pid, signum)  # bwrap's --die-with-parent takes the rest down

    def catches(self, signum: int) -> bool:
        """Whether ``signum`` sent now would reach the container: always unsandboxed; in the
        sandbox, whether its PID 1 has a handler for it (the kernel drops a signal to a PID 1
        that has none, e.g. one sent while the emissary's interpreter is still starting)."""
        if not self.launch.sandboxed:
            return True
        pid1 = self.pid1()
        if pid1 is None:
            return True  # nothing to wait for: it is gone, or never got that far
        try:
            status = Path(f"/proc/{pid1}/status").read_text()
        except OSError:
            return True
        for line in status.splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
        return True

    def pid1(self) -> int | None:
        """The host PID of the sandbox's PID 1 (the outer bwrap's only child)."""
        if self._pid1 is None and self._proc is not None:
            deadline = time.monotonic() + _PID1_WAIT
            children = Path(f"/proc/{self._proc.pid}/task/{self._proc.pid}/children")
            while self._pid1 is None and time.monotonic() < deadline:
                try:
                    found = children.read_text().split()
                except OSError:
                    return None  # bwrap is gone
                if found and _has_exec_d(int(found[0]), self._proc.pid):
                    self._pid1 = int(found[0])
                elif self._proc.poll() is not None:
                    return None
                else:
                    time.sleep(0.02)
        return self._pid1

    def exec_argv(self, command: Sequence[str]) -> list[str] | None:
        """The host command line that runs ``command`` inside this container's namespaces."""
        pid1 = self.pid1()
        if pid1 is None:
            return None
        namespaces = ["--mount", "--pid", "--ipc", "--uts", "--net", "--root", "--wd"]
        return ["nsenter", "--target", str(pid1), *namespaces, "--", *command]

    def _termination_message(self, exit_code: int) -> str:
        launch = self.launch
        return termination_message(
            launch.termination, launch.log, exit_code, fallback_to_logs=launch.fallback_to_logs
        )


def termination_message(
    termination: Path, log: Path, exit_code: int, *, fallback_to_logs: bool
) -> str:
    """What the kubelet reports as a terminated container's message: the file at its
    terminationMessagePath (at most 4 KiB), or with FallbackToLogsOnError, when that is empty
    and the container failed, the tail of its log."""
    try:
        with termination.open("rb") as file:
            message = file.read(TERMINATION_MESSAGE_MAX)
    except OSError:
        message = b""
    if not message and exit_code != 0 and fallback_to_logs:
        message = _log_tail(log)
    return message.decode("utf-8", errors="replace")


def full_disk(directory: Path) -> str | None:
    """``<directory>: No space left on device`` when a page cannot be written there now (an
    unnamed file, never left behind); None when there is room, or it cannot be told."""
    unnamed = getattr(os, "O_TMPFILE", None)  # Linux
    if unnamed is None:
        return None
    try:
        fd = os.open(directory, unnamed | os.O_WRONLY, 0o600)
    except OSError:
        return None  # no such directory, or a file system without unnamed files: cannot tell
    try:
        os.write(fd, bytes(_PROBE_BYTES))
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"{directory}: {exc.strerror}"
    finally:
        os.close(fd)
    return None


_PROBE_BYTES = 4096  # one page


def _sandbox_failure(log: Path) -> str | None:
    """What bwrap said when it could not start the container (exit 1, its own last line):
    a mount it could not make, or a command it could not exec."""
    lines = _log_tail(log).decode("utf-8", errors="replace").strip().splitlines()
    if not lines or not lines[-1].startswith(_BWRAP_PREFIX):
        return None
    said = lines[-1][len(_BWRAP_PREFIX) :]
    if said.startswith("execvp "):
        program, _, why = said[len("execvp ") :].partition(": ")
        return _exec_failure(program, why)
    return f"error during container init: {said}"


def _exec_failure(program: str, why: str) -> str:
    """runc's words for a command that cannot be executed."""
    if "/" not in program and "No such file" in why:
        return f'exec: "{program}": executable file not found in $PATH'
    return f'exec: "{program}": {why.lower()}'


def _log_tail(log: Path) -> bytes:
    try:
        data = log.read_bytes()[-64 * 1024 :]
    except OSError:
        return b""
    tail = b"\n".join(data.splitlines()[-_FALLBACK_LINES:])
    return tail[-_FALLBACK_BYTES:]


def _deliver(pid: int, signum: int) -> None:
    try:
        if pid < 0:
            os.killpg(-pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass  # it ended meanwhile


def _has_exec_d(child: int, bwrap: int) -> bool:
    """Whether bwrap's child has finished setting up the sandbox and exec'd the command: until
    then it is still bwrap, and entering its half-built namespaces would fail."""
    try:
        return os.readlink(f"/proc/{child}/exe") != os.readlink(f"/proc/{bwrap}/exe")
    except OSError:
        return False
