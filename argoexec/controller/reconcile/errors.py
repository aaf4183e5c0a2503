"""The controller's one error type: whatever goes wrong with a node (a bad reference, an argument
that does not resolve, a loop that cannot be expanded...) is a `NodeError`, raised where it is
found and caught once, at the node boundary (`walk.attempt`), which finishes the node with its
phase (Error unless the raiser says Failed) and message."""

from __future__ import annotations

from .nodes import ERROR


class NodeError(Exception):
    def __init__(self, message: str, *, phase: str = ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.phase = phase
