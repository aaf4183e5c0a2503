"""The web view's actions (stop, terminate, suspend, resume, retry, resubmit, delete): the
CLI's own commands, run as ``python -m argoexec VERB NAME``, so a click does exactly what the
command does — including driving a run nobody drives to its end (stop, retry, resubmit), which
then goes on in the background after the answer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import argoexec

# Which verbs the view offers, and whether each takes `-p NAME=VALUE`.
VERBS: Mapping[str, bool] = {
    "stop": False,
    "terminate": False,
    "suspend": False,
    "resume": True,
    "retry": True,
    "resubmit": True,
    "delete": False,
}
# How long a request waits for its command; a command still going then (one driving a run to
# its end) goes on, and the page follows the run.
WAIT_SECONDS = 8.0
# What is kept of a command's output for the answer.
OUTPUT_LIMIT = 16 * 1024
_PARAMETER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,252}")
# The directory the running `argoexec` package was imported from: the command runs that
# code, whatever the view's working directory holds.
PACKAGE_ROOT = str(Path(argoexec.__file__).resolve().parent.parent)
_SUBMITTED = re.compile(r"^workflow (\S+) submitted$", re.MULTILINE)


class ActionError(Exception):
    """The action cannot be asked for as given (the message says why)."""


@dataclass(frozen=True)
class Outcome:
    verb: str
    finished: bool  # the command ended within the wait
    ok: bool  # it ended with exit code 0 (or is still going)
    output: str  # what it printed (the tail)
    submitted: str | None = None  # resubmit: the new workflow's name


def command_line(
    root: Path, verb: str, name: str, parameters: Mapping[str, str], node: str | None
) -> list[str]:
    """The argv of the CLI command for the action (checked: verbs, parameter names)."""
    if verb not in VERBS:
        raise ActionError(f"unknown action {verb!r} (one of: {', '.join(VERBS)})")
    # -P: the working directory is not put on the import path (see `run_action`).
    argv = [sys.executable, "-P", "-m", "argoexec", verb, name, f"--state-dir={root}"]
    if parameters and not VERBS[verb]:
        raise ActionError(f"{verb} takes no parameters")
    for key, value in parameters.items():
        if not _PARAMETER_NAME.fullmatch(key):
            raise ActionError(f"parameter name {key[:64]!r} is not a valid parameter name")
        argv.append(f"--parameter={key}={value}")  # one word: a value is never an option
    if node:
        if verb != "resume":
            raise ActionError(f"{verb} takes no node")
        argv.append(f"--node={node}")
    return argv


def command_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The view's environment, with this `argoexec` first on the import path."""
    given = environ.get("PYTHONPATH", "")
    return {**environ, "PYTHONPATH": PACKAGE_ROOT + (os.pathsep + given if given else "")}


def run_action(
    argv: Sequence[str],
    verb: str,
    *,
    cwd: Path,
    environ: Mapping[str, str],
    wait: float = WAIT_SECONDS,
) -> Outcome:
    """Start the command in `cwd` (the state directory: nothing of the view's working
    directory is imported); answer when it ends, when it says what it submitted (resubmit),
    or after `wait` seconds. Its output goes to an unlinked temporary file (nothing is left
    behind however the command or this process ends); a thread reaps it when it ends."""
    with tempfile.TemporaryFile(prefix="argoexec-ui-") as out:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the view does not stop a run it drives
            close_fds=True,
            cwd=cwd,
            env=command_environment(environ),
        )
        threading.Thread(target=process.wait, name=f"reap-{process.pid}", daemon=True).start()
        _await(process, out.fileno(), verb, wait)
        code = process.poll()
        text = _tail(out.fileno())
    found = _SUBMITTED.search(text)
    return Outcome(
        verb=verb,
        finished=code is not None,
        ok=code in (None, 0),
        output=text,
        submitted=found.group(1) if found else None,
    )


def _await(process: subprocess.Popen[bytes], fd: int, verb: str, wait: float) -> None:
    """Until the command ends, says what it submitted (resubmit), or `wait` seconds pass."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return
        if verb == "resubmit" and _SUBMITTED.search(_tail(fd)):
            return
        time.sleep(0.05)


def _tail(fd: int) -> str:
    size = os.fstat(fd).st_size
    start = max(0, size - OUTPUT_LIMIT)
    data = os.pread(fd, size - start, start)
    return data.decode("utf-8", errors="replace")
