"""Processes named by a pid and its start time, so that a pid reused by another process never
counts as the one that was recorded (``/proc``; Linux)."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def _stat_fields(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` from field 3 on (the command name, field 2, may hold spaces and
    parentheses: the split is after its last ')'); None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()


def start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22)."""
    fields = _stat_fields(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def pid_alive(pid: int) -> bool:
    """Whether a process (not a zombie) of that pid exists."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    # An exited child its parent has not reaped yet still answers signal 0.
    fields = _stat_fields(pid)
    return not fields or fields[0] != "Z"


def same_process(pid: int, ticks: str | None) -> bool:
    """Whether ``pid`` is alive and is the process that had start time ``ticks`` (unknown
    ticks: any process of that pid)."""
    if not pid_alive(pid):
        return False
    current = start_ticks(pid)
    return ticks is None or current is None or current == ticks


def kill_session(leader: int, ticks: str | None) -> list[int]:
    """SIGKILL every process of the session ``leader`` started (its pid is the session id), the
    processes that left its process group included; the pids signalled.

    While any process of a session lives, the kernel keeps its id from being reused, so the
    members found are the recorded session's; a live process with the leader's pid and another
    (or an unknown) start time may be someone else's session, which is left alone.
    """
    if pid_alive(leader) and (not ticks or not same_process(leader, ticks)):
        return []  # not surely ours: a live leader whose start time is unknown is left alone
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = _stat_fields(pid)
        # fields: state, ppid, pgrp, session, ...
        if fields is None or len(fields) < 4 or int(fields[3]) != leader or fields[0] == "Z":
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        killed.append(pid)
    return killed
