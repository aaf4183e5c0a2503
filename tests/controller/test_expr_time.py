"""Times and durations in expr-lang (Go's time.Time and time.Duration): subtraction gives a
duration, durations and times compare, and their methods can be called, as Argo's cron `when`
examples do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from argoexec.controller.expr import ExpressionError, evaluate_expr

T = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
ENV = {"t": T, "later": T + timedelta(minutes=7)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(later - t).Seconds()", 420.0),
        ("(later - t).Minutes() > 6", True),
        ("(later - t).Hours() < 1", True),
        ("later > t && t < later", True),
        ("later.Sub(t).Milliseconds()", 420000),
        ("t.Before(later) && later.After(t)", True),
        ("t.Unix()", int(T.timestamp())),
        ("t == nil", False),
    ],
)
def test_time_arithmetic_and_methods(text: str, expected: object) -> None:
    assert evaluate_expr(text, ENV) == expected


def test_a_method_times_do_not_have_is_an_error_naming_it() -> None:
    with pytest.raises(ExpressionError, match="no method Weekday"):
        evaluate_expr("t.Weekday()", ENV)


def test_a_time_minus_a_number_is_an_invalid_operation() -> None:
    with pytest.raises(ExpressionError, match="invalid operation"):
        evaluate_expr("t - 1", ENV)


def test_a_time_minus_nil_names_go_s_types() -> None:
    with pytest.raises(ExpressionError, match=r"invalid operation: time\.Time - <nil>"):
        evaluate_expr("t - nil", ENV)


def test_a_method_called_with_the_wrong_arguments_says_so_in_go_s_words() -> None:
    with pytest.raises(ExpressionError, match=r"too many arguments in call to time\.Time\.Unix"):
        evaluate_expr("t.Unix(3)", ENV)
    with pytest.raises(ExpressionError, match=r"not enough arguments in call to time\.Time\.Sub"):
        evaluate_expr("t.Sub()", ENV)
