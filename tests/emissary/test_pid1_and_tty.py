"""The emissary as PID 1 of a container (reaping orphans) and with a terminal (a pty child)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

from argoexec.controller.sandbox import Mount
from tests.emissary.conftest import REPO, Emissary
from tests.sandboxing import container_argv

# Counts zombie processes in the sandbox's PID namespace (state Z in /proc/<pid>/stat).
COUNT_ZOMBIES = (
    "n=0; for f in /proc/[0-9]*/stat; do "
    "s=$(sed 's/.*) //' $f 2>/dev/null | cut -d' ' -f1); [ \"$s\" = Z ] && n=$((n+1)); done; "
    "echo zombies=$n"
)


def test_orphans_of_the_child_are_reaped_when_the_emissary_is_pid_1(
    emissary: Emissary, tmp_path: Path
) -> None:
    # The grandchild outlives its parent, is re-parented to PID 1 (the emissary) and exits.
    script = f"sh -c 'sleep 0.2 &'; sleep 1; {COUNT_ZOMBIES}"
    command = [sys.executable, "-m", "argoexec.emissary.main", "--", "sh", "-c", script]
    mounts = [Mount(emissary.root, "/var/run/argo")]
    argv = container_argv(command, mounts, work=tmp_path, as_pid_1=True)
    env = emissary.env() | {"ARGOEXEC_VAR_RUN_DIR": "/var/run/argo", "PYTHONPATH": str(REPO)}
    result = subprocess.run(argv, env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(b"zombies=0")


def test_a_child_on_a_terminal_gets_a_pty_of_its_own(emissary: Emissary, tmp_path: Path) -> None:
    env = emissary.env()
    command = [sys.executable, "-m", "argoexec.emissary.main", "--", "sh", "-c"]
    script = "test -t 0 && test -t 1 && echo on-a-tty; tty"
    pid, master = pty.fork()
    if pid == 0:  # the emissary's stdin/stdout are a terminal, as with `tty: true`
        os.chdir(emissary.work)
        os.execve(sys.executable, [*command, script], env)
    output = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(master)
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert b"on-a-tty" in output
    assert emissary.exitcode() == "0"
    captured = emissary.file("ctr", "main", "stdout").read_bytes()
    assert b"on-a-tty" in captured
    assert b"/dev/pts/" in captured  # the child's own pty, not the emissary's terminal


def test_raw_mode_is_what_tty_setraw_makes() -> None:
    # The emissary sets raw mode through ioctls (the static interpreter has no termios); the
    # result must be the attributes the stdlib's tty.setraw gives the same terminal.
    import fcntl
    import termios
    import tty as stdlib_tty

    from argoexec.emissary import tty

    master, follower = pty.openpty()
    try:
        saved = fcntl.ioctl(follower, tty.TCGETS, bytes(tty._TERMIOS.size))
        fcntl.ioctl(follower, tty.TCSETSF, tty.raw_mode(saved))
        ours = termios.tcgetattr(follower)
        fcntl.ioctl(follower, tty.TCSETSF, saved)
        assert termios.tcgetattr(follower) != ours  # a fresh pty is not raw
        stdlib_tty.setraw(follower)
        assert termios.tcgetattr(follower) == ours
    finally:
        os.close(master)
        os.close(follower)
