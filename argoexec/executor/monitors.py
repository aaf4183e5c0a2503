"""The two monitors that run while ``wait`` waits for the main containers (argo-contract.md §4.8).

* Deadline: when ``ARGO_DEADLINE`` passes, ``Step exceeded its deadline`` goes to the
  termination log and the main containers are stopped through their signal files (15, the
  grace period, 9, ten more seconds).
* Progress: the progress file is read every file tick; a changed, valid ``N/M`` becomes pending
  and is reported at the next patch tick. Argo watches the file with inotify and uses the file
  tick only as an on/off switch; reading it on that tick is equivalent for a step and portable.
  ``latest`` keeps the last valid value so ``wait`` can include it in its final report (Argo
  drops a value still pending when the wait ends).

Both end as soon as the ``done`` token is set (the waiting is over).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from argoexec import durations
from argoexec.contract import ENV_DEADLINE
from argoexec.errors import ExecutorError
from argoexec.executor.progress import parse_progress
from argoexec.executor.sinks import ResultSink
from argoexec.executor.waiting import kill_containers
from argoexec.lifecycle import Stop
from argoexec.varrun import VarRun

log = logging.getLogger("argoexec.wait")

DEADLINE_MESSAGE = "Step exceeded its deadline"


def parse_deadline(text: str) -> datetime | None:
    """``ARGO_DEADLINE`` (RFC3339); empty or Go's zero time means no deadline."""
    try:
        return durations.parse_deadline(text)
    except ValueError as exc:
        raise ExecutorError(f"invalid {ENV_DEADLINE} {text!r}: {exc}") from exc


def write_termination_message(path: Path, message: str) -> None:
    try:
        path.write_text(message, encoding="utf-8")
    except OSError as exc:
        log.warning("unable to write termination log: %s", exc)


class _Monitor:
    name = "monitor"

    def __init__(self, done: Stop) -> None:
        self.done = done
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._guarded, name=self.name, daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _guarded(self) -> None:
        try:
            self.run()
        except Exception:  # a monitor failure must never take the outputs down with it
            log.exception("%s failed", self.name)

    def run(self) -> None:
        raise NotImplementedError


class DeadlineMonitor(_Monitor):
    name = "deadline-monitor"

    def __init__(
        self,
        deadline: datetime | None,
        *,
        varrun: VarRun,
        containers: Sequence[str],
        grace_seconds: float,
        termination_log: Path,
        done: Stop,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(done)
        self.deadline = deadline
        self.varrun = varrun
        self.containers = list(containers)
        self.grace_seconds = grace_seconds
        self.termination_log = termination_log
        self.now = now
        self.fired = False

    def run(self) -> None:
        if self.deadline is None:
            return
        remaining = (self.deadline - self.now()).total_seconds()
        if self.done.wait(remaining):
            return
        self.fired = True
        log.info(DEADLINE_MESSAGE, extra={"deadline": self.deadline.isoformat()})
        write_termination_message(self.termination_log, DEADLINE_MESSAGE)
        kill_containers(self.varrun, self.containers, self.grace_seconds, self.done)


class ProgressMonitor(_Monitor):
    name = "progress-monitor"

    def __init__(
        self, path: Path, sink: ResultSink, *, file_tick: float, patch_tick: float, done: Stop
    ) -> None:
        super().__init__(done)
        self.path = path
        self.sink = sink
        self.file_tick = file_tick
        self.patch_tick = patch_tick
        self.latest: str | None = None
        self._last_line: str | None = None
        self._pending: str | None = None

    @property
    def enabled(self) -> bool:
        return self.file_tick > 0 and self.patch_tick > 0

    def start(self) -> None:
        if self.enabled:
            super().start()

    def run(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o777, parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("cannot create the directory of the progress file: %s", exc)
        next_patch = time.monotonic() + self.patch_tick
        while True:
            wake = min(self.file_tick, max(0.0, next_patch - time.monotonic()))
            if self.done.wait(wake):
                self.read()
                return
            self.read()
            if time.monotonic() >= next_patch:
                self.flush()
                next_patch = time.monotonic() + self.patch_tick

    def read(self) -> None:
        """Take the last non-empty line when it changed; remember it when it is valid."""
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return
        line = next((s.strip() for s in reversed(lines) if s.strip()), None)
        if line is None or line == self._last_line:
            return
        self._last_line = line
        value = parse_progress(line)
        if value is None:
            log.warning("unable to parse progress", extra={"progress": line[:100]})
            return
        self.latest = self._pending = value

    def flush(self) -> None:
        if self._pending is None:
            return
        try:
            self.sink.report({"progress": self._pending})
        except Exception as exc:  # reported again at the next tick
            log.warning("cannot report progress: %s", exc)
            return
        log.debug("Reported progress", extra={"progress": self._pending})
        self._pending = None
