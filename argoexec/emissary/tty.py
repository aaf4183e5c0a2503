"""A TTY main container: the child gets a new pty and session (argo-contract.md §2.3)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import sys
import termios
import threading
import time
import tty
from typing import Any


def spawn(argv: list[str]) -> tuple[int, int]:
    """Fork the child on a new pty (it becomes a session and process-group leader).

    Returns ``(pid, master fd)``. Our terminal goes to raw mode and window-size changes follow.
    """
    pid, master = pty.fork()
    if pid == 0:  # child
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _copy_winsize(master)
    with contextlib.suppress(termios.error, OSError):
        saved = termios.tcgetattr(0)
        tty.setraw(0)
        _restore_at_exit(saved)
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGWINCH, lambda *_: _copy_winsize(master))
    threading.Thread(target=_pump_stdin, args=(master,), daemon=True).start()
    return pid, master


def _copy_winsize(master: int) -> None:
    with contextlib.suppress(OSError):
        size = fcntl.ioctl(1, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)


def _restore_at_exit(saved: list[Any]) -> None:
    import atexit

    atexit.register(lambda: termios.tcsetattr(0, termios.TCSADRAIN, saved))


def _pump_stdin(master: int) -> None:
    with contextlib.suppress(OSError):
        while data := os.read(0, 4096):
            os.write(master, data)


class Copier(threading.Thread):
    """Copies pty output to our stdout when nothing is captured."""

    def __init__(self, master: int) -> None:
        super().__init__(daemon=True)
        self.master = master
        self.last_read = 0.0

    def run(self) -> None:
        with contextlib.suppress(OSError):
            while data := os.read(self.master, 65536):
                self.last_read = time.monotonic()
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
