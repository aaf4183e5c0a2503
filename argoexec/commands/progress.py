"""Transfer progress for the ``artifact`` commands (the ``DriverContext.progress`` callback).

On a terminal: one self-redrawing line on stderr (bytes so far and average rate). Otherwise
(CI logs, pipes): a plain log line every ``log_every`` seconds, so long transfers show life
without flooding the log. Drivers may call back from several worker threads at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger(__name__)

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_bytes(n: float) -> str:
    for unit in _UNITS:
        if abs(n) < 1024 or unit == _UNITS[-1]:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} {_UNITS[-1]}"  # pragma: no cover - the loop always returns


class Progress:
    """Counts bytes moved and reports them; call :meth:`close` when the transfer ends."""

    def __init__(
        self,
        label: str,
        stream: TextIO,
        *,
        interactive: bool | None = None,
        redraw_every: float = 0.2,
        log_every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream
        self.interactive = stream.isatty() if interactive is None else interactive
        self.redraw_every = redraw_every
        self.log_every = log_every
        self.clock = clock
        self.done = 0
        self._start = clock()
        self._last = self._start
        self._drawn = False
        self._lock = threading.Lock()

    def rate(self, now: float | None = None) -> float:
        elapsed = (self.clock() if now is None else now) - self._start
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self, now: float | None = None) -> str:
        return f"{self.label}: {human_bytes(self.done)} ({human_bytes(self.rate(now))}/s)"

    def __call__(self, n: int) -> None:
        with self._lock:
            self.done += n
            now = self.clock()
            every = self.redraw_every if self.interactive else self.log_every
            if now - self._last < every:
                return
            self._last = now
            if self.interactive:
                self.stream.write(f"\r\x1b[K{self.line(now)}")
                self.stream.flush()
                self._drawn = True
            else:
                log.info("transfer progress", extra={"what": self.label, "bytes": self.done})

    def close(self) -> None:
        with self._lock:
            if self.interactive and self._drawn:
                self.stream.write(f"\r\x1b[K{self.line()}\n")
                self.stream.flush()
