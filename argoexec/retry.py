"""Whole-operation retries with exponential backoff (stdlib only).

One owner per failure mode: SDKs get their own retry settings explicitly; this module retries
whole operations, and only for errors the caller classifies as transient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from argoexec.lifecycle import Stop

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Argo's wait.Backoff: ``steps`` attempts in all, sleeping ``duration`` seconds, growing by
    ``factor`` each time, plus up to ``jitter`` times the delay at random, capped at ``cap``."""

    steps: int = 5  # EXECUTOR_RETRY_BACKOFF_STEPS
    duration: float = 1.0  # seconds, EXECUTOR_RETRY_BACKOFF_DURATION
    factor: float = 1.6  # EXECUTOR_RETRY_BACKOFF_FACTOR
    jitter: float = 0.5  # EXECUTOR_RETRY_BACKOFF_JITTER
    cap: float = 0.0  # seconds; 0 = no cap

    def delays(self) -> list[float]:
        """The sleeps between attempts (``steps - 1`` of them), before jitter."""
        out, delay = [], self.duration
        for _ in range(max(0, self.steps - 1)):
            out.append(min(delay, self.cap) if self.cap else delay)
            delay *= self.factor
        return out


class RetriesExhaustedError(Exception):
    """Every attempt failed with a transient error; ``last`` is the final one."""

    def __init__(self, attempts: int, last: BaseException) -> None:
        super().__init__(f"timed out waiting for the condition after {attempts} attempts: {last}")
        self.attempts = attempts
        self.last = last


def retry_call(
    fn: Callable[[], T],
    *,
    is_transient: Callable[[BaseException], bool],
    backoff: Backoff,
    stop: Stop | None = None,
    on_retry: Callable[[int, BaseException, float], None] | None = None,
    rand: Callable[[], float] | None = None,
) -> T:
    """Call ``fn`` until it succeeds, a non-transient error is raised, or attempts run out.

    Non-transient errors propagate unchanged. When the last attempt fails transiently,
    :class:`RetriesExhaustedError` is raised from it. A set ``stop`` token ends the waiting early
    and re-raises the last error.
    """
    delays = backoff.delays()
    if rand is None:
        import random  # on use: most calls never retry, and every executor imports this module

        rand = random.random
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt > len(delays):
                raise RetriesExhaustedError(attempt, exc) from exc
            delay = delays[attempt - 1] * (1.0 + backoff.jitter * rand())
            if on_retry is not None:
                on_retry(attempt, exc, delay)
            if stop is not None and stop.wait(delay):
                raise
            if stop is None:
                Stop().wait(delay)
