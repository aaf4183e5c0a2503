"""A TTY main container: the child gets a new pty and session (argo-contract.md §2.3)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import sys
import time

from argoexec.emissary.threads import Worker, start_thread

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal  # the same functions and numbers, typed (_signal has no stubs)
else:
    import _signal  # `signal` adds enums: importing `enum` costs every start milliseconds

# Linux's terminal ioctls and flags (asm-generic, as on x86-64 and arm64). The `termios` module
# is not used: the static in-container interpreter is built without it (it is an extension
# module), and the emissary needs only these.
TCGETS, TCSETSW, TCSETSF = 0x5401, 0x5403, 0x5404  # get; set after output drains / flushed
TIOCGWINSZ, TIOCSWINSZ = 0x5413, 0x5414
# The kernel's struct termios: four tcflag_t, c_line, c_cc[19].
_TERMIOS = struct.Struct("=IIIIB19s")
_BRKINT, _INPCK, _ISTRIP, _ICRNL, _IXON = 0o2, 0o20, 0o40, 0o400, 0o2000
_OPOST = 0o1
_CSIZE, _CS8, _PARENB = 0o60, 0o60, 0o400
_ISIG, _ICANON, _ECHO, _IEXTEN = 0o1, 0o2, 0o10, 0o100000
_VTIME, _VMIN = 5, 6


def spawn(argv: list[str]) -> tuple[int, int]:
    """Fork the child on a new pty (it becomes a session and process-group leader).

    Returns ``(pid, master fd)``. Our terminal goes to raw mode and window-size changes follow.
    """
    pid, master = os.forkpty()
    if pid == 0:  # child
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _copy_winsize(master)
    with contextlib.suppress(OSError):
        saved = fcntl.ioctl(0, TCGETS, bytes(_TERMIOS.size))
        fcntl.ioctl(0, TCSETSF, raw_mode(saved))
        _restore_at_exit(saved)
    with contextlib.suppress(ValueError):
        _signal.signal(_signal.SIGWINCH, lambda *_: _copy_winsize(master))
    start_thread(lambda: _pump_stdin(master))
    return pid, master


def _copy_winsize(master: int) -> None:
    with contextlib.suppress(OSError):
        size = fcntl.ioctl(1, TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(master, TIOCSWINSZ, size)


def raw_mode(attributes: bytes) -> bytes:
    """The terminal attributes ``attributes`` (a kernel struct termios) in raw mode: no line
    editing, echo, signal keys or output processing; reads return each byte (as ``tty.setraw``)."""
    iflag, oflag, cflag, lflag, line, cc = _TERMIOS.unpack(attributes)
    iflag &= ~(_BRKINT | _ICRNL | _INPCK | _ISTRIP | _IXON)
    oflag &= ~_OPOST
    cflag = (cflag & ~(_CSIZE | _PARENB)) | _CS8
    lflag &= ~(_ECHO | _ICANON | _IEXTEN | _ISIG)
    chars = bytearray(cc)
    chars[_VMIN], chars[_VTIME] = 1, 0
    return _TERMIOS.pack(iflag, oflag, cflag, lflag, line, bytes(chars))


def _restore_at_exit(saved: bytes) -> None:
    import atexit

    def restore() -> None:
        with contextlib.suppress(OSError):
            fcntl.ioctl(0, TCSETSW, saved)

    atexit.register(restore)


def _pump_stdin(master: int) -> None:
    with contextlib.suppress(OSError):
        while data := os.read(0, 4096):
            os.write(master, data)


class Copier(Worker):
    """Copies pty output to our stdout when nothing is captured."""

    def __init__(self, master: int) -> None:
        super().__init__()
        self.master = master
        self.last_read = 0.0

    def run(self) -> None:
        with contextlib.suppress(OSError):
            while data := os.read(self.master, 65536):
                self.last_read = time.monotonic()
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
