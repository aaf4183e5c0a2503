"""Go's `time.Time` and `time.Duration` in expr-lang, for the few expressions that do arithmetic
on times (a CronWorkflow's `when: (now() - cronworkflow.lastScheduledTime).Seconds() > 360`):
a time minus a time is a Duration, a time plus or minus a Duration a time; both compare; and
the methods below can be called on them, as expr-lang calls a Go value's methods."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .errors import EvalError
from .values import go_type

_NANOSECONDS = 1_000_000_000


def _duration_methods(value: timedelta) -> dict[str, Callable[..., Any]]:
    seconds = value.total_seconds()
    return {
        "Seconds": lambda: seconds,
        "Minutes": lambda: seconds / 60,
        "Hours": lambda: seconds / 3600,
        "Milliseconds": lambda: int(seconds * 1000),
        "Nanoseconds": lambda: int(seconds * _NANOSECONDS),
    }


def _time_methods(value: datetime) -> dict[str, Callable[..., Any]]:
    return {
        "Unix": lambda: int(value.timestamp()),
        "Sub": lambda other: subtract(value, other),
        "Before": lambda other: compare(value, other) < 0,
        "After": lambda other: compare(value, other) > 0,
        "Year": lambda: value.year,
    }


def method(value: Any, name: Any) -> Callable[..., Any] | None:
    """The method `name` of a time or duration (None: `value` is neither)."""
    if isinstance(value, datetime):
        table = _time_methods(value)
    elif isinstance(value, timedelta):
        table = _duration_methods(value)
    else:
        return None
    found = table.get(str(name))
    kind = go_type(value)
    if found is None:
        raise EvalError(f"type {kind} has no method {name}")
    wanted = found.__code__.co_argcount

    def call(*args: Any) -> Any:
        if len(args) != wanted:  # as Go's compiler says it, never Python's TypeError
            few = "not enough" if len(args) < wanted else "too many"
            raise EvalError(f"{few} arguments in call to {kind}.{name}")
        return found(*args)

    return call


def is_time(value: Any) -> bool:
    return isinstance(value, datetime | timedelta)


def subtract(left: Any, right: Any) -> Any:
    if isinstance(left, datetime) and isinstance(right, datetime | timedelta):
        return left - right
    if isinstance(left, timedelta) and isinstance(right, timedelta):
        return left - right
    raise EvalError(f"invalid operation: {go_type(left)} - {go_type(right)}")


def add(left: Any, right: Any) -> Any:
    if isinstance(left, datetime | timedelta) and isinstance(right, timedelta):
        return left + right
    if isinstance(left, timedelta) and isinstance(right, datetime):
        return right + left
    raise EvalError(f"invalid operation: {go_type(left)} + {go_type(right)}")


def compare(left: Any, right: Any) -> int:
    both = (isinstance(left, datetime) and isinstance(right, datetime)) or (
        isinstance(left, timedelta) and isinstance(right, timedelta)
    )
    if not both:
        raise EvalError(f"invalid operation: {go_type(left)} < {go_type(right)}")
    return int(left > right) - int(left < right)
