"""Waiting for the main containers, and stopping them through their signal files (§4.2, §4.8).

The emissary writes ``ctr/<ctr>/exitcode`` as its very last action, so the file's existence
(its content is never read: the controller takes exit codes from the pod status) means every
output of §2.5 is complete. Argo watches with inotify; we poll a handful of ``stat`` calls every
``POLL_SECONDS``, which is as prompt and needs no platform support.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path

from argoexec.lifecycle import Stop
from argoexec.retry import Backoff, retry_call
from argoexec.varrun import VarRun

log = logging.getLogger("argoexec.wait")

POLL_SECONDS = 0.02  # a few stat calls: cheap, and main's end is seen within 20 ms
KILL_PATIENCE_SECONDS = 10.0  # after SIGTERM's grace, how long SIGKILL may take (Argo: 10 s)


def _prepare(varrun: VarRun, containers: Sequence[str]) -> None:
    """``mkdir -p ctr/<name>`` (0777 whatever the umask): whoever comes first creates it."""
    old = os.umask(0)
    try:
        for name in containers:
            varrun.ctr(name).mkdir(mode=0o777, parents=True, exist_ok=True)
    finally:
        os.umask(old)


def pending(varrun: VarRun, containers: Sequence[str]) -> list[str]:
    """The containers whose ``exitcode`` file does not exist yet."""
    return [name for name in containers if not varrun.exitcode(name).exists()]


def wait_for_exit_files(
    varrun: VarRun, containers: Sequence[str], stop: Stop, timeout: float | None = None
) -> bool:
    """Until every container has written ``exitcode``; False if ``stop`` or ``timeout`` came
    first. All containers are watched together (Argo waits for them in parallel)."""
    remaining = timeout
    while pending(varrun, containers):
        if remaining is not None:
            if remaining <= 0:
                return False
            remaining -= POLL_SECONDS
        if stop.wait(POLL_SECONDS):
            return False
    return True


def wait_main_containers(
    varrun: VarRun, containers: Sequence[str], stop: Stop, backoff: Backoff
) -> None:
    """Argo's ``Wait``: retried with the executor backoff when the shared volume misbehaves.
    A set ``stop`` (SIGTERM) ends the wait early and counts as success."""

    def attempt() -> None:
        _prepare(varrun, containers)
        wait_for_exit_files(varrun, containers, stop)

    log.info("Waiting for main containers", extra={"containers": ",".join(containers)})
    retry_call(attempt, is_transient=lambda e: isinstance(e, OSError), backoff=backoff, stop=stop)
    if stop.is_set():
        log.info("Stopped waiting for main containers", extra={"reason": stop.reason})
    else:
        log.info("Main containers completed", extra={"containers": ",".join(containers)})


def write_signal(varrun: VarRun, container: str, signum: int) -> None:
    """Ask ``container``'s emissary to deliver ``signum`` (dir 0777, file 0666)."""
    old = os.umask(0)
    try:
        path: Path = varrun.signal(container)
        path.parent.mkdir(mode=0o777, parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(str(signum), encoding="utf-8")
        os.chmod(partial, 0o666)
        os.replace(partial, path)
    finally:
        os.umask(old)


def kill_containers(
    varrun: VarRun, containers: Sequence[str], grace_seconds: float, stop: Stop | None = None
) -> bool:
    """Argo's ``Kill``: SIGTERM, up to ``grace_seconds`` for every ``exitcode``, then SIGKILL
    and up to ten more seconds. True when all of them exited."""
    stop = stop or Stop()
    for signum, patience in (
        (signal.SIGTERM, grace_seconds),
        (signal.SIGKILL, KILL_PATIENCE_SECONDS),
    ):
        alive = pending(varrun, containers)
        if not alive:
            return True
        for name in alive:
            try:
                write_signal(varrun, name, int(signum))
            except OSError as exc:
                log.warning("cannot signal container %s: %s", name, exc)
        log.info(
            "Signalled containers", extra={"signal": int(signum), "containers": ",".join(alive)}
        )
        if wait_for_exit_files(varrun, containers, stop, timeout=patience):
            return True
    return not pending(varrun, containers)
