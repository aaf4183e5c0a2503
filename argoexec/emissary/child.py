"""Starting the child, teeing its output, forwarding signals and reaping (argo-contract.md §2.3).

The child runs in its own process group so every signal reaches the whole tree (``kill(-pgid)``).
The emissary reaps *every* child that exits (as PID 1 it inherits orphans) until the child's own
pid is reaped; it never waits for grandchildren.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

# Not imported at run time: ``typing`` adds milliseconds to every container's start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

READ_CHUNK = 65536
# After the child exits, output still in flight is copied until the pipes go quiet this long.
DRAIN_QUIET_SECONDS = 0.1
DRAIN_MAX_SECONDS = 5.0

# Never forwarded: our own bookkeeping signals, and those the kernel will not let us catch.
_NOT_FORWARDED = {signal.SIGCHLD, signal.SIGURG, signal.SIGKILL, signal.SIGSTOP}


def exit_code_from_status(status: int) -> int:
    """Child's exit status, or 128 + signal number when it was killed."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return 137


class Capture:
    """The ``stdout`` and ``combined`` files (append mode, 0666) shared by the tee threads."""

    def __init__(self, stdout_path: Path, combined_path: Path) -> None:
        self.stdout = _open_shared(stdout_path)
        self.combined = _open_shared(combined_path)
        self.lock = threading.Lock()

    def close(self) -> None:
        self.stdout.close()
        self.combined.close()


def _open_shared(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    return os.fdopen(fd, "ab", buffering=0)


class Tee(threading.Thread):
    """Copies one pipe to our own fd and to the capture files."""

    def __init__(self, source: int, passthrough: int, capture: Capture, is_stdout: bool) -> None:
        super().__init__(daemon=True)
        self.source, self.passthrough = source, passthrough
        self.capture, self.is_stdout = capture, is_stdout
        self.last_read = time.monotonic()

    def run(self) -> None:
        try:
            while chunk := os.read(self.source, READ_CHUNK):
                self.last_read = time.monotonic()
                with contextlib.suppress(OSError):
                    _write_all(self.passthrough, chunk)
                with self.capture.lock:
                    if self.is_stdout:
                        self.capture.stdout.write(chunk)
                    self.capture.combined.write(chunk)
        except OSError:
            pass  # EIO from a pty whose slave side closed: end of output
        finally:
            os.close(self.source)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class Child:
    """The user's program, started in its own process group."""

    def __init__(self, argv: list[str], capture: Capture | None, tty: bool = False) -> None:
        self.argv = argv
        self.capture = capture
        self.tty = tty
        self.pid = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.tees: list[Tee] = []
        self.returncode: int | None = None
        # Signals that arrived before the child existed; delivered as soon as it does.
        self._pending: list[int] = []

    def start(self) -> None:
        if self.tty:
            self._start_on_pty()
        elif self.capture is None:
            self.proc = subprocess.Popen(self.argv, process_group=0)
            self.pid = self.proc.pid
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            try:
                self.proc = subprocess.Popen(self.argv, stdout=out_w, stderr=err_w, process_group=0)
            finally:
                os.close(out_w)
                os.close(err_w)
            self.pid = self.proc.pid
            self.tees = [Tee(out_r, 1, self.capture, True), Tee(err_r, 2, self.capture, False)]
        for tee in self.tees:
            tee.start()
        while self._pending:
            self.signal(self._pending.pop(0))

    def _start_on_pty(self) -> None:
        from argoexec.emissary import tty

        self.pid, master = tty.spawn(self.argv)
        capture = self.capture
        if capture is not None:
            self.tees = [Tee(master, 1, capture, True)]
        else:
            self.tees = [tty.Copier(master)]  # type: ignore[list-item]

    def signal(self, signum: int) -> None:
        """Deliver to the child's process group (its pid if the group is gone); before the child
        exists, keep the signal for it (a SIGTERM racing the start must not be lost)."""
        if self.returncode is not None:
            return
        if not self.pid:
            self._pending.append(signum)
            return
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def wait(self) -> int:
        """Reap every exiting process until the child itself is reaped; its exit code."""
        while self.returncode is None:
            try:
                # Not wait4: its rusage needs the `resource` module, which the static
                # in-container interpreter does not have.
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                self.returncode = 137  # the child vanished without a status we could read
                break
            if pid == self.pid:
                self.returncode = exit_code_from_status(status)
                if self.proc is not None:
                    # We reaped it ourselves; tell Popen so it never waits for the pid again.
                    self.proc.returncode = self.returncode
        self._drain()
        return self.returncode

    def _drain(self) -> None:
        deadline = time.monotonic() + DRAIN_MAX_SECONDS
        for tee in self.tees:
            while tee.is_alive() and time.monotonic() < deadline:
                tee.join(DRAIN_QUIET_SECONDS)
                if time.monotonic() - tee.last_read >= DRAIN_QUIET_SECONDS:
                    break
        if self.capture is not None:
            self.capture.close()


# Signals received before there was a child to forward them to (see capture_early_signals).
_early: list[int] = []


def _forwardable() -> list[int]:
    return [sig for sig in signal.valid_signals() if sig not in _NOT_FORWARDED]


def capture_early_signals() -> None:
    """From the emissary's first instant, keep signals for the child instead of dying of them:
    a SIGTERM while the template is still being read must still end with an exit code file."""
    for sig in _forwardable():
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            signal.signal(sig, lambda signum, _frame: _early.append(signum))


def install_forwarding(child: Child) -> Callable[[], None]:
    """Forward every catchable signal to the child; returns a function restoring defaults."""
    previous: dict[int, object] = {}

    def forward(signum: int, _frame: object) -> None:
        child.signal(signum)

    for sig in _forwardable():
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            previous[sig] = signal.signal(sig, forward)
    while _early:
        child.signal(_early.pop(0))

    def restore() -> None:
        for sig, handler in previous.items():
            with contextlib.suppress(OSError, ValueError, TypeError):
                signal.signal(sig, handler)  # type: ignore[arg-type]

    return restore
