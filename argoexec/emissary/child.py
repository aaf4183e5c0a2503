"""Starting the child, teeing its output, forwarding signals and reaping (argo-contract.md §2.3).

The child runs in its own process group so every signal reaches the whole tree (``kill(-pgid)``).
The emissary reaps *every* child that exits (as PID 1 it inherits orphans) until the child's own
pid is reaped; it never waits for grandchildren.

Only built-in modules here (``_signal``, ``_thread`` through ``threads``, ``os``): ``signal``,
``subprocess`` and ``threading`` pull in ``enum``, ``selectors``, ``collections``... and would
cost every container's start milliseconds. The child is started with ``posix_spawn``, as
``subprocess.Popen(argv, process_group=0)`` would start it: in a new process group, SIGPIPE and
SIGXFSZ back to their defaults, no descriptor but 0-2 inherited, and a failed exec raised here
as the same ``OSError``.
"""

from __future__ import annotations

import os
import time

from argoexec.emissary.threads import Worker

# Not imported at run time: ``typing`` adds milliseconds to every container's start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal  # the same functions and numbers, typed (_signal has no stubs)
    from collections.abc import Callable

    from argoexec.emissary.tty import Copier
else:
    import _signal  # `signal` adds enums: importing `enum` costs every start milliseconds

READ_CHUNK = 65536
# After the child exits, output still in flight is copied until the pipes go quiet this long.
DRAIN_QUIET_SECONDS = 0.1
DRAIN_MAX_SECONDS = 5.0

# Never forwarded: our own bookkeeping signals, and those the kernel will not let us catch.
_NOT_FORWARDED = {_signal.SIGCHLD, _signal.SIGURG, _signal.SIGKILL, _signal.SIGSTOP}
# Python ignores these at start; the child gets them back at their defaults (Popen's
# restore_signals). Every signal we handle is reset by the exec itself.
_RESTORED_SIGNALS = (_signal.SIGPIPE, _signal.SIGXFSZ)


def exit_code_from_status(status: int) -> int:
    """Child's exit status, or 128 + signal number when it was killed."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return 137


class Capture:
    """The ``stdout`` and ``combined`` files (append mode, 0666) written by the tee threads.

    Unbuffered descriptors: each chunk is one ``write`` (O_APPEND), so the two tees need no
    lock to keep their chunks whole in ``combined``."""

    def __init__(self, stdout_path: str, combined_path: str) -> None:
        self.stdout = _open_shared(stdout_path)
        try:
            self.combined = _open_shared(combined_path)
        except OSError:
            os.close(self.stdout)
            raise

    def close(self) -> None:
        os.close(self.stdout)
        os.close(self.combined)


def _open_shared(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)


class Tee(Worker):
    """Copies one pipe to our own fd and to the capture files."""

    def __init__(self, source: int, passthrough: int, capture: Capture, is_stdout: bool) -> None:
        super().__init__()
        self.source, self.passthrough = source, passthrough
        self.targets = [capture.stdout, capture.combined] if is_stdout else [capture.combined]
        self.last_read = time.monotonic()

    def run(self) -> None:
        try:
            while chunk := os.read(self.source, READ_CHUNK):
                self.last_read = time.monotonic()
                try:  # noqa: SIM105 (contextlib: milliseconds of imports at every start)
                    write_all(self.passthrough, chunk)
                except OSError:
                    pass  # our stdout/stderr gone: the capture files still get the output
                for target in self.targets:
                    write_all(target, chunk)
        except OSError:
            pass  # EIO from a pty whose slave side closed: end of output
        finally:
            os.close(self.source)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _inherited_fds() -> list[int]:
    """Our inheritable descriptors above stderr (Popen's close_fds closes them in the child).
    Without /proc there is no cheap way to list them: none are closed then."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    fds = []
    for name in names:
        fd = int(name)
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    fds.append(fd)
            except OSError:
                pass  # the listing's own descriptor, closed by now
    return fds


def spawn(argv: list[str], stdout: int | None = None, stderr: int | None = None) -> int:
    """Start ``argv`` (``argv[0]`` a path) in a new process group; its pid. OSError if it
    cannot be executed (``[Errno 2] No such file or directory: '<argv[0]>'``...)."""
    actions: list[tuple[int, ...]] = [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited_fds()]
    if stdout is not None:
        actions.append((os.POSIX_SPAWN_DUP2, stdout, 1))
    if stderr is not None:
        actions.append((os.POSIX_SPAWN_DUP2, stderr, 2))
    return os.posix_spawn(
        argv[0],
        argv,
        os.environ,
        file_actions=actions,
        setpgroup=0,
        setsigdef=_RESTORED_SIGNALS,
    )


class Child:
    """The user's program, started in its own process group."""

    def __init__(self, argv: list[str], capture: Capture | None, tty: bool = False) -> None:
        self.argv = argv
        self.capture = capture
        self.tty = tty
        self.pid = 0
        self.tees: list[Tee | Copier] = []
        self.returncode: int | None = None
        # Signals that arrived before the child existed; delivered as soon as it does.
        self._pending: list[int] = []

    def start(self) -> None:
        if self.tty:
            self._start_on_pty()
        elif self.capture is None:
            self.pid = spawn(self.argv)
        else:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            try:
                self.pid = spawn(self.argv, out_w, err_w)
            except OSError:
                os.close(out_r)
                os.close(err_r)
                raise
            finally:
                os.close(out_w)
                os.close(err_w)
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
            self.tees = [tty.Copier(master)]

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
            try:  # noqa: SIM105 (contextlib: milliseconds of imports at every start)
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass  # gone already

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
    return sorted(sig for sig in _signal.valid_signals() if sig not in _NOT_FORWARDED)


def _set_handler(sig: int, handler: object) -> object | None:
    """The previous handler, or None where Python refuses this signal."""
    try:
        return _signal.signal(sig, handler)  # type: ignore[arg-type]
    except (OSError, ValueError, RuntimeError, TypeError):
        return None


def capture_early_signals() -> None:
    """From the emissary's first instant, keep signals for the child instead of dying of them:
    a SIGTERM while the template is still being read must still end with an exit code file."""
    for sig in _forwardable():
        _set_handler(sig, lambda signum, _frame: _early.append(signum))


def install_forwarding(child: Child) -> Callable[[], None]:
    """Forward every catchable signal to the child; returns a function restoring defaults."""
    previous: dict[int, object] = {}

    def forward(signum: int, _frame: object) -> None:
        child.signal(signum)

    for sig in _forwardable():
        handler = _set_handler(sig, forward)
        if handler is not None:
            previous[sig] = handler
    while _early:
        child.signal(_early.pop(0))

    def restore() -> None:
        for sig, handler in previous.items():
            _set_handler(sig, handler)

    return restore
