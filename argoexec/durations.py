"""Go time text, both ways: durations and RFC 3339 timestamps (stdlib only: the emissary uses
it too).

Argo's configuration and templates spell durations the Go way (``1m30s``, ``500ms``, ``0``);
``parse_go_duration`` is ``time.ParseDuration`` in seconds, ``format_go_duration`` is
``Duration.String``. Timestamps (status times, ``ARGO_DEADLINE``, ``creationTimestamp``) are
Go's ``time.RFC3339``: ``rfc3339`` writes them, ``parse_rfc3339`` and ``parse_deadline`` read
them. ``datetime`` is imported only when a timestamp is handled: it would cost every emissary
start milliseconds.
"""

from __future__ import annotations

from argoexec.contract import ZERO_DEADLINE

# Read by mypy only (the ``typing`` import is left out of the emissary's start, as ``datetime``).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

_GO_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # Go accepts both the micro sign and the Greek mu
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
# Compiled on first use (``re``'s cache): importing ``re`` would cost every emissary start
# milliseconds, and most never parse a duration.
_GO_DURATION_PART = r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)"


def parse_go_duration(text: str) -> float:
    """Seconds in a Go ``time.Duration`` string such as ``1s``, ``10ms`` or ``1m30s``."""
    import re

    value = text.strip()
    sign = -1.0 if value.startswith("-") else 1.0
    value = value.lstrip("+-")
    if value == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in re.finditer(_GO_DURATION_PART, value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _GO_DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or pos != len(value):
        raise ValueError(f"invalid duration {text!r}")
    return sign * total


_UNITS = (("h", 3600 * 10**9), ("m", 60 * 10**9))


def _fraction(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = f"{rest:0{len(str(unit)) - 1}d}".rstrip("0")
    return f"{whole}.{digits}"


def format_go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String`` (``1m0s``, ``3s``, ``1.5s``, ``500ms``, ``0s``)."""
    nanos = round(seconds * 10**9)
    if nanos == 0:
        return "0s"
    sign, nanos = ("-", -nanos) if nanos < 0 else ("", nanos)
    if nanos < 10**9:
        for suffix, unit in (("ms", 10**6), ("µs", 10**3), ("ns", 1)):
            if nanos >= unit:
                return f"{sign}{_fraction(nanos, unit)}{suffix}"
    text = ""
    for suffix, unit in _UNITS:
        if nanos >= unit or text:
            count, nanos = divmod(nanos, unit)
            text += f"{count}{suffix}"
    return f"{sign}{text}{_fraction(nanos, 10**9)}s"


def rfc3339(
    moment: datetime | float | None, *, keep_zone: bool = False, precise: bool = False
) -> str:
    """Go's ``time.RFC3339`` text: whole seconds, UTC written as ``Z``.

    ``moment`` is a ``datetime`` (a naive one is UTC) or a Unix time; None is Go's zero time.
    Kubernetes timestamps (``metav1.Time``) are always UTC; ``keep_zone`` writes an aware moment
    in its own offset instead (``+01:00``), as Go formats a time in its location (a
    CronWorkflow's scheduled time). ``precise`` keeps microseconds (Go's RFC3339Nano, for
    statuses a program reads back, where whole seconds would reorder events).
    """
    from datetime import UTC, datetime

    if moment is None:
        return ZERO_DEADLINE
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not keep_zone:
        moment = moment.astimezone(UTC)
    text = moment.isoformat(timespec="microseconds" if precise else "seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 timestamp (``Z`` or an offset; one without is taken as UTC), always aware;
    ValueError if ``text`` is not one."""
    from datetime import UTC, datetime

    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def epoch_seconds(text: object) -> float | None:
    """An RFC 3339 timestamp as seconds since the epoch; None if `text` is not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_rfc3339(text).timestamp()
    except ValueError:
        return None


def parse_deadline(text: str | None) -> datetime | None:
    """``ARGO_DEADLINE``: None when empty or Go's zero time (no deadline); ValueError if it is
    not an RFC 3339 timestamp."""
    if not text or text.startswith(ZERO_DEADLINE[:10]):
        return None
    return parse_rfc3339(text)
