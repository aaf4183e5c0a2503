"""Background duties of a running emissary: the signal file, the deadline, debug pauses,
containerSet dependencies and sidecar self-termination (argo-contract.md §2.3, §2.6-2.8).

Waiting for a file polls (50 ms): cheap for the handful of files involved, and it works on every
filesystem, including the shared emptyDir of the local runtime.
"""

from __future__ import annotations

import os
import time

from argoexec.emissary.child import Child
from argoexec.emissary.elog import Logger
from argoexec.emissary.paths import Layout
from argoexec.emissary.threads import Done, start_thread

# Not imported at run time: ``datetime`` is needed only when a deadline is set, and ``typing``
# or ``collections.abc`` would add milliseconds to every container's start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal  # the same functions and numbers, typed (_signal has no stubs)
    from collections.abc import Callable
    from datetime import datetime
else:
    import _signal  # `signal` adds enums: importing `enum` costs every start milliseconds

log = Logger("argoexec.emissary")
POLL_SECONDS = 0.05


def make_parent(path: str) -> None:
    """``mkdir -p`` the directory of ``path`` (0777: containers of other uids write there)."""
    os.makedirs(os.path.dirname(path), 0o777, exist_ok=True)


def wait_for_file(path: str, done: Done | None = None) -> bool:
    """Block until ``path`` exists (True) or ``done`` is set (False)."""
    make_parent(path)
    while not os.path.exists(path):
        if done is not None and done.wait(POLL_SECONDS):
            return False
        if done is None:
            time.sleep(POLL_SECONDS)
    return True


def read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def read_signal_file(path: str) -> int | None:
    """The signal number in the file, consuming the file; None if absent or not a positive int."""
    try:
        text = read_text(path).strip()
    except (OSError, ValueError):
        return None
    try:
        signum = int(text)
    except ValueError:
        return None
    if signum <= 0:
        return None
    try:  # noqa: SIM105 (contextlib: milliseconds of imports at every start)
        os.unlink(path)  # consumed first, so a repeated kill is a new file, not a replay
    except FileNotFoundError:
        pass
    return signum


def watch_signal_file(child: Child, path: str, done: Done) -> None:
    def loop() -> None:
        while not done.wait(POLL_SECONDS):
            signum = read_signal_file(path)
            if signum is not None:
                log.info("signal file: delivering signal %d to the child", signum)
                child.signal(signum)

    start_thread(loop)


def watch_deadline(
    child: Child,
    deadline: datetime,
    grace: float,
    done: Done,
    on_exceeded: Callable[[], None],
) -> None:
    """At the deadline: SIGTERM the child's group, then SIGKILL after the grace period."""

    def loop() -> None:
        from datetime import UTC, datetime

        remaining = (deadline - datetime.now(UTC)).total_seconds()
        if done.wait(max(0.0, remaining)):
            return
        on_exceeded()
        log.warning("step exceeded its deadline: terminating the child")
        child.signal(_signal.SIGTERM)
        if not done.wait(grace):
            child.signal(_signal.SIGKILL)

    start_thread(loop)


def terminate_sidecar_when_mains_exit(
    layout: Layout, me: str, mains: list[str], grace: float, done: Done
) -> None:
    """A user sidecar stops itself once every main container has written its exit code (§2.7)."""

    def loop() -> None:
        for name in mains:
            if not wait_for_file(layout.exitcode(name), done):
                return
        for signum, patience in ((_signal.SIGTERM, grace), (_signal.SIGKILL, 10.0)):
            _write_signal(layout.signal(me), signum)
            if done.wait(patience):
                return

    start_thread(loop)


def _write_signal(path: str, signum: int) -> None:
    make_parent(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    with os.fdopen(fd, "w") as f:
        f.write(str(int(signum)))


def read_exit_code(path: str) -> int | None:
    """The code in an ``exitcode`` file, or None while it is missing or half-written."""
    try:
        return int(read_text(path).strip())
    except (OSError, ValueError):
        return None
