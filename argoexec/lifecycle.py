"""Cooperative cancellation: a ``Stop`` token replaces bare sleeps (stdlib only)."""

from __future__ import annotations

import threading


class Stop:
    """Set once to ask every loop and wait that shares this token to end early."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""
        self.cause = ""  # a machine-readable reason (a Kubernetes-style CamelCase word), or ""

    def set(self, reason: str = "stopped", *, cause: str = "") -> None:
        if not self._event.is_set():
            self.reason = reason
            self.cause = cause
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if the token was set meanwhile."""
        return self._event.wait(max(0.0, seconds))
