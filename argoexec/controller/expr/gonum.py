"""Go's number semantics, shared by expr-lang and govaluate.

Argo evaluates expressions in Go on 64-bit machines: an expr-lang integer is a Go ``int``
(64 bits), so ``+ - *``, unary minus and ``abs`` wrap around on overflow, and a literal or a
``int("...")`` outside int64 is an error. govaluate's numbers are float64, its bitwise operators
convert to int64/uint64 first. Python's integers are unbounded, so every integer result passes
through :func:`wrap_int64`.

A float64 that does not fit the integer type it is converted to (NaN, ±Inf, ``1e30``) is
implementation-defined in Go. We mirror amd64, the architecture Argo's images are mostly run
on: the hardware's "integer indefinite" value, ``-9223372036854775808`` (arm64 saturates).
"""

from __future__ import annotations

import math

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
_MASK64 = (1 << 64) - 1
_TWO_TO_63 = float(1 << 63)


def wrap_int64(value: int) -> int:
    """``value`` as Go's 64-bit ``int`` arithmetic leaves it (two's complement wrap-around)."""
    return ((value - INT64_MIN) & _MASK64) + INT64_MIN


def float_to_int64(value: float) -> int:
    """Go's ``int64(x)`` on amd64: truncation toward zero; out of range or NaN gives MinInt64."""
    if not math.isfinite(value) or not -_TWO_TO_63 <= value < _TWO_TO_63:
        return INT64_MIN
    return int(value)


def float_to_uint64(value: float) -> int:
    """Go's ``uint64(x)`` on amd64, which has no unsigned conversion: below 2^63 the signed
    conversion's bits, otherwise the signed conversion of ``x - 2^63`` with the top bit set."""
    if value < _TWO_TO_63:
        return float_to_int64(value) & _MASK64
    return (float_to_int64(value - _TWO_TO_63) & _MASK64) | (1 << 63)


def go_shift(value: int, count: int, *, left: bool) -> int:
    """``uint64 << uint64`` / ``>>``: a count of 64 or more shifts every bit out."""
    if count >= 64:
        return 0
    return (value << count) & _MASK64 if left else value >> count


def _odd_integer(value: float) -> bool:
    return math.isfinite(value) and value == math.floor(value) and math.fmod(value, 2) != 0


def go_pow(base: float, exponent: float) -> float:
    """Go's ``math.Pow``: never an error — overflow is ±Inf, ``0 ** -1`` is +Inf, a negative
    base with a non-integer exponent is NaN (Python's ``math.pow`` raises for all three)."""
    try:
        return math.pow(base, exponent)
    except OverflowError:
        return -math.inf if base < 0 and _odd_integer(exponent) else math.inf
    except ValueError:
        if base == 0:  # a negative exponent: the pole
            return math.copysign(math.inf, base) if _odd_integer(exponent) else math.inf
        return math.nan


def go_mod(left: float, right: float) -> float:
    """Go's ``math.Mod``: NaN where Python's ``math.fmod`` raises (``x % 0``, ``Inf % y``)."""
    try:
        return math.fmod(left, right)
    except ValueError:
        return math.nan


def go_divide(left: float, right: float) -> float:
    """IEEE float64 division, as Go does it: ``x / 0`` is ±Inf, ``0 / 0`` is NaN."""
    if right == 0:
        if left == 0 or math.isnan(left):
            return math.nan
        return math.copysign(math.inf, left) * math.copysign(1, right)
    return left / right
