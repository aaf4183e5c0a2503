"""The little of ``threading`` the emissary uses, on the built-in ``_thread``.

``threading`` imports ``functools``, ``collections`` and more: milliseconds at the start of
every container, for a background thread or two and a flag.
"""

from __future__ import annotations

import _thread

# Not imported at run time: ``typing``/``collections.abc`` add milliseconds to every start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


class Done:
    """A flag set once (``threading.Event`` without ``clear``). Waiters block on a lock that
    ``set`` releases, each handing it back at once so that the next waiter wakes too."""

    def __init__(self) -> None:
        self._set = False
        self._guard = _thread.allocate_lock()
        self._gate = _thread.allocate_lock()
        self._gate.acquire()

    def set(self) -> None:
        with self._guard:  # the gate is released exactly once
            if not self._set:
                self._set = True
                self._gate.release()

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float) -> bool:
        """Block until set (True) or ``timeout`` seconds have passed (False)."""
        if self._set:
            return True
        if self._gate.acquire(True, max(0.0, timeout)):
            self._gate.release()
            return True
        return self._set


class Worker:
    """A daemon thread running :meth:`run` (subclass it), with ``is_alive`` and ``join``."""

    def __init__(self) -> None:
        self._running = _thread.allocate_lock()

    def start(self) -> None:
        self._running.acquire()
        _thread.start_new_thread(self._main, ())

    def _main(self) -> None:
        try:
            self.run()
        finally:
            self._running.release()

    def run(self) -> None:
        raise NotImplementedError

    def is_alive(self) -> bool:
        return self._running.locked()

    def join(self, timeout: float) -> None:
        if self._running.acquire(True, max(0.0, timeout)):
            self._running.release()


def start_thread(target: Callable[[], None]) -> None:
    """Run ``target`` on a daemon thread."""
    _thread.start_new_thread(target, ())
