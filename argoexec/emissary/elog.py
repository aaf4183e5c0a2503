"""The emissary's loggers: ``logging`` is imported and configured on the first line logged.

A container that runs its command and exits quietly (the common case) never logs, and importing
``logging`` with our formatters (``traceback``, ``string``, ``typing``, ``datetime``...) would add
milliseconds to the start of every container.
"""

from __future__ import annotations

import _thread

# ``_thread`` rather than ``threading``: the latter's imports alone cost every start milliseconds.
_lock = _thread.allocate_lock()
# The (log format, level name) given by ``configure`` and not yet applied, if any.
_pending: list[tuple[str, str]] = []


def configure(log_format: str | None, level: str | None) -> None:
    """Record ``--log-format``/``--loglevel``; applied to the ``argoexec`` logger on first use."""
    with _lock:
        _pending[:] = [(log_format or "text", level or "info")]


def _apply_pending() -> None:
    # Always under the lock: a thread must not log while another is still installing the handler.
    with _lock:
        if not _pending:
            return
        pending = _pending.pop()
        import logging
        import sys

        from argoexec.logformat import JsonFormatter, TextFormatter, parse_level

        log_format, level = pending
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
        root = logging.getLogger("argoexec")
        root.handlers[:] = [handler]
        try:
            root.setLevel(parse_level(level))
        except ValueError:
            root.setLevel(logging.INFO)
        root.propagate = False


class Logger:
    """The subset of ``logging.Logger`` the emissary uses (printf-style arguments)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def info(self, msg: str, *args: object) -> None:
        self._log(20, msg, args)

    def warning(self, msg: str, *args: object) -> None:
        self._log(30, msg, args)

    def error(self, msg: str, *args: object) -> None:
        self._log(40, msg, args)

    def _log(self, level: int, msg: str, args: tuple[object, ...]) -> None:
        _apply_pending()
        import logging

        logging.getLogger(self.name).log(level, msg, *args, stacklevel=3)
