"""The supervisor of one pod of the `local` backend: a process of its own that runs the pod with
`HostRuntime.run_pod` (the `local` or the `podman` runtime) and outlives the controller that
started it.

Starting (`start`): the controller forks, the child leaves the controller's session (``setsid``)
and forks again, and exits at once; the grandchild, the supervisor, belongs to no process of the
controller's (init adopts it), has no controlling terminal, no parent-death signal and none of
the controller's files open. A Ctrl-C, a hang-up or a SIGKILL of the controller does not reach
it. It is the parent of the pod's containers, so bubblewrap's ``--die-with-parent`` ties the
sandboxes to the supervisor, not to the controller. A fork starts a supervisor in about a
millisecond, with everything already imported and the runtime prepared; it is safe only in a
process with a single thread (another thread may hold a lock the child would wait for forever),
so a multi-threaded caller starts ``python -m argoexec.controller.loop.podhost`` instead, which
then detaches the same way (tens of milliseconds: an interpreter and the runtime's imports).
Either way `start` returns once the supervisor has recorded itself (a pipe it writes its pid to).

Supervising (`serve`): the pod's status is recorded (`podfiles`) whenever it changes, and a byte
written to the root's FIFO after each record. A helper thread takes signal requests (SIGUSR1
says one came; it also looks every quarter second) and execs the pod's kill command in the
container, as Argo's controller does over `pods/exec`; and it stops the pod when a main
container ended without its exit code (`runtime.mains`), which would leave `wait` waiting
forever. SIGTERM is the pod's deletion: the stop token is set, containers get SIGTERM, SIGKILL
after the pod's grace period; once it has ended, a deleted pod's files are removed but its logs.
Signal handlers only write a byte to a pipe the helper reads (`_Signals`).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

from argoexec.contract import (
    DEFAULT_EXECUTOR_IMAGE,
    DEFAULT_POD_NETWORK,
    LOCAL_RUNTIME,
    PODMAN_RUNTIME,
    VAR_RUN_ARGO_VOLUME,
)
from argoexec.controller.loop.podfiles import PodFiles, read_json, ring, write_json
from argoexec.controller.runtime.executor import SOURCE_ROOT
from argoexec.controller.runtime.kill import kill_command
from argoexec.controller.runtime.local import LocalRuntime
from argoexec.controller.runtime.mains import (
    LOST_MAIN,
    LOST_POLL_SECONDS,
    LostMains,
    exit_recorded,
    pod_mains,
)
from argoexec.controller.runtime.podman import PodmanRuntime
from argoexec.controller.runtime.protocol import HostRuntime
from argoexec.controller.runtime.status import PodResult
from argoexec.emissary.launcher import python_code
from argoexec.lifecycle import Stop

log = logging.getLogger("argoexec.controller.podhost")

FORK = "fork"
SPAWN = "spawn"
SUPERVISOR_ERROR = "SupervisorError"  # the pod's status reason when its supervisor failed
DELETED = "the pod was deleted"
PROCESS_NAME = "argoexec-pod"
_EXIT_FAILED = 70
_EXEC_TIMEOUT = 120.0  # Argo's pods/exec output timeout
_ENTRY = "from argoexec.controller.loop.podhost import main; sys.exit(main())"


@dataclass(frozen=True)
class RuntimeSettings:
    """How supervisors build their runtime (plain values: a spawned supervisor gets
    them on its command line)."""

    executor_image: str = DEFAULT_EXECUTOR_IMAGE
    sandbox: bool = True
    claims: str | None = None  # the claims root; None: `<root>/claims`
    poll_interval: float = 0.02  # seconds between looks at the containers (status latency)
    kind: str = LOCAL_RUNTIME  # or PODMAN_RUNTIME
    pod_network: str = DEFAULT_POD_NETWORK  # which local pods get networks of their own

    def runtime(self, root: Path) -> HostRuntime:
        if self.kind == PODMAN_RUNTIME:
            return PodmanRuntime(
                root,
                executor_image=self.executor_image,
                claims=Path(self.claims) if self.claims else None,
            )
        return LocalRuntime(
            root,
            executor_image=self.executor_image,
            sandbox=self.sandbox,
            claims=Path(self.claims) if self.claims else None,
            poll_interval=self.poll_interval,
            pod_network=self.pod_network,
        )


def start_method() -> str:
    """`FORK` when this process runs one thread (Linux tells all, native ones too), else
    `SPAWN`."""
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:
        return SPAWN
    return FORK if threads == 1 and threading.active_count() == 1 else SPAWN


def start(
    runtime: HostRuntime,
    settings: RuntimeSettings,
    files: PodFiles,
    *,
    secrets: Path | None,
    method: str,
    lock: int | None = None,
) -> int:
    """Start the supervisor of the pod whose files are ``files`` (manifest, pod and config maps
    written); its pid, once it has recorded itself. `RuntimeError` if it could not start.
    ``lock``, the pod's lock (`PodFiles.lock`) if the caller holds it, is inherited by the
    supervisor until it has recorded itself: were the caller killed meanwhile, nobody else
    takes the lock and starts the pod a second time."""
    read_end, write_end = os.pipe()
    try:
        if method == FORK:
            _fork(runtime, files, secrets, write_end, lock)
        else:
            _spawn(runtime.root, settings, files, secrets, write_end, lock=lock)
        os.close(write_end)
        write_end = -1
        with os.fdopen(read_end, "rb") as handshake:
            read_end = -1
            said = handshake.read().decode(errors="replace").strip()
    finally:
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)
    if not said.isdigit():
        tail = _tail(files.log)
        raise RuntimeError(f"the pod's supervisor did not start{': ' + tail if tail else ''}")
    return int(said)


def _fork(
    runtime: HostRuntime, files: PodFiles, secrets: Path | None, handshake: int, lock: int | None
) -> None:
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller
        code = _EXIT_FAILED
        try:
            gc.freeze()  # the controller's objects are never collected (or closed) here
            os.setsid()
            if os.fork() == 0:
                _become_supervisor(runtime, files, secrets, handshake, lock, close_fds=True)
            code = 0
        finally:
            os._exit(code)
    os.waitpid(pid, 0)


def _spawn(
    root: Path,
    settings: RuntimeSettings,
    files: PodFiles,
    secrets: Path | None,
    handshake: int,
    *,
    lock: int | None,
) -> None:
    path = [str(SOURCE_ROOT), *(p for p in sys.path if p)]
    argv = [sys.executable, "-S", "-c", python_code(list(dict.fromkeys(path)), _ENTRY)]
    argv += ["--root", str(root), "--pod", files.root.parent.name]
    argv += ["--settings", json.dumps(asdict(settings)), "--handshake-fd", str(handshake)]
    if secrets is not None:
        argv += ["--secrets", str(secrets)]
    if lock is not None:
        argv += ["--lock-fd", str(lock)]
    with files.log.open("ab") as output:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            pass_fds=(handshake,) if lock is None else (handshake, lock),
            start_new_session=True,
        )
    proc.wait()


def main(argv: list[str] | None = None) -> int:
    """``python -m argoexec.controller.loop.podhost``: a spawned supervisor, which detaches."""
    parser = argparse.ArgumentParser(prog="podhost")
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--pod", required=True)
    parser.add_argument("--settings", required=True)
    parser.add_argument("--handshake-fd", required=True, type=int)
    parser.add_argument("--secrets", type=Path)
    parser.add_argument("--lock-fd", type=int)
    args = parser.parse_args(argv)
    runtime = RuntimeSettings(**json.loads(args.settings)).runtime(args.root)
    runtime.prepare()
    files = PodFiles(runtime.pod_dirs(args.pod).supervisor)
    if os.fork() == 0:  # already in a session of its own (start_new_session)
        _become_supervisor(
            runtime, files, args.secrets, args.handshake_fd, args.lock_fd, close_fds=False
        )
    return 0


def _become_supervisor(
    runtime: HostRuntime,
    files: PodFiles,
    secrets: Path | None,
    handshake: int,
    lock: int | None,
    *,
    close_fds: bool,
) -> NoReturn:
    code = _EXIT_FAILED
    try:
        signals = _install_signals()
        # Recorded before the creator's lock is let go of (closing the inherited copy): from
        # then on, the pod is known to have a supervisor.
        files.record_supervisor(os.getpid())
        if lock is not None:
            os.close(lock)
        _detach_files(files, (handshake, *signals.fds), close_fds=close_fds)
        _name_process()
        code = serve(runtime, files, secrets=secrets, signals=signals, handshake=handshake)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(code)


class _Signals:
    """What signals told the supervisor, passed on without a lock: a handler runs in the main
    thread wherever it is, inside a lock it holds, or inside another handler (two SIGUSR1s in a
    row), so taking one there (`threading.Event.set`) may wait forever. A handler writes a byte
    to a pipe; the helper thread reads them."""

    TERM, REQUEST, DONE = b"t", b"r", b"d"

    def __init__(self) -> None:
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    @property
    def fds(self) -> tuple[int, int]:
        return self._read, self._write

    def tell(self, what: bytes) -> None:
        with contextlib.suppress(BlockingIOError):  # full: the helper has plenty to read
            os.write(self._write, what)

    def wait(self, timeout: float) -> bytes:
        """What was told since the last call, waiting up to ``timeout`` seconds for it."""
        told = b""
        if select.select([self._read], [], [], timeout)[0]:
            with contextlib.suppress(BlockingIOError):
                while chunk := os.read(self._read, 4096):
                    told += chunk
        return told


def _install_signals() -> _Signals:
    """Before the supervisor is known (recorded): a signal to it then finds its handler."""
    signals = _Signals()
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGTERM, lambda _s, _f: signals.tell(_Signals.TERM))
    signal.signal(signal.SIGUSR1, lambda _s, _f: signals.tell(_Signals.REQUEST))
    for ignored in (signal.SIGINT, signal.SIGHUP):
        signal.signal(ignored, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    return signals


def _name_process() -> None:
    """``argoexec-pod`` in ps's and top's command column (a forked supervisor's arguments are
    still the controller's)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(PROCESS_NAME)


def _detach_files(files: PodFiles, keep: tuple[int, ...], *, close_fds: bool) -> None:
    """stdin from /dev/null, stdout and stderr to the supervisor's log, no other file of the
    controller's open; logging to that log only."""
    root = logging.getLogger()
    for handler in list(root.handlers):  # they may write to files of the controller's
        root.removeHandler(handler)
    for other in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(other, logging.Logger):
            other.handlers.clear()
    null = os.open(os.devnull, os.O_RDONLY)
    output = os.open(files.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(null, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    for fd in (null, output):
        if fd > 2:
            os.close(fd)
    if close_fds:
        low = 3
        for fd in sorted(keep):
            os.closerange(low, fd)
            low = max(low, fd + 1)
        os.closerange(low, os.sysconf("SC_OPEN_MAX"))
    sys.stdout = sys.stderr = io.TextIOWrapper(
        io.FileIO(2, "w", closefd=False), line_buffering=True, errors="replace"
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def serve(
    runtime: HostRuntime,
    files: PodFiles,
    *,
    secrets: Path | None,
    signals: _Signals,
    handshake: int,
) -> int:
    """Run the pod to its end, recording its status; the exit code of the supervisor."""
    pod: dict[str, Any] = read_json(files.pod)
    config_maps: dict[str, dict[str, str]] = read_json(files.config_maps) or {}
    name = str(pod["metadata"]["name"])

    def record(status: PodResult, ended: bool) -> None:
        try:
            files.write_status(status, ended=ended)
        except OSError as exc:  # a full disk: the next change tries again
            log.error("pod %s: cannot record its status: %s", name, exc)
            return
        ring(runtime.root)

    files.reserve.keep()
    record(PodResult.pending(pod), False)
    with contextlib.suppress(OSError):  # its creator was killed meanwhile: the pod runs on
        os.write(handshake, f"{os.getpid()}\n".encode())
    os.close(handshake)

    stop, done = Stop(), threading.Event()
    helper = threading.Thread(
        target=_help,
        args=(runtime, files, pod, config_maps),
        kwargs={"stop": stop, "signals": signals, "done": done},
        name="podhost-helper",
        daemon=True,
    )
    helper.start()
    code = 0
    try:
        # This thread starts the containers: their parent-death signal follows it.
        runtime.run_pod(pod, secrets=secrets, config_maps=config_maps, stop=stop, on_change=record)
    except Exception as exc:
        log.exception("pod %s: the supervisor failed", name)
        status = runtime.status(name) or PodResult.pending(pod)
        status.fail(SUPERVISOR_ERROR, f"the pod's supervisor failed: {exc}")
        record(status, True)
        code = _EXIT_FAILED
    finally:
        done.set()
        signals.tell(_Signals.DONE)
        helper.join(timeout=_EXEC_TIMEOUT)
        files.reserve.spend()  # the final status is recorded (or could not be): not needed
    # The pod's lock, held from here until this process exits (never let go of): a deletion
    # is either seen now, or made once this process is exiting, by a deleter that cleans up.
    files.lock(wait=True)
    with contextlib.suppress(OSError):
        files.exiting.touch()
    if files.deleted.exists():
        runtime.pod_dirs(name).remove_all_but_logs()
    return code


def _help(
    runtime: HostRuntime,
    files: PodFiles,
    pod: Mapping[str, Any],
    config_maps: Mapping[str, Mapping[str, str]],
    *,
    stop: Stop,
    signals: _Signals,
    done: threading.Event,
) -> None:
    """Stop the pod when the supervisor is sent SIGTERM (its deletion) or a main container is
    lost; deliver signal requests (SIGUSR1 says one came; they are looked for anyway)."""
    name = str(pod["metadata"]["name"])
    var_run = runtime.volume_path(name, VAR_RUN_ARGO_VOLUME)
    lost = LostMains(
        pod_mains(pod, config_maps),
        exit_recorded=lambda main: exit_recorded(var_run, main),
        logs=lambda main: runtime.logs(name, main),
    )
    while not done.is_set():
        told = signals.wait(LOST_POLL_SECONDS)
        if _Signals.TERM in told and not stop.is_set():
            stop.set(DELETED if files.deleted.exists() else "its supervisor was sent SIGTERM")
        try:
            for container, signum in files.take_requests():
                _signal(runtime, pod, container, signum)
            status = runtime.status(name)
            why = lost.check(status) if status is not None and lost.mains else None
        except Exception:  # keep helping: the pod runs on whatever one request did
            log.exception("pod %s: the supervisor's helper failed", name)
            continue
        if why and not stop.is_set():
            log.warning("pod %s: stopping it: %s", name, why)
            stop.set(why, cause=LOST_MAIN)


def _signal(runtime: HostRuntime, pod: Mapping[str, Any], container: str, signum: int) -> None:
    name = str(pod["metadata"]["name"])
    command = kill_command(pod, container, signum)
    try:
        done = runtime.exec(name, container, command, timeout=_EXEC_TIMEOUT)
    except KeyError:
        return  # the pod is not running (any more): nothing to signal
    log.info(
        "pod %s: %s in %s: exit code %d %s",
        name,
        " ".join(command),
        container,
        done.exit_code,
        (done.stdout + done.stderr).strip()[-300:],
    )


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][-300:] if lines else ""


def write_pod(files: PodFiles, pod: Mapping[str, Any], config_maps: Mapping[str, Any]) -> None:
    """What the supervisor reads when it starts."""
    write_json(files.pod, pod)
    write_json(files.config_maps, {k: dict(v) for k, v in config_maps.items()})


if __name__ == "__main__":
    sys.exit(main())
