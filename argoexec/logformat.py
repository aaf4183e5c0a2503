"""Argo's log line formats (``text`` logfmt-like, ``json``) and level names. Stdlib only, so the
emissary formats its lines exactly like every other sub-command (argo-contract.md §10.2)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

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
