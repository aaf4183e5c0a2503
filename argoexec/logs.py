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

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from artifacts.secrets import redact

LOG_FORMATS = ("text", "json")

# Argo's level names plus the legacy logrus aliases it still accepts.
_LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "trace": logging.DEBUG,
    "info": logging.INFO,
    "print": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.ERROR,
    "panic": logging.ERROR,
}
LEVEL_NAMES = tuple(_LEVELS)

# slog's level names.
_SLOG_NAMES = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARN",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "ERROR",
}

# Attributes every LogRecord has; anything else on a record is an extra field.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def parse_level(name: str) -> int:
    """The logging level for an Argo ``--loglevel`` value (case-insensitive)."""
    try:
        return _LEVELS[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown log level {name!r} (use one of {', '.join(LEVEL_NAMES)})"
        ) from None


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


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


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _logfmt_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    needs_quotes = text == "" or any(c in text for c in ' ="\\') or not text.isprintable()
    return json.dumps(text, ensure_ascii=False) if needs_quotes else text


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "time": _timestamp(record),
        "level": _SLOG_NAMES.get(record.levelno, record.levelname),
        "msg": record.getMessage(),
        "argo": True,
    }
    for key, value in extra_fields(record).items():
        fields.setdefault(key, value)
    if record.exc_text:
        fields["error"] = record.exc_text
    return fields


class TextFormatter(logging.Formatter):
    """slog's text handler: space-separated ``key=value`` pairs, quoted where needed."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())


class JsonFormatter(logging.Formatter):
    """slog's JSON handler: one object per line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str, ensure_ascii=False)


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
