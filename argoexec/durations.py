"""Go ``time.Duration`` text, both ways (stdlib only: the emissary uses it too).

Argo's configuration and templates spell durations the Go way (``1m30s``, ``500ms``, ``0``);
``parse_go_duration`` is ``time.ParseDuration`` in seconds, ``format_go_duration`` is
``Duration.String``.
"""

from __future__ import annotations

import re

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
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Seconds in a Go ``time.Duration`` string such as ``1s``, ``10ms`` or ``1m30s``."""
    value = text.strip()
    sign = -1.0 if value.startswith("-") else 1.0
    value = value.lstrip("+-")
    if value == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in _GO_DURATION_PART.finditer(value):
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
