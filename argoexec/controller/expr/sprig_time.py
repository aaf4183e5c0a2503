"""Sprig's date basics (`now`, `date`, `dateInZone`, `toDate`, `unixEpoch`) with Go layouts.

Go formats dates by example (`2006-01-02T15:04:05Z07:00`); the layout is translated piece by
piece here because strftime has no unpadded or `_2` forms.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import EvalError


def _offset(moment: datetime, colon: bool, zulu: bool) -> str:
    delta = moment.utcoffset() or timedelta(0)
    if zulu and delta == timedelta(0):
        return "Z"
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{mins:02d}"


def _fraction(moment: datetime, token: str) -> str:
    digits = f"{moment.microsecond:06d}000"[: len(token) - 1]
    if token[1] == "9":
        digits = digits.rstrip("0")
        return "." + digits if digits else ""
    return "." + digits


_PIECES: dict[str, Callable[[datetime], str]] = {
    "2006": lambda t: f"{t.year:04d}",
    "January": lambda t: t.strftime("%B"),
    "Monday": lambda t: t.strftime("%A"),
    "Z07:00": lambda t: _offset(t, colon=True, zulu=True),
    "-07:00": lambda t: _offset(t, colon=True, zulu=False),
    "Z0700": lambda t: _offset(t, colon=False, zulu=True),
    "-0700": lambda t: _offset(t, colon=False, zulu=False),
    "Jan": lambda t: t.strftime("%b"),
    "Mon": lambda t: t.strftime("%a"),
    "MST": lambda t: t.tzname() or "UTC",
    "06": lambda t: f"{t.year % 100:02d}",
    "01": lambda t: f"{t.month:02d}",
    "02": lambda t: f"{t.day:02d}",
    "_2": lambda t: f"{t.day:>2d}",
    "15": lambda t: f"{t.hour:02d}",
    "03": lambda t: f"{(t.hour % 12) or 12:02d}",
    "04": lambda t: f"{t.minute:02d}",
    "05": lambda t: f"{t.second:02d}",
    "PM": lambda t: "PM" if t.hour >= 12 else "AM",
    "pm": lambda t: "pm" if t.hour >= 12 else "am",
    "1": lambda t: str(t.month),
    "2": lambda t: str(t.day),
    "3": lambda t: str((t.hour % 12) or 12),
    "4": lambda t: str(t.minute),
    "5": lambda t: str(t.second),
}
_TOKEN = re.compile(
    r"[.,](?:0+|9+)(?!\d)|" + "|".join(re.escape(k) for k in sorted(_PIECES, key=len, reverse=True))
)


def go_format(moment: datetime, layout: str) -> str:
    """Format `moment` with a Go reference-time layout."""

    def piece(match: re.Match[str]) -> str:
        token = match.group()
        if token[0] in ".,":
            return _fraction(moment, token)
        return _PIECES[token](moment)

    return _TOKEN.sub(piece, layout)


def _as_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return datetime.now(UTC)  # Sprig formats "now" for anything it does not understand


def _zone(name: str) -> timezone | ZoneInfo:
    try:
        return UTC if name in ("", "UTC") else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC  # as Sprig: an unknown zone falls back to UTC


def _to_date(layout: str, text: str) -> datetime:
    pattern = re.escape(layout)
    for token in sorted(_PIECES, key=len, reverse=True):
        pattern = pattern.replace(re.escape(token), "(.+?)")
    if not re.fullmatch(pattern, text):
        raise EvalError(f"toDate(): {text!r} does not match layout {layout!r}")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EvalError(f"toDate(): cannot parse {text!r}") from None


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "now": lambda: datetime.now(UTC),
    "date": lambda layout, value: go_format(_as_time(value), layout),
    "dateInZone": lambda layout, value, zone: go_format(
        _as_time(value).astimezone(_zone(zone)), layout
    ),
    "unixEpoch": lambda value: str(int(_as_time(value).timestamp())),
    "toDate": _to_date,
}
