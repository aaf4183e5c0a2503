"""The live view of a running workflow: the `argo get` report redrawn in place on a terminal,
or one line per node phase change elsewhere."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from argoexec.controller.render import (
    ANSI,
    DONE_PHASES,
    RESET,
    Workflow,
    nodes_of,
    parse_time,
    render_workflow,
    visible_len,
)
from argoexec.durations import rfc3339


def _clip(line: str, width: int) -> str:
    """``line`` cut to ``width`` visible characters (escape sequences kept whole)."""
    if visible_len(line) <= width:
        return line
    out, seen, pos = [], 0, 0
    while pos < len(line) and seen < width:
        match = ANSI.match(line, pos)
        if match:
            out.append(match.group())
            pos = match.end()
            continue
        out.append(line[pos])
        seen += 1
        pos += 1
    return "".join(out) + (RESET if "\x1b[" in line else "")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _timer(delay: float, action: Callable[[], None]) -> Callable[[], None]:
    """Run ``action`` once after ``delay`` seconds on a daemon thread; returns its cancel."""
    timer = threading.Timer(delay, action)
    timer.daemon = True
    timer.start()
    return timer.cancel


class Progress:
    """Shows a running workflow. On a terminal, the ``argo get`` report redrawn in place: at most
    once per ``interval`` (an update that comes sooner is drawn when the interval is over), cut
    to ``width`` x ``height`` so that moving the cursor back up always reaches its first line;
    :meth:`close` draws the last state. Elsewhere (logs, pipes), one line per node phase change:
    ``<time>  <node name>  <phase>[  <message>]``.

    ``update`` keeps a reference to the workflow until it is drawn: the caller must not change
    it from another thread meanwhile (hand over a copy, or call from the thread that owns it).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        is_tty: bool,
        color: bool | None = None,
        width: int | None = None,
        height: int | None = None,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utc_now,
        schedule: Callable[[float, Callable[[], None]], Callable[[], None]] = _timer,
    ) -> None:
        self.stream = stream
        self.is_tty = is_tty
        self.color = is_tty if color is None else color
        self.width = width
        self.height = height
        self.interval = interval
        self.clock = clock
        self.now = now
        self.schedule = schedule
        self._lock = threading.Lock()
        self._drawn_lines = 0
        self._last_draw: float | None = None
        self._pending: Workflow | None = None
        self._cancel: Callable[[], None] | None = None
        self._phases: dict[str, str] = {}

    def update(self, workflow: Workflow) -> None:
        with self._lock:
            if not self.is_tty:
                self._report_changes(workflow)
                return
            self._pending = workflow
            wait = (
                0.0 if self._last_draw is None else self._last_draw + self.interval - self.clock()
            )
            if wait <= 0:
                self._draw()
            elif self._cancel is None:
                self._cancel = self.schedule(wait, self._deferred)

    def close(self) -> None:
        with self._lock:
            if self._cancel is not None:
                self._cancel()
                self._cancel = None
            if self.is_tty and self._pending is not None:
                self._draw()
            self.stream.flush()

    def _deferred(self) -> None:
        with self._lock:
            self._cancel = None
            if self._pending is not None:
                self._draw()

    def _draw(self) -> None:
        assert self._pending is not None
        lines = render_workflow(self._pending, now=self.now(), color=self.color).splitlines()
        if self.height and len(lines) >= self.height:
            hidden = len(lines) - self.height + 2
            lines = [*lines[: self.height - 2], f"... {hidden} more lines"]
        if self.width:
            lines = [_clip(line, self.width) for line in lines]
        # Back to the first line drawn last time, clear to the end of the screen, draw again.
        back = f"\x1b[{self._drawn_lines}F\x1b[J" if self._drawn_lines else ""
        self.stream.write(back + "".join(f"{line}\n" for line in lines))
        self.stream.flush()
        self._drawn_lines = len(lines)
        self._last_draw = self.clock()
        self._pending = None

    def _report_changes(self, workflow: Workflow) -> None:
        changed = []
        for i, node in nodes_of(workflow).items():
            phase = str(node.get("phase") or "Pending")
            if node.get("type") in ("StepGroup", "TaskGroup") or self._phases.get(i) == phase:
                continue
            self._phases[i] = phase
            when = parse_time(node.get("finishedAt")) if phase in DONE_PHASES else None
            when = when or parse_time(node.get("startedAt")) or self.now()
            changed.append((when, str(node.get("name", i)), phase, str(node.get("message") or "")))
        for when, name, phase, message in sorted(changed):
            stamp = rfc3339(when)
            self.stream.write(f"{stamp}  {name}  {phase}{'  ' + message if message else ''}\n")
        if changed:
            self.stream.flush()
