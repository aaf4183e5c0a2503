"""`when` conditions: govaluate after simple `{{...}}` substitution, as Argo's controller does."""

from __future__ import annotations

import pytest

from argoexec.controller.expr import ExpressionError, evaluate_when

WHEN_CASES = [
    # examples/conditionals.yaml and conditionals-complex.yaml, after substitution
    ("heads == heads", True),
    ("tails == heads", False),
    ("heads != tails", True),
    ("( heads == heads && tails == tails ) || ( heads == tails && tails == heads )", True),
    ("( heads == tails && tails == tails ) || ( heads == tails && tails == heads )", False),
    ("heads == heads && heads == heads", True),
    # numbers are float64, comparisons of numbers and of strings
    ("5 > 3", True),
    ("5 == 5.0", True),
    ("10 < 9", False),
    ("3 >= 3 && 2 <= 1", False),
    ("'b' > 'a'", True),
    ("5 == five", False),
    ("1 + 2 * 3 == 7", True),
    ("(1 + 2) * 3 == 9", True),
    ("2 ** 3 == 8", True),
    ("-1 < 0", True),
    ("10 % 4 == 2", True),
    ("'a' + 1 == 'a1'", True),
    # regexes: examples use `when: "{{item}} =~ '^hello'"`
    ("hello =~ '^hello'", True),
    ("'hello world' =~ '^hello'", True),
    ("goodbye =~ '^hello'", False),
    ("goodbye !~ '^hello'", True),
    # booleans, negation, membership, ternary, coalescing
    ("true", True),
    ("!false", True),
    ("!(1 > 2)", True),
    ("true && false || true", True),
    ("false || false", False),
    ("Succeeded in (Succeeded, Skipped)", True),
    ("Failed in (Succeeded, Skipped)", False),
    ("2 IN (1, 2)", True),
    ("true ? true : false", True),
    ("(1 > 2 ? false : true)", True),
    # quoted values may hold what bare words cannot
    ("'my-value' == 'my-value'", True),
    ("'2024-01-02' < '2024-02-01'", True),
    ("[escaped name] == 'escaped name'", True),
]


@pytest.mark.parametrize(("condition", "expected"), WHEN_CASES)
def test_a_when_condition_evaluates_like_argo(condition: str, expected: bool) -> None:
    assert evaluate_when(condition) is expected


def test_an_empty_when_means_run() -> None:
    assert evaluate_when("") is True


def test_and_short_circuits_past_a_right_side_that_would_fail() -> None:
    assert evaluate_when("false && (x - y == 1)") is False


def test_or_short_circuits_past_a_right_side_that_would_fail() -> None:
    assert evaluate_when("true || (x - y == 1)") is True


def test_the_unused_branch_of_a_ternary_is_not_evaluated() -> None:
    assert evaluate_when("true ? true : (x - y == 1)") is True


WHEN_ERRORS = [
    ("hello world == hello", "Cannot transition token types from VARIABLE [hello] to VARIABLE"),
    ("my-value == my-value", "cannot be used with the modifier '-', it is not a number"),
    ("1.2.3 == 1.2.3", "Unable to parse numeric value '1.2.3' to float64"),
    ("a === b", "Invalid token: '==='"),
    ("heads ==", "Unexpected end of expression"),
    ("(heads == heads", "Unbalanced parenthesis"),
    ("'open == x", "Unclosed string literal"),
    ("heads", "expected a boolean result, got heads"),
    ("5 > five", "Value '5' cannot be used with the comparator '>', it is not a number"),
    ("1 && true", "Value '1' cannot be used with the logical operator '&&', it is not a bool"),
    ("!5", "Value '5' cannot be used with the prefix '!'"),
    # Argo turns bare words into strings after parsing, and a string may not follow a prefix.
    ("!five", "Cannot transition token types from PREFIX [!] to STRING [five]"),
    # A string ends at either quote character, whichever opened it.
    ('"it\'s" == "it\'s"', "Cannot transition token types from STRING [it] to VARIABLE [s]"),
    ("a.B == 1", "No parameter 'a' found."),
    ("a.b == 1", "Unable to access unexported field 'b' in token 'a.b'"),
]


@pytest.mark.parametrize(("condition", "reason"), WHEN_ERRORS)
def test_a_bad_when_condition_fails_with_a_message_naming_it(condition: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_when(condition)
    message = str(caught.value)
    assert f"'when' expression '{condition}'" in message
    assert reason in message
    assert caught.value.dialect == "when"


def test_an_invalid_token_comes_with_argos_quoting_hint() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_when("a === b")
    assert "hint: try wrapping the affected expression in quotes" in str(caught.value)
    assert caught.value.phase == "parse"
