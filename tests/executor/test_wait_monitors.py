"""Waiting for main containers, stopping them through signal files, and the deadline and
progress monitors (§4.2, §4.8), over a temporary /var/run/argo."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from argoexec.config import ExecutorConfig
from argoexec.errors import ExecutorError
from argoexec.executor.monitors import (
    DEADLINE_MESSAGE,
    DeadlineMonitor,
    ProgressMonitor,
    parse_deadline,
)
from argoexec.executor.sinks import FileSink
from argoexec.executor.waiting import kill_containers, wait_for_exit_files, wait_main_containers
from argoexec.lifecycle import Stop
from argoexec.retry import Backoff
from argoexec.varrun import VarRun


@pytest.fixture
def varrun(tmp_path: Path) -> VarRun:
    return VarRun(tmp_path / "var-run-argo")


class FakeEmissary(threading.Thread):
    """Consumes its signal file like an emissary; exits (writes ``exitcode``) on the signals
    it obeys and records every signal it saw."""

    def __init__(self, varrun: VarRun, ctr: str, obeys: set[int]) -> None:
        super().__init__(daemon=True)
        self.varrun, self.ctr, self.obeys = varrun, ctr, obeys
        self.seen: list[int] = []
        self.done = Stop()

    def run(self) -> None:
        path = self.varrun.signal(self.ctr)
        while not self.done.wait(0.02):
            if not path.exists():
                continue
            signum = int(path.read_text())
            path.unlink()
            self.seen.append(signum)
            if signum in self.obeys:
                self.varrun.exitcode(self.ctr).write_text(str(128 + signum))
                return


def test_waiting_ends_once_every_main_container_wrote_its_exit_code(varrun: VarRun) -> None:
    containers = ["a", "b"]
    finished = threading.Event()

    def waiter() -> None:
        wait_main_containers(varrun, containers, Stop(), Backoff(steps=1))
        finished.set()

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    # The waiter creates the container directories (0777) before watching them.
    for ctr in containers:
        while not varrun.ctr(ctr).is_dir():
            Stop().wait(0.01)
        assert varrun.ctr(ctr).stat().st_mode & 0o777 == 0o777
    varrun.exitcode("a").write_text("0")
    assert not finished.wait(0.3)
    varrun.exitcode("b").write_text("1")
    thread.join(30)
    assert finished.is_set()


def test_a_set_stop_token_ends_the_waiting(varrun: VarRun) -> None:
    stop = Stop()
    stop.set("SIGTERM")
    wait_main_containers(varrun, ["main"], stop, Backoff(steps=1))
    assert not varrun.exitcode("main").exists()


def test_a_timeout_ends_waiting_for_exit_files(varrun: VarRun) -> None:
    varrun.ctr("main").mkdir(parents=True)
    assert wait_for_exit_files(varrun, ["main"], Stop(), timeout=0.2) is False


def test_kill_asks_politely_first(varrun: VarRun) -> None:
    varrun.ctr("main").mkdir(parents=True)
    emissary = FakeEmissary(varrun, "main", obeys={15})
    emissary.start()
    assert kill_containers(varrun, ["main"], grace_seconds=30)
    emissary.join(10)
    assert emissary.seen == [15]


def test_kill_escalates_to_sigkill_after_the_grace_period(varrun: VarRun) -> None:
    varrun.ctr("main").mkdir(parents=True)
    emissary = FakeEmissary(varrun, "main", obeys={9})
    emissary.start()
    assert kill_containers(varrun, ["main"], grace_seconds=0.2)
    emissary.join(10)
    assert emissary.seen == [15, 9]
    assert varrun.exitcode("main").read_text() == "137"


def test_a_passed_deadline_writes_the_termination_log_and_stops_main(
    varrun: VarRun, tmp_path: Path
) -> None:
    varrun.ctr("main").mkdir(parents=True)
    emissary = FakeEmissary(varrun, "main", obeys={15})
    emissary.start()
    log = tmp_path / "termination-log"
    monitor = DeadlineMonitor(
        datetime.now(UTC) - timedelta(seconds=1),
        varrun=varrun,
        containers=["main"],
        grace_seconds=30,
        termination_log=log,
        done=Stop(),
    )
    monitor.start()
    monitor.join(30)
    assert monitor.fired
    assert log.read_text() == DEADLINE_MESSAGE
    assert emissary.seen == [15]


def test_a_deadline_monitor_does_nothing_once_the_wait_is_over(
    varrun: VarRun, tmp_path: Path
) -> None:
    done = Stop()
    done.set()
    monitor = DeadlineMonitor(
        datetime.now(UTC) + timedelta(hours=1),
        varrun=varrun,
        containers=["main"],
        grace_seconds=30,
        termination_log=tmp_path / "tl",
        done=done,
    )
    monitor.start()
    monitor.join(30)
    assert not monitor.fired
    assert not (tmp_path / "tl").exists()


def test_deadlines_are_rfc3339_and_the_zero_time_means_none() -> None:
    assert parse_deadline("") is None
    assert parse_deadline("0001-01-01T00:00:00Z") is None
    assert parse_deadline("2030-01-02T03:04:05Z") == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    with pytest.raises(ExecutorError, match="ARGO_DEADLINE"):
        parse_deadline("tomorrow")


def test_progress_is_reported_at_the_patch_tick(tmp_path: Path) -> None:
    progress_file = tmp_path / "argo" / "progress"  # the monitor creates the directory
    result = tmp_path / "result.json"
    sink = FileSink(result, name="n")
    done = Stop()
    monitor = ProgressMonitor(progress_file, sink, file_tick=0.02, patch_tick=0.05, done=done)
    monitor.start()
    try:
        while not progress_file.parent.is_dir():
            Stop().wait(0.01)
        progress_file.write_text("1/4\n3/4\n")
        while not result.exists() or sink.read().get("progress") != "3/4":
            Stop().wait(0.02)
    finally:
        done.set()
        monitor.join(10)
    assert monitor.latest == "3/4"


@pytest.mark.parametrize("line", ["5/4", "x/10", "1/0", "-1/3", "half"])
def test_invalid_progress_is_ignored(tmp_path: Path, line: str) -> None:
    path = tmp_path / "progress"
    path.write_text(f"1/2\n{line}\n")
    monitor = ProgressMonitor(
        path, FileSink(tmp_path / "r"), file_tick=1, patch_tick=1, done=Stop()
    )
    monitor.read()
    assert monitor.latest is None
    monitor.flush()
    assert not (tmp_path / "r").exists()


def test_progress_monitoring_needs_both_tick_durations() -> None:
    config = ExecutorConfig.from_environ(
        {
            "ARGO_PROGRESS_PATCH_TICK_DURATION": "1m",
            "ARGO_PROGRESS_FILE_TICK_DURATION": "3s",
            "ARGOEXEC_RESULT_FILE": "/tmp/r.json",
            "REMOVE_LOCAL_ART_PATH": "true",
        }
    )
    assert config.pod.progress_patch_tick == 60.0
    assert config.pod.progress_file_tick == 3.0
    assert config.pod.result_file == Path("/tmp/r.json")
    assert config.pod.remove_local_art_path
    off = ExecutorConfig.from_environ({"ARGO_PROGRESS_PATCH_TICK_DURATION": "soon"}).pod
    assert off.progress_patch_tick == 0.0
    monitor = ProgressMonitor(
        Path("/nonexistent"),
        FileSink(Path("/nonexistent/r")),
        file_tick=3,
        patch_tick=0,
        done=Stop(),
    )
    assert not monitor.enabled
