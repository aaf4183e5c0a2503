"""Timing and peak-memory measurement of child processes, and run alternation.

Peak RSS comes from ``wait4`` (the kernel's ``ru_maxrss``). For workers it is taken one level
down, inside ``bench.worker`` (see its docstring), because a child's ``ru_maxrss`` also counts the
RSS of the process it was forked from, here the bench itself with boto3 loaded. Every child
started here is tracked so an interrupted run kills it by PID before the bench unwinds.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
KIB = 1024

BaseT = TypeVar("BaseT")
OursT = TypeVar("OursT")

_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class Run:
    """One measured run: wall time, peak RSS in KiB, CPU seconds (user + system) of the client
    side and, when known, of the S3 server during the run."""

    wall_seconds: float
    peak_rss_kib: int
    cpu_seconds: float = 0.0
    server_cpu_seconds: float | None = None


@dataclass(frozen=True)
class WorkerRun(Run):
    """A worker run: also the time of the save/load call itself and the worker's report."""

    seconds: float = 0.0
    report: dict[str, Any] = field(default_factory=dict)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's own process group (a worker's job runs in a forked grandchild)."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError, subprocess.TimeoutExpired):
            proc.wait(10)


def kill_children() -> None:
    """Kill every child still running (used on interrupt), each by its process group id."""
    for proc in list(_children.values()):
        _kill(proc)
    _children.clear()


@contextlib.contextmanager
def _tracked(proc: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    _children[proc.pid] = proc
    try:
        yield proc
    finally:
        _kill(proc)
        _children.pop(proc.pid, None)


def _reap(proc: subprocess.Popen[bytes]) -> tuple[int, int, float]:
    """Wait for ``proc`` with ``wait4``: exit code, ``ru_maxrss`` (KiB on Linux), CPU seconds."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, int(usage.ru_maxrss), usage.ru_utime + usage.ru_stime


def run_command(argv: list[str], *, log: Path, cwd: Path | None = None) -> Run:
    """Run a baseline command (e.g. GNU tar) and time it from spawn to exit."""
    with log.open("ab") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd, start_new_session=True
        )
        with _tracked(proc):
            code, rss, cpu = _reap(proc)
        wall = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"{argv[0]} exited with {code}; see {log}")
    return Run(wall_seconds=wall, peak_rss_kib=rss, cpu_seconds=cpu)


def run_worker(job: dict[str, Any], *, log: Path) -> WorkerRun:
    """Run ``python -m bench.worker`` on ``job``; its stderr is appended to ``log``."""
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": pythonpath}
    with log.open("ab") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=REPO,
            env=env,
            start_new_session=True,
        )
        with _tracked(proc):
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(job).encode())
            proc.stdin.close()
            out = proc.stdout.read()
            proc.stdout.close()
            code, rss, cpu = _reap(proc)
        wall = time.perf_counter() - start
    if code != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"worker {job['op']} exited with {code}; stderr tail:\n{tail}")
    report = json.loads(out.decode().strip().splitlines()[-1])
    # ``rss`` here includes the bench's own RSS at fork time; the worker measures its job cleanly.
    report["outer_ru_maxrss_kib"] = rss
    return WorkerRun(
        wall_seconds=wall,
        peak_rss_kib=int(report["ru_maxrss_kib"]),
        cpu_seconds=cpu,
        seconds=float(report["seconds"]),
        report=report,
    )


def alternate(
    runs: int, baseline: Callable[[int], BaseT], ours: Callable[[int], OursT]
) -> tuple[list[BaseT], list[OursT]]:
    """Baseline then ours, ``runs`` times, so slow drifts in the machine hit both equally."""
    base: list[BaseT] = []
    mine: list[OursT] = []
    for index in range(runs):
        base.append(baseline(index))
        mine.append(ours(index))
    return base, mine


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def mib(kib: int) -> float:
    return kib / KIB


def interrupt_on_signals() -> None:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt so cleanup (server, temp dirs) always runs.

    SIGINT is set explicitly because a shell starts background jobs with SIGINT ignored."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
