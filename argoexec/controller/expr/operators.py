"""expr-lang's binary and unary operators on plain values (Go runtime semantics)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from . import gotime
from .errors import EvalError
from .gonum import go_divide, go_pow, wrap_int64
from .limits import spend
from .values import equal, go_type, is_int, is_list, is_number, same_kind


def _mismatch(op: str, left: Any, right: Any) -> EvalError:
    return EvalError(f"invalid operation: {go_type(left)} {op} {go_type(right)}")


def _numeric(op: str, left: Any, right: Any) -> None:
    if not (is_number(left) and is_number(right)):
        raise _mismatch(op, left, right)


def _int_or_float(result: Any) -> Any:
    # Two ints give a Go int (64 bits: overflow wraps); anything with a float is a float64.
    return wrap_int64(result) if is_int(result) else result


def add(left: Any, right: Any) -> Any:
    if isinstance(left, str) and isinstance(right, str):
        return left + right
    if gotime.is_time(left) or gotime.is_time(right):
        return gotime.add(left, right)
    _numeric("+", left, right)
    return _int_or_float(left + right)


def subtract(left: Any, right: Any) -> Any:
    if gotime.is_time(left) or gotime.is_time(right):
        return gotime.subtract(left, right)
    _numeric("-", left, right)
    return _int_or_float(left - right)


def multiply(left: Any, right: Any) -> Any:
    _numeric("*", left, right)
    return _int_or_float(left * right)


def divide(left: Any, right: Any) -> float:
    # expr-lang always divides as float64, so 1/0 is +Inf rather than an error.
    _numeric("/", left, right)
    return go_divide(float(left), float(right))


def modulo(left: Any, right: Any) -> int:
    if not (is_int(left) and is_int(right)):
        raise _mismatch("%", left, right)
    if right == 0:
        raise EvalError("integer divide by zero")
    # Go's remainder takes the sign of the dividend.
    remainder: int = abs(left) % abs(right)
    return -remainder if left < 0 else remainder


def power(left: Any, right: Any) -> float:
    # `**` and `^` are float64 whatever the operands (Go's math.Pow).
    _numeric("**", left, right)
    return go_pow(float(left), float(right))


def _ordered(op: str, test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        if is_number(left) and is_number(right):
            return test(*same_kind(left, right))
        if isinstance(left, str) and isinstance(right, str):
            return test(left, right)
        if gotime.is_time(left) or gotime.is_time(right):
            return test(gotime.compare(left, right), 0)
        raise _mismatch(op, left, right)

    return compare


def membership(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    if isinstance(haystack, Mapping):
        return any(equal(key, needle) for key in haystack)
    if is_list(haystack):
        return any(equal(item, needle) for item in haystack)
    raise EvalError(f'operator "in" not defined on {go_type(haystack)}')


def _strings(op: str, test: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def check(left: Any, right: Any) -> bool:
        if isinstance(left, str) and isinstance(right, str):
            return test(left, right)
        raise _mismatch(op, left, right)

    return check


@lru_cache(maxsize=256)
def compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Go RE2 pattern; the common subset is identical in Python's `re`."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise EvalError(f"error parsing regexp: {exc}: `{pattern}`") from None


def make_range(left: Any, right: Any) -> list[int]:
    if not (is_int(left) and is_int(right)):
        raise _mismatch("..", left, right)
    spend(max(right - left + 1, 0))
    return list(range(left, right + 1))


BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": add,
    "-": subtract,
    "*": multiply,
    "/": divide,
    "%": modulo,
    "**": power,
    "^": power,
    "==": equal,
    "!=": lambda left, right: not equal(left, right),
    "<": _ordered("<", lambda a, b: a < b),
    ">": _ordered(">", lambda a, b: a > b),
    "<=": _ordered("<=", lambda a, b: a <= b),
    ">=": _ordered(">=", lambda a, b: a >= b),
    "in": membership,
    "contains": _strings("contains", lambda a, b: b in a),
    "startsWith": _strings("startsWith", str.startswith),
    "endsWith": _strings("endsWith", str.endswith),
    "matches": _strings("matches", lambda a, b: compile_regex(b).search(a) is not None),
    "..": make_range,
}


def negate(value: Any) -> Any:
    if not is_number(value):
        raise EvalError(f"invalid operation: - {go_type(value)}")
    return _int_or_float(-value)  # -MinInt64 is MinInt64 again


def identity(value: Any) -> Any:
    if not is_number(value):
        raise EvalError(f"invalid operation: + {go_type(value)}")
    return value


def logical_not(value: Any) -> bool:
    if not isinstance(value, bool):
        raise EvalError(f"invalid operation: ! {go_type(value)} (non-bool value)")
    return not value


UNARY: dict[str, Callable[[Any], Any]] = {
    "-": negate,
    "+": identity,
    "!": logical_not,
    "not": logical_not,
}
