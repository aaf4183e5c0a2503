"""Many small transfers on a thread pool, fed lazily: at most a window of them is pending, so
neither the list of work (100,000 keys or files) nor the queue grows with its length."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

K = TypeVar("K")
R = TypeVar("R")


def run_windowed(
    pool: ThreadPoolExecutor,
    calls: Iterable[tuple[K, Callable[[], R]]],
    window: int,
    done: Callable[[K, R], None],
) -> None:
    """Submit each ``(key, call)`` of ``calls`` as it is drawn, with at most ``window`` of them
    unfinished; ``done(key, result)`` is told of each as it finishes (in any order). The first
    error, from a call or from drawing ``calls``, cancels what has not started and is raised."""
    pending: dict[Future[R], K] = {}
    try:
        for key, call in calls:
            if len(pending) >= window:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    done(pending.pop(future), future.result())
            pending[pool.submit(call)] = key
        for future in list(pending):
            done(pending.pop(future), future.result())
    finally:
        for future in pending:
            future.cancel()
