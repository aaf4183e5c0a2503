"""One thin composition root per sub-command: parsed flags → dependencies → logic.

Commands never catch ``Exception``: they raise, and ``argoexec.cli`` maps what they raise to an
exit code. The types here let a command say *what kind* of failure it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

from argoexec.config import ExecutorConfig
from argoexec.lifecycle import Stop


class UsageError(Exception):
    """The command line or a document it names is wrong (exit 2)."""


class CheckFailedError(Exception):
    """``artifact check`` printed a FAILED verdict; ``cause`` is what failed (if any)."""

    def __init__(self, reason: str, cause: BaseException | None = None) -> None:
        super().__init__(reason)
        self.cause = cause


@dataclass
class Invocation:
    """What every command gets besides its flags."""

    config: ExecutorConfig
    stop: Stop
    stdout: TextIO
    stderr: TextIO
