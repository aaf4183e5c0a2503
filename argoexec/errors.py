"""The executor's own error vocabulary (artifact errors are ``artifacts.errors.ArtifactError``),
and how a file system error is told to a user."""

from __future__ import annotations

from pathlib import Path


class ExecutorError(Exception):
    """A pod sub-command (init, wait, resource) failed: exit 64, message to the termination log."""


def os_cause(exc: OSError, path: Path | str | None = None) -> str:
    """``<path>: <reason>`` of a file system error (``/x/y: No space left on device``), without
    Python's ``[Errno N]`` decoration; ``path`` when the error names none."""
    where = exc.filename if exc.filename is not None else path
    reason = exc.strerror or str(exc)
    return f"{where}: {reason}" if where is not None else reason
