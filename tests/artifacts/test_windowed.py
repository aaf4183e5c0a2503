"""``run_windowed``: lazy submission, a bounded number pending, every result told, errors first."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from artifacts.windowed import run_windowed


def test_no_more_than_the_window_is_drawn_ahead_and_every_result_is_told() -> None:
    drawn, running, peak, lock = [0], [0], [0], threading.Lock()

    def call(n: int) -> Callable[[], int]:
        def work() -> int:
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.005)  # long enough for eight workers to overlap, were they allowed to
            with lock:
                running[0] -= 1
            return n * n

        return work

    def calls() -> Iterator[tuple[int, Callable[[], int]]]:
        for n in range(200):
            drawn[0] += 1
            yield n, call(n)

    told: dict[int, int] = {}
    with ThreadPoolExecutor(8) as pool:
        run_windowed(pool, calls(), 5, told.__setitem__)

    assert told == {n: n * n for n in range(200)}
    assert 1 < peak[0] <= 5


def test_the_first_failure_is_raised_and_nothing_more_is_drawn() -> None:
    gate = threading.Event()
    drawn: list[int] = []

    def fail() -> int:
        raise ValueError("boom")

    def wait_for_gate() -> int:
        gate.wait(5)
        return 0

    def calls() -> Iterator[tuple[int, Callable[[], int]]]:
        yield 0, fail
        for n in range(1, 100):
            drawn.append(n)
            yield n, wait_for_gate

    with ThreadPoolExecutor(2) as pool:
        with pytest.raises(ValueError, match="boom"):
            run_windowed(pool, calls(), 3, lambda _k, _r: None)
        gate.set()
    assert len(drawn) < 10  # the window stopped the drawing long before the end


def test_an_error_while_drawing_the_calls_is_raised() -> None:
    def calls() -> Iterator[tuple[int, Callable[[], int]]]:
        yield 0, lambda: 1
        raise RuntimeError("listing failed")

    with ThreadPoolExecutor(2) as pool, pytest.raises(RuntimeError, match="listing failed"):
        run_windowed(pool, calls(), 4, lambda _k, _r: None)
