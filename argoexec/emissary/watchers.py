"""Background duties of a running emissary: the signal file, the deadline, debug pauses,
containerSet dependencies and sidecar self-termination (argo-contract.md §2.3, §2.6-2.8).

Waiting for a file polls (50 ms): cheap for the handful of files involved, and it works on every
filesystem, including the shared emptyDir of the local runtime.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from argoexec.emissary.child import Child
from argoexec.emissary.elog import Logger
from argoexec.varrun import VarRun

# Not imported at run time: ``datetime`` is needed only when a deadline is set.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

log = Logger("argoexec.emissary")
POLL_SECONDS = 0.05


def wait_for_file(path: Path, done: threading.Event | None = None) -> bool:
    """Block until ``path`` exists (True) or ``done`` is set (False)."""
    path.parent.mkdir(mode=0o777, parents=True, exist_ok=True)
    while not path.exists():
        if done is not None and done.wait(POLL_SECONDS):
            return False
        if done is None:
            time.sleep(POLL_SECONDS)
    return True


def read_signal_file(path: Path) -> int | None:
    """The signal number in the file, consuming the file; None if absent or not a positive int."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    try:
        signum = int(text)
    except ValueError:
        return None
    if signum <= 0:
        return None
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # consumed first, so a repeated kill is a new file, not a replay
    return signum


def start_thread(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def watch_signal_file(child: Child, path: Path, done: threading.Event) -> threading.Thread:
    def loop() -> None:
        while not done.wait(POLL_SECONDS):
            signum = read_signal_file(path)
            if signum is not None:
                log.info("signal file: delivering signal %d to the child", signum)
                child.signal(signum)

    return start_thread(loop)


def watch_deadline(
    child: Child,
    deadline: datetime,
    grace: float,
    done: threading.Event,
    on_exceeded: Callable[[], None],
) -> threading.Thread:
    """At the deadline: SIGTERM the child's group, then SIGKILL after the grace period."""

    def loop() -> None:
        from datetime import UTC, datetime

        remaining = (deadline - datetime.now(UTC)).total_seconds()
        if done.wait(max(0.0, remaining)):
            return
        on_exceeded()
        log.warning("step exceeded its deadline: terminating the child")
        child.signal(signal.SIGTERM)
        if not done.wait(grace):
            child.signal(signal.SIGKILL)

    return start_thread(loop)


def terminate_sidecar_when_mains_exit(
    varrun: VarRun, me: str, mains: list[str], grace: float, done: threading.Event
) -> threading.Thread:
    """A user sidecar stops itself once every main container has written its exit code (§2.7)."""

    def loop() -> None:
        for name in mains:
            if not wait_for_file(varrun.exitcode(name), done):
                return
        for signum, patience in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            _write_signal(varrun.signal(me), signum)
            if done.wait(patience):
                return

    return start_thread(loop)


def _write_signal(path: Path, signum: int) -> None:
    path.parent.mkdir(mode=0o777, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    with os.fdopen(fd, "w") as f:
        f.write(str(int(signum)))


def read_exit_code(path: Path) -> int | None:
    """The code in an ``exitcode`` file, or None while it is missing or half-written."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None
