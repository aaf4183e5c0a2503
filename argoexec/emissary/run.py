"""``argoexec emissary -- CMD ARGS...``: the step-by-step flow of argo-contract.md §2.2."""

from __future__ import annotations

import os
import sys
import time

from argoexec import contract as c
from argoexec.emissary import watchers
from argoexec.emissary.child import Capture, Child, install_forwarding
from argoexec.emissary.elog import Logger
from argoexec.emissary.outputs import copy_outputs
from argoexec.emissary.settings import EmissarySettings
from argoexec.emissary.template import (
    EmissaryError,
    capture_enabled,
    command_line,
    main_containers,
    read_template,
    sidecar_names,
)
from argoexec.emissary.threads import Done

# Not imported at run time: ``typing`` adds milliseconds to every container's start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal  # the same functions and numbers, typed (_signal has no stubs)
    from typing import Any
else:
    import _signal  # `signal` adds enums: importing `enum` costs every start milliseconds

log = Logger("argoexec.emissary")


class DependencyFailedError(EmissaryError):
    def __init__(self, name: str, code: int) -> None:
        super().__init__(f'dependency "{name}" exited with non-zero code: {code}')
        self.code = code


def run(argv: list[str], settings: EmissarySettings) -> int:
    """Run the command; always leaves ``ctr/<ctr>/exitcode`` behind. The process exit code."""
    exit_file_code = c.EXIT_INTERNAL  # provisional until the child has run
    process_code = c.EXIT_INTERNAL
    os.umask(0)
    try:
        os.makedirs(settings.varrun.ctr(settings.container), 0o777, exist_ok=True)
        _reserve_exit_code(settings)
        template = read_template(settings)
        command = command_line(argv, settings)
        exit_file_code = process_code = _run_template(template, command, settings)
        if settings.container == c.MAIN_CONTAINER:
            errors = copy_outputs(template, settings.varrun)
            if errors:
                raise EmissaryError("; ".join(errors))
        else:
            log.info("not saving outputs - not main container")
    except _TerminatedError:
        process_code = 128 + _signal.SIGTERM
    except DependencyFailedError as exc:
        exit_file_code, process_code = exc.code, c.EXIT_INTERNAL
        _fail(settings, str(exc))
    except (EmissaryError, OSError) as exc:
        process_code = c.EXIT_INTERNAL
        _fail(settings, str(exc))
    finally:
        _write_exit_code(settings, exit_file_code)
    return process_code


def _run_template(template: dict[str, Any], command: list[str], settings: EmissarySettings) -> int:
    member = _container_set_member(template, settings.container)
    for dep in member.get("dependencies") or []:
        _wait_for_dependency(settings, dep)
    program = _resolve(command[0])
    if settings.pause_before:
        watchers.wait_for_file(settings.varrun.pause_marker(settings.container, "before"))
    attempts, pause = _retry_policy(template)
    code = 0
    for attempt in range(attempts):
        if attempt:
            log.info("retrying the command (attempt %d of %d)", attempt + 1, attempts)
            time.sleep(pause)
        code = _run_once([program, *command[1:]], template, settings)
        if code == 0:
            break
    if settings.pause_after:
        watchers.wait_for_file(settings.varrun.pause_marker(settings.container, "after"))
    return code


def _run_once(command: list[str], template: dict[str, Any], settings: EmissarySettings) -> int:
    varrun, me = settings.varrun, settings.container
    capture = None
    if capture_enabled(template, settings):
        capture = Capture(varrun.stdout(me), varrun.combined(me))
    child = Child(command, capture, tty=os.isatty(0))
    done = Done()
    # Forwarding is in place before the child starts: a signal in between (the controller's
    # kill right after the container came up) must reach the child, not end the emissary
    # without an exit code.
    restore = install_forwarding(child)
    try:
        try:
            child.start()
        except OSError as exc:
            if capture is not None:
                capture.close()
            raise EmissaryError(f"failed to start {command[0]}: {exc}") from exc
        watchers.watch_signal_file(child, varrun.signal(me), done)
        if settings.deadline is not None:
            watchers.watch_deadline(
                child,
                settings.deadline,
                settings.grace_seconds,
                done,
                lambda: _write_termination_log(settings, "Step exceeded its deadline"),
            )
        if me in sidecar_names(template):
            watchers.terminate_sidecar_when_mains_exit(
                varrun, me, main_containers(template), settings.grace_seconds, done
            )
        return child.wait()
    finally:
        done.set()
        restore()


def _container_set_member(template: dict[str, Any], name: str) -> dict[str, Any]:
    for member in (template.get("containerSet") or {}).get("containers") or []:
        if (member.get("name") or c.MAIN_CONTAINER) == name:
            return dict(member)
    return {}


def _retry_policy(template: dict[str, Any]) -> tuple[int, float]:
    """containerSet ``retryStrategy``: ``retries: N`` gives N retries, N+1 attempts in all.

    Argo's code makes N the *total* (and 0 runs nothing); we follow Argo's documentation, which
    is what users write their templates against.
    """
    strategy = (template.get("containerSet") or {}).get("retryStrategy") or {}
    try:
        retries = max(0, int(strategy.get("retries") or 0))
    except (TypeError, ValueError) as exc:
        raise EmissaryError(f"invalid containerSet retries: {strategy.get('retries')!r}") from exc
    duration = strategy.get("duration")
    return retries + 1, (_duration_seconds(str(duration)) if duration else 0.0)


def _duration_seconds(text: str) -> float:
    from argoexec.durations import parse_go_duration  # its `re` only for a retry pause

    try:
        return parse_go_duration(text)
    except ValueError as exc:
        raise EmissaryError(f"invalid containerSet retryStrategy duration {text!r}") from exc


class _TerminatedError(Exception):
    """SIGTERM while waiting for a dependency: exit 143, exitcode file keeps the provisional 64."""


def _wait_for_dependency(settings: EmissarySettings, dep: str) -> None:
    path = settings.varrun.exitcode(dep)
    watchers.make_parent(path)

    def on_term(_signum: int, _frame: object) -> None:
        raise _TerminatedError

    previous = _signal.signal(_signal.SIGTERM, on_term)
    try:
        # A half-written file reads as None and is simply read again on the next poll.
        while (code := watchers.read_exit_code(path)) is None:
            time.sleep(watchers.POLL_SECONDS)
    finally:
        _signal.signal(_signal.SIGTERM, previous)
    if code != 0:
        raise DependencyFailedError(dep, code)


def _resolve(program: str) -> str:
    if "/" in program:
        return program
    found = which(program)
    if found is None:
        raise EmissaryError(
            f'failed to find name in PATH: exec: "{program}": executable file not found in $PATH'
        )
    return found


def which(name: str) -> str | None:
    """``shutil.which(name)`` for a name without ``/`` (without ``shutil``'s imports): the
    first ``PATH`` entry holding an executable non-directory ``name`` (an empty entry is the
    working directory); no ``PATH`` at all is the system default path, an empty one none."""
    path = os.environ.get("PATH")
    if path is None:
        try:
            path = os.confstr("CS_PATH")
        except (AttributeError, ValueError):
            path = os.defpath
    if not path:
        return None
    seen = set()
    for directory in path.split(os.pathsep):
        if directory in seen:
            continue
        seen.add(directory)
        candidate = os.path.join(directory, name)
        if (
            os.path.exists(candidate)
            and os.access(candidate, os.X_OK)
            and not os.path.isdir(candidate)
        ):
            return candidate
    return None


def _fail(settings: EmissarySettings, message: str) -> None:
    log.error("%s", message)
    _write_termination_log(settings, message)


def _write_termination_log(settings: EmissarySettings, message: str) -> None:
    data = message.encode()[: c.TERMINATION_LOG_MAX]
    try:
        fd = os.open(settings.termination_log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError as exc:
        print(f"unable to write termination log: {exc}", file=sys.stderr)


# Room for any exit code ("-1" .. "255"), written before the command runs.
_RESERVED = b" " * 16


def _reserve_exit_code(settings: EmissarySettings) -> None:
    """Write the exit code's file, blank, before the command runs: the code then overwrites
    bytes the file system already gave (tmpfs, and ext4 and XFS, which reserve room when a
    write is accepted), so it is recorded even if the command filled the disk. Without the
    room (a disk already full) the command is not run: its outcome could not be recorded."""
    tmp = _exit_code_tmp(settings)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, _RESERVED)
        finally:
            os.close(fd)
    except OSError as exc:
        raise EmissaryError(f"cannot record the exit code at {tmp}: {exc.strerror}") from exc


_EXIT_CODE_TMP = "exitcode.tmp"


def _exit_code_tmp(settings: EmissarySettings) -> str:
    return os.path.join(settings.varrun.ctr(settings.container), _EXIT_CODE_TMP)


def _write_exit_code(settings: EmissarySettings, code: int) -> None:
    """The very last write: its existence tells the wait container we are done. It goes into
    the file reserved at the start (no O_TRUNC: truncating first would give its room away)."""
    path = settings.varrun.exitcode(settings.container)
    try:
        watchers.make_parent(path)
        tmp = _exit_code_tmp(settings)
        data = str(code).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.ftruncate(fd, len(data))
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        pass  # nowhere left to record it; the process exit code still says it
