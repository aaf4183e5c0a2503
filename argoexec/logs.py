"""Executor logging: Argo's line formats on stderr, with secrets redacted.

Argo's executor logs through Go's ``slog`` (argo-contract.md §10.2):

* ``text``: ``time=2024-05-01T10:00:00.000Z level=INFO msg="Save artifact" argo=true name=out``
* ``json``: ``{"time": "…", "level": "INFO", "msg": "Save artifact", "argo": true, "name": "out"}``

Every line carries ``argo=true`` (upstream tests use it to tell executor lines from user output).
Extra fields come from ``logger.info(msg, extra={...})``. :class:`RedactFilter` runs on the
handler, so records from every library (boto3, urllib3, ...) are redacted too: the message, each
extra field and any exception text pass through :func:`artifacts.secrets.redact`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from argoexec.logformat import (
    LEVEL_NAMES,
    LOG_FORMATS,
    JsonFormatter,
    TextFormatter,
    extra_fields,
    parse_level,
)
from artifacts.secrets import redact

__all__ = [
    "LEVEL_NAMES",
    "LOG_FORMATS",
    "JsonFormatter",
    "RedactFilter",
    "TextFormatter",
    "parse_level",
    "setup_logging",
]


def _redact_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(value if isinstance(value, str) else str(value))


class RedactFilter(logging.Filter):
    """Replaces every registered secret value in the message, extra fields and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for key, value in extra_fields(record).items():
            setattr(record, key, _redact_value(value))
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def setup_logging(
    level: str = "info", log_format: str = "text", stream: TextIO | None = None
) -> logging.Handler:
    """Route every log record to ``stream`` (stderr) in Argo's format; returns the handler.

    Replaces any handler a previous call installed, so it is safe to call more than once.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"unknown log format {log_format!r} (use text or json)")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(TextFormatter() if log_format == "text" else JsonFormatter())
    handler.addFilter(RedactFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_argoexec", False)]:
        root.removeHandler(old)
    handler._argoexec = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(parse_level(level))
    # SDK chatter is only useful when debugging the SDK itself.
    for noisy in ("botocore", "boto3", "s3transfer", "urllib3", "google", "git"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler
