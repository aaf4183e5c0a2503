"""Running the git CLI under a ``Stop`` token and turning its failures into ``ArtifactError``.

git reports everything on stderr in English (the child runs with ``LC_ALL=C``), so the error code
is read from well-known phrases of git, curl, ssh and git-daemon. Network failures are transient
(argo-contract.md §10.1); authentication failures are FORBIDDEN and a missing repository, branch
or revision is NOT_FOUND.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from argoexec.lifecycle import Stop
from artifacts.drivers.git.auth import scrub_userinfo
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.secrets import quotes_credential_header

_POLL_SECONDS = 0.25
_TERMINATE_GRACE = 5.0
_MAX_STDERR = 2000

_FORBIDDEN = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "permission denied (",  # ssh's "Permission denied (publickey)", not a local file error
    "returned error: 401",
    "returned error: 403",
    "host key verification failed",
    "invalid username or password",
    "load key",
)
_NOT_FOUND = (
    "repository not found",
    "does not appear to be a git repository",
    "no such repository",
    "returned error: 404",
    "not found in upstream origin",
    "couldn't find remote ref",
    "not exported",
    "unknown revision",
    "needed a single revision",
    "not our ref",
)
# Argo's generic transient list plus the shapes git, curl and ssh give the same failures.
_TRANSIENT = (
    "connection refused",
    "connection reset",
    "connection closed by foreign host",
    "connection timed out",
    "operation timed out",
    "timed out",
    "i/o timeout",
    "could not resolve host",
    "could not resolve hostname",
    "temporary failure in name resolution",
    "early eof",
    "unexpected disconnect",
    "the remote end hung up unexpectedly",
    "rpc failed",
    "returned error: 429",
    "returned error: 500",
    "returned error: 502",
    "returned error: 503",
    "returned error: 504",
    "operation too slow",
    "network is unreachable",
    "tls handshake timeout",
    "unexpected error when reading response body",
    "stream error when reading response body",
    "invalid connection",
)


@dataclass(frozen=True)
class GitFailure:
    """A git command that exited non-zero: its (scrubbed) stderr and exit status."""

    stderr: str
    returncode: int


def classify(text: str, transient_pattern: str | None = None) -> tuple[ErrorCode, bool]:
    """The error code and transient flag for a failure described by ``text``."""
    lowered = text.lower()
    if any(p in lowered for p in _FORBIDDEN):
        return ErrorCode.FORBIDDEN, False
    if any(p in lowered for p in _NOT_FOUND):
        return ErrorCode.NOT_FOUND, False
    if any(p in lowered for p in _TRANSIENT):
        return ErrorCode.INTERNAL, True
    if transient_pattern and re.search(transient_pattern, text):
        return ErrorCode.INTERNAL, True
    return ErrorCode.INTERNAL, False


def explain(failure: GitFailure) -> str:
    """git's stderr reduced to its informative lines, with hints for signals and host keys."""
    lines = [ln.strip() for ln in failure.stderr.replace("\r", "\n").splitlines()]
    # A server's error body, which git prints, may echo the request's credential headers.
    lines = [
        ln
        for ln in lines
        if ln and not ln.startswith(("Cloning into", "@@@")) and not quotes_credential_header(ln)
    ]
    text = "; ".join(lines)[-_MAX_STDERR:]
    if failure.returncode == -signal.SIGPIPE:
        # git writing to a socket the server already closed dies of SIGPIPE, silently.
        text = _join(text, "git was killed by SIGPIPE: connection reset by the server")
    elif failure.returncode < 0:
        text = _join(text, f"git was killed by {signal.Signals(-failure.returncode).name}")
    if "host key verification failed" in text.lower():
        text += (
            " (the server's SSH host key is not in the known hosts: add it to the known_hosts"
            " file, or set insecureIgnoreHostKey)"
        )
    return text or f"git exited with status {failure.returncode} and no message"


def _join(first: str, second: str) -> str:
    return f"{first}; {second}" if first else second


class GitRunner:
    """Runs ``git`` subcommands with a fixed environment; a set ``stop`` kills the process group."""

    def __init__(self, env: dict[str, str], stop: Stop, secrets: Sequence[str] = ()) -> None:
        self.env = env
        self.stop = stop
        self.secrets = [s for s in secrets if s]

    def scrub(self, text: str) -> str:
        for value in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(value, "***")
        return scrub_userinfo(text)

    def run(self, args: Sequence[str], cwd: Path | None = None) -> str:
        """stdout of ``git ARGS``; a non-zero exit raises :class:`GitExitError`."""
        if self.stop.is_set():
            raise _stopped(self.stop)
        proc = subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # so a stop also ends ssh / git-remote-http children
        )
        while True:
            try:
                out, err = proc.communicate(timeout=_POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                if self.stop.is_set():
                    _terminate(proc)
                    raise _stopped(self.stop) from None
        if proc.returncode != 0:
            stderr = self.scrub(err.decode("utf-8", "replace"))
            raise GitExitError(GitFailure(stderr, proc.returncode))
        return out.decode("utf-8", "replace")


class GitExitError(Exception):
    def __init__(self, failure: GitFailure) -> None:
        super().__init__(failure.stderr)
        self.failure = failure


def _stopped(stop: Stop) -> ArtifactError:
    return ArtifactError(f"git stopped: {stop.reason or 'stopped'}", code=ErrorCode.INTERNAL)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.communicate(timeout=_TERMINATE_GRACE)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
