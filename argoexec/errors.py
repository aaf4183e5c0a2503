"""The executor's own error vocabulary (artifact errors are ``artifacts.errors.ArtifactError``)."""

from __future__ import annotations


class ExecutorError(Exception):
    """A pod sub-command (init, wait, resource) failed: exit 64, message to the termination log."""
