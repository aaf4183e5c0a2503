"""Numbers as Argo's Go evaluators have them: expr-lang integers are 64-bit Go ints (overflow
wraps, literals and `int("...")` outside int64 are errors, `**` and `/` are float64), JSON numbers
are float64, Sprig's integer math is int64, and govaluate (`when`) is float64 throughout with
int64/uint64 bitwise operators. Out-of-range float conversions follow amd64."""

from __future__ import annotations

import math
from typing import Any

import pytest

from argoexec.controller.expr import ExpressionError, evaluate_expr, evaluate_when
from argoexec.controller.expr.values import render_value

MAX = 9223372036854775807
MIN = -9223372036854775808

EXPR_CASES: list[tuple[str, Any]] = [
    # + - * on two ints wrap around at 64 bits
    ("9223372036854775807 + 1", MIN),
    ("-9223372036854775807 - 2", MAX),
    ("9223372036854775807 * 2", -2),
    ("4294967296 * 4294967296", 0),
    ("3037000500 * 3037000500", -9223372036709301616),
    ("sum([9223372036854775807, 1])", MIN),
    ("reduce([9223372036854775807, 1], #acc + #)", MIN),
    # with a float on either side the result is a float64, never wrapped
    ("9223372036854775807 + 1.0", 9.223372036854775808e18),
    ("9223372036854775807 * 2.0", 1.8446744073709552e19),
    # unary minus and abs of MinInt64 are MinInt64 again
    ("-(-9223372036854775807 - 1)", MIN),
    ("abs(-9223372036854775807 - 1)", MIN),
    ("abs(-5)", 5),
    ("abs(-2.5)", 2.5),
    # the largest literal is fine, and so is its negation
    ("9223372036854775807", MAX),
    ("-9223372036854775807", -MAX),
    ("0x7fffffffffffffff", MAX),
    # ** and ^ are always float64 (Go's math.Pow): overflow is ±Inf, never an error
    ("2 ** 3", 8.0),
    ("2 ^ 62", 4.611686018427388e18),
    ("2 ** 64", 1.8446744073709552e19),
    ("2 ** 1024", math.inf),
    ("(-2) ** 1025", -math.inf),
    ("0 ** -1", math.inf),
    ("10 ** -400", 0.0),
    # / is always float64: x / 0 is ±Inf
    ("7 / 2", 3.5),
    ("4 / 2", 2.0),
    ("1 / 0", math.inf),
    ("-1 / 0", -math.inf),
    # % is Go's: ints only, the sign of the dividend, MinInt64 % -1 is 0
    ("7 % 3", 1),
    ("-7 % 3", -1),
    ("7 % -3", 1),
    ("(-9223372036854775807 - 1) % -1", 0),
    # int(): floats truncate; NaN, ±Inf and floats outside int64 give MinInt64 (amd64)
    ("int(2.9)", 2),
    ("int(-2.9)", -2),
    ("int(1e30)", MIN),
    ("int(-1e30)", MIN),
    ("int(9.3e18)", MIN),
    ("int(1 / 0)", MIN),
    ("int(0 / 0)", MIN),
    ("asInt(1e19)", MIN),
    ("int('9223372036854775807')", MAX),
    ("int('-9223372036854775808')", MIN),
    ("int('+42')", 42),
    # max/min compare an int with a float as float64 and keep the winner's own type
    ("max(1, 2.5, 2)", 2.5),
    ("max(3, 2.5)", 3),
    ("min([3, 1.0, 1])", 1.0),
    ("min(9007199254740993, 9007199254740992.0)", 9007199254740993),
    # comparisons between an int and a float convert the int to float64
    ("9007199254740993 == 9007199254740992.0", True),
    ("9007199254740993 > 9007199254740992.0", False),
    ("9223372036854775807 == 9223372036854775808.0", True),
    # JSON numbers are float64 (Go's json.Unmarshal into any)
    ("fromJSON('12345678901234567890')", 1.2345678901234567e19),
    ("type(fromJSON('1'))", "float"),
    ("type(jsonpath('{\"a\": 1}', '$.a'))", "float"),
    ("int(fromJSON('[5]')[0]) % 2", 1),
    # Sprig's integer math is int64 as well
    ("sprig.add(9223372036854775807, 1)", MIN),
    ("sprig.add1(9223372036854775807)", MIN),
    ("sprig.sub(-9223372036854775807 - 1, 1)", MAX),
    ("sprig.mul(4294967296, 4294967296)", 0),
    ("sprig.div(-9223372036854775807 - 1, -1)", MIN),
    ("sprig.int('99999999999999999999')", 0),
    ("sprig.int(1e30)", MIN),
    ("sprig.divf(1, 0)", math.inf),
]


@pytest.mark.parametrize(("expression", "expected"), EXPR_CASES)
def test_an_expr_number_behaves_as_in_go(expression: str, expected: Any) -> None:
    result = evaluate_expr(expression, {})
    assert result == expected
    assert type(result) is type(expected)


def test_a_nan_result_stays_nan() -> None:
    assert math.isnan(evaluate_expr("(-8) ** 0.5", {}))
    assert math.isnan(evaluate_expr("0 / 0", {}))


def test_a_wrapped_integer_renders_as_argo_writes_it() -> None:
    assert render_value(evaluate_expr("9223372036854775807 + 1", {})) == "-9223372036854775808"
    assert render_value(evaluate_expr("2 ** 64", {})) == "1.8446744073709552e+19"


EXPR_ERRORS = [
    # literals that do not fit int64 / float64 are refused when parsed, as strconv refuses them
    (
        "9223372036854775808",
        'invalid integer literal: strconv.ParseInt: parsing "9223372036854775808": '
        "value out of range",
    ),
    ("-9223372036854775808", "invalid integer literal"),
    ("99999999999999999999 > 0", "invalid integer literal"),
    ("0x8000000000000000", "invalid hex literal"),
    ("0b" + "1" * 64, "invalid binary literal"),
    ("1e309", 'invalid float literal: strconv.ParseFloat: parsing "1e309": value out of range'),
    # int() of a string outside int64 (strconv.Atoi)
    ("int('9223372036854775808')", "invalid operation: int(9223372036854775808)"),
    ("asInt('-9223372036854775809')", "invalid operation: int(-9223372036854775809)"),
    # % is for ints only, and by zero is Go's runtime error
    ("7 % 0", "integer divide by zero"),
    ("7.5 % 2", "invalid operation: float64 % int"),
    ("fromJSON('[5]')[0] % 2", "invalid operation: float64 % int"),
    ("fromJSON('NaN')", "fromJSON()"),
]


@pytest.mark.parametrize(("expression", "reason"), EXPR_ERRORS)
def test_an_expr_number_error_is_argos(expression: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as failure:
        evaluate_expr(expression, {})
    assert reason in str(failure.value)


WHEN_CASES = [
    # everything is float64: no wrap, Inf and NaN instead of errors
    ("9223372036854775807 + 1 == 9223372036854775808", True),
    ("99999999999999999999 == 99999999999999999999", True),
    ("10 ** 400 > 1", True),
    ("2 ** 1024 > 0", True),
    ("0 ** -1 > 1", True),
    ("1 / 0 > 1", True),
    ("5 % 0 != 5 % 0", True),  # NaN
    ("1 % 0 == 1", False),
    ("(-1) ** 0.5 != (-1) ** 0.5", True),
    # bitwise operators convert to int64 ...
    ("(1 | 2) == 3", True),
    ("(6 & 3) == 2", True),
    ("(6 ^ 3) == 5", True),
    ("~0 == -1", True),
    ("(18446744073709551616 | 0) == -9223372036854775808", True),
    # ... and shifts to uint64: 64 or more shifts everything out
    ("(1 << 3) == 8", True),
    ("(1 << 63) == 9223372036854775808", True),
    ("(1 << 64) == 0", True),
    ("(1 << 100) == 0", True),
    ("(-1 >> 1) == 9223372036854775807", True),
    ("(256 >> 100) == 0", True),
]


@pytest.mark.parametrize(("condition", "expected"), WHEN_CASES)
def test_a_when_number_behaves_as_in_govaluate(condition: str, expected: bool) -> None:
    assert evaluate_when(condition) is expected


def test_a_when_number_too_large_for_float64_is_a_syntax_error() -> None:
    digits = "9" * 400
    with pytest.raises(ExpressionError) as failure:
        evaluate_when(f"{digits} > 1")
    assert f"Unable to parse numeric value '{digits}' to float64" in str(failure.value)


def test_a_huge_shift_count_is_bounded() -> None:
    # Unbounded ints would try to build a number of 2**60 bits here.
    assert evaluate_when("(1 << 1152921504606846976) == 0") is True


@pytest.mark.parametrize(
    "expression",
    ["0..1000000", "len(0..100000000)", 'repeat("ab", 500000)', "sprig.until(100000000)",
     "sprig.untilStep(0, 10000000, 2)", 'sprig.repeat(100000000, "x")'],
)  # fmt: skip
def test_ranges_and_repetitions_past_expr_langs_memory_budget_fail(expression: str) -> None:
    with pytest.raises(ExpressionError, match="memory budget exceeded"):
        evaluate_expr(expression, {})


def test_ranges_and_repetitions_within_the_budget_are_made() -> None:
    assert len(evaluate_expr("0..999998", {})) == 999_999
    assert evaluate_expr('repeat("ab", 3)', {}) == "ababab"
    assert evaluate_expr("sprig.until(3)", {}) == [0, 1, 2]
    with pytest.raises(ExpressionError, match="expected positive integer"):
        evaluate_expr('repeat("ab", -1)', {})
