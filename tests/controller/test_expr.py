"""expr-lang (`{{= ... }}`, `retryStrategy.expression`) as Argo's controller evaluates it."""

from __future__ import annotations

import math
from typing import Any

import pytest

from argoexec.controller.expr import (
    ExpressionError,
    evaluate_condition,
    evaluate_expr,
    evaluate_when,
    expand_env,
    render_value,
)

ENV: dict[str, Any] = {
    "inputs": {
        "parameters": {
            "num": "4",
            "ratio": "2.5",
            "padded": "  spaced out  ",
            "json": '{"some": {"path": "found", "list": [10, 20, 30]}}',
            "my-param": "hyphenated",
            "x": "y",
        }
    },
    "steps": {
        "flip-coin": {"outputs": {"result": "heads"}},
        "heads": {"outputs": {"result": "it was heads", "artifacts": {"result": "art-h"}}},
        "tails": {"outputs": {"result": "it was tails"}},
    },
    "tasks": {"gen": {"outputs": {"result": "[1, 2, 3]"}}},
    "lastRetry": {"exitCode": "2", "status": "Failed", "duration": "3"},
    "item": {"name": "alpha", "size": 3},
    "workflow": {"name": "wf-abc", "status": "Succeeded"},
    "retries": "1",
}

UPSTREAM_CASES = [
    # docs/variables.md
    ("[1, 2]", [1, 2]),
    ("filter([1, 2], { # > 1})", [2]),
    ("map([1, 2], { # * 2 })", [2, 4]),
    ("asInt(inputs.parameters['num'])", 4),
    ("asFloat(inputs.parameters.ratio)", 2.5),
    ("string(1)", "1"),
    ("toJson([1, 2])", "[1,2]"),
    ("jsonpath(inputs.parameters.json, '$.some.path')", "found"),
    ("sprig.trim(inputs.parameters.padded)", "spaced out"),
    # examples: expression tags, conditional parameters/artifacts, retry expressions
    ("asInt(inputs.parameters.num) * 2", 8),
    ("inputs.parameters.x == 'y' ? 'a' : 'b'", "a"),
    (
        "steps['flip-coin'].outputs.result == 'heads' ? steps.heads.outputs.result"
        " : steps.tails.outputs.result",
        "it was heads",
    ),
    (
        "steps['flip-coin'].outputs.result == 'tails' ? 'no'"
        " : steps.heads.outputs.artifacts.result",
        "art-h",
    ),
    ("asInt(lastRetry.exitCode) > 1", True),
    ("lastRetry.exitCode != '2'", False),
    (
        "lastRetry.status == 'Error' or (lastRetry.status == 'Failed' and "
        "asInt(lastRetry.exitCode) not in [1])",
        True,
    ),
    # fromJSON's numbers are float64 (Go's json.Unmarshal): `%` needs int() first.
    ("toJson(filter(fromJSON(tasks.gen.outputs.result), {int(#) % 2 == 1}))", "[1,3]"),
    ("inputs.parameters['my-param']", "hyphenated"),
    ("item.name + '-' + string(item.size)", "alpha-3"),
    ("sprig.int(retries) + 1", 2),
    ("workflow.status == 'Succeeded'", True),
]

SEMANTICS_CASES = [
    ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9),
    ("10 - 4 - 3", 3),
    ("2 ** 3 ** 2", 512.0),
    ("-2 ** 2", -4.0),
    ("7 / 2", 3.5),
    ("-7 % 3", -1),
    ("1 == 1.0", True),
    ("'3' == '3'", True),
    ("'3' == 3", False),
    ("'ab' + 'cd'", "abcd"),
    ("'b' > 'a'", True),
    ("not true", False),
    ("!false && true", True),
    ("true || false && false", True),
    ("(1 < 2) == true", True),
    ("1 < 2 < 3", True),
    ("3 in [1, 2, 3]", True),
    ("'name' in item", True),
    ("'zzz' not in item", True),
    ("'hello world' contains 'lo w'", True),
    ("'hello' startsWith 'he' and 'hello' endsWith 'lo'", True),
    ("'abc123' matches '^[a-z]+[0-9]+$'", True),
    ("'abc' not matches '^[0-9]'", True),
    ("nil ?? 'fallback'", "fallback"),
    ("inputs.parameters.missing ?? 'default'", "default"),
    ("item?.name", "alpha"),
    ("nil?.name.deeper", None),
    ("inputs.parameters.missing == nil", True),
    ("[1, 2, 3][0]", 1),
    ("[1, 2, 3][-1]", 3),
    ("[1, 2, 3, 4][1:3]", [2, 3]),
    ("[1, 2, 3, 4][:2]", [1, 2]),
    ("'abcdef'[2:]", "cdef"),
    ("1..4", [1, 2, 3, 4]),
    ("{'a': 1, b: 2}.b", 2),
    ("{'a': 1}['a']", 1),
    ("len('abc') + len([1, 2]) + len({'a': 1})", 6),
    ("all([2, 4], {# % 2 == 0})", True),
    ("any([1, 2], # > 1)", True),
    ("none([1, 2], # > 5)", True),
    ("one([1, 2, 3], # == 2)", True),
    ("count([1, 2, 3], # > 1)", 2),
    ("map([{'n': 1}, {'n': 2}], .n)", [1, 2]),
    ("map([5, 6], #index)", [0, 1]),
    ("find([1, 2, 3], # > 1)", 2),
    ("findIndex([1, 2, 3], # > 1)", 1),
    ("reduce([1, 2, 3], #acc + #, 10)", 16),
    ("sum([1, 2, 3])", 6),
    ("sortBy([3, 1, 2], #)", [1, 2, 3]),
    ("[1, 2, 3] | filter(# > 1) | map(# * 10)", [20, 30]),
    ("first([7, 8])", 7),
    ("last([7, 8])", 8),
    ("keys({'a': 1})", ["a"]),
    ("values({'a': 1})", [1]),
    ("abs(-3) + ceil(1.2) + floor(1.8) + round(2.5)", 3 + 2.0 + 1.0 + 3.0),
    ("max(1, 5, 3) + min([4, 2])", 7),
    ("upper('a') + lower('B') + trim('  c  ')", "Abc"),
    ("split('a,b,c', ',')", ["a", "b", "c"]),
    ("join(['a', 'b'], '-')", "a-b"),
    ("indexOf('hello', 'l')", 2),
    ("replace('a-b', '-', '+')", "a+b"),
    ("int('42') + int(3.9)", 45),
    ("float('1.5')", 1.5),
    ("let x = 2; x * x", 4),
    ("true ? 1 : false ? 2 : 3", 1),
    ("0x10 + 0b11 + 1_000", 1019),
    ("1e3", 1000.0),
    ("`raw\\n`", "raw\\n"),
    ("'esc\\tape'", "esc\tape"),
    ("// comment\n1 + /* inline */ 1", 2),
]


@pytest.mark.parametrize(("expression", "expected"), UPSTREAM_CASES + SEMANTICS_CASES)
def test_an_expression_evaluates_like_argo(expression: str, expected: Any) -> None:
    result = evaluate_expr(expression, ENV)
    assert result == expected
    assert type(result) is type(expected)


def test_whitespace_around_an_expression_tag_is_ignored() -> None:
    assert evaluate_expr("  asInt(inputs.parameters.num) + 1 ", ENV) == 5


def test_and_does_not_evaluate_its_right_side_when_the_left_is_false() -> None:
    assert evaluate_expr("false && asInt('not a number') > 1", ENV) is False
    assert evaluate_expr("true || nosuchname", ENV) is True


def test_the_unused_branch_of_a_ternary_is_not_evaluated() -> None:
    assert evaluate_expr("true ? 'ok' : asInt('boom')", ENV) == "ok"


def test_nil_coalescing_does_not_evaluate_its_right_side_when_the_left_is_set() -> None:
    assert evaluate_expr("inputs.parameters.num ?? asInt('boom')", ENV) == "4"


def test_a_flat_argo_scope_expands_into_the_nested_environment() -> None:
    env = expand_env({"inputs.parameters": '[{"name":"x"}]', "inputs.parameters.x": "7"})
    assert evaluate_expr("asInt(inputs.parameters.x)", env) == 7


def test_the_environment_may_supply_its_own_functions() -> None:
    assert evaluate_expr("double(21)", {"double": lambda v: v * 2}) == 42


ERROR_CASES = [
    ("asInt(inputs.parameters.num) +", "unexpected end of expression", "parse"),
    ("1 +* 2", "unexpected token '*'", "parse"),
    ("'unterminated", "literal not terminated", "parse"),
    ("(1 + 2", "unexpected end of expression", "parse"),
    ("1 2", "unexpected token '2'", "parse"),
    ("steps.flip-coin.outputs.result", "unknown name coin", "evaluate"),
    ("nosuchname + 1", "unknown name nosuchname", "evaluate"),
    ("nosuchfunc(1)", "unknown func nosuchfunc", "evaluate"),
    ("inputs.parameters.num + 1", "invalid operation: string + int", "evaluate"),
    ("asInt('x1')", "invalid operation: int(x1)", "evaluate"),
    ("asFloat('abc')", "invalid operation: float(abc)", "evaluate"),
    ("[1][5]", "index out of range: 5 (array length is 1)", "evaluate"),
    ("'a' in 'abc'", 'operator "in" not defined on string', "evaluate"),
    ("1 % 0", "integer divide by zero", "evaluate"),
    ("1 ? 2 : 3", "non-bool expression", "evaluate"),
    ("'x' && true", "non-bool value", "evaluate"),
    ("filter([1], # + 1)", "predicate should return bool", "evaluate"),
    ("jsonpath(inputs.parameters.json, '$.some.absent')", "key 'absent' not found", "evaluate"),
    ("# > 1", "cannot use pointer accessor outside predicate", "parse"),
]


@pytest.mark.parametrize(("expression", "reason", "phase"), ERROR_CASES)
def test_a_bad_expression_fails_with_a_message_naming_it(
    expression: str, reason: str, phase: str
) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_expr(expression, ENV)
    assert f"'{expression}'" in str(caught.value)
    assert reason in str(caught.value)
    assert caught.value.phase == phase


def test_a_parse_error_reports_line_and_column() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_expr("1 +\n  * 2", ENV)
    assert caught.value.location == "2:3"
    assert "(2:3)" in str(caught.value)


def test_a_misspelt_parameter_is_named_and_marked_unresolved() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_expr("asInt(inputs.parameters.nmu) * 2", ENV)
    assert "inputs.parameters.nmu is not defined" in str(caught.value)
    assert caught.value.unresolved


def test_a_result_that_is_a_missing_variable_is_an_unresolved_error() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_expr("steps.nostep.outputs.result", ENV)
    assert "steps.nostep is not defined" in str(caught.value)
    assert caught.value.unresolved


def test_an_unknown_top_level_name_is_unresolved_but_a_type_error_is_not() -> None:
    with pytest.raises(ExpressionError) as unknown:
        evaluate_expr("pod.name", ENV)
    with pytest.raises(ExpressionError) as typed:
        evaluate_expr("1 + 'a'", ENV)
    assert unknown.value.unresolved
    assert not typed.value.unresolved


RENDER_CASES = [
    ("hello", "hello"),
    (8, "8"),
    (2.0, "2"),
    (2.5, "2.5"),
    (1e6, "1e+06"),
    (123456.0, "123456"),
    (1234567.0, "1.234567e+06"),
    (0.0001, "0.0001"),
    (0.00001, "1e-05"),
    (-3.0, "-3"),
    (math.inf, "+Inf"),
    (True, "true"),
    (False, "false"),
    (None, "<nil>"),
    ([1, "a", 2.0], "[1 a 2]"),
    ({"b": 1, "a": [True]}, "map[a:[true] b:1]"),
]


@pytest.mark.parametrize(("value", "rendered"), RENDER_CASES)
def test_a_result_is_rendered_as_go_formats_it(value: Any, rendered: str) -> None:
    assert render_value(value) == rendered


def test_a_computed_number_renders_without_a_trailing_zero() -> None:
    assert render_value(evaluate_expr("asFloat('1.5') * 2", ENV)) == "3"
    assert render_value(evaluate_expr("asInt(inputs.parameters.num) * 2", ENV)) == "8"


def test_a_retry_expression_is_a_boolean_condition() -> None:
    assert evaluate_condition("asInt(lastRetry.exitCode) > 1", ENV) is True
    assert evaluate_condition("lastRetry.status == 'Error'", ENV) is False


def test_a_condition_that_is_not_boolean_fails_naming_it() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_condition("lastRetry.exitCode", ENV)
    assert "'lastRetry.exitCode'" in str(caught.value)
    assert "expected a boolean result, got string 2" in str(caught.value)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("(" * 3000 + "1" + ")" * 3000, "the expression is nested too deeply to be evaluated"),
        ("-" * 5000 + "1", "the expression is nested too deeply to be evaluated"),
        ("0..1000000000000000", "memory budget exceeded"),  # expr-lang's budget, as in Argo
        ("0..9223372036854775807", "memory budget exceeded"),
    ],
)
def test_an_expression_beyond_the_machine_fails_like_any_other(
    expression: str, reason: str
) -> None:
    for evaluate in (evaluate_expr, evaluate_condition):
        with pytest.raises(ExpressionError) as failure:
            evaluate(expression, {})
        assert failure.value.reason == reason
        assert failure.value.expression == expression


def test_a_when_condition_nested_too_deeply_fails_like_any_other() -> None:
    with pytest.raises(ExpressionError, match="nested too deeply") as failure:
        evaluate_when("(" * 3000 + "1 == 1" + ")" * 3000)
    assert failure.value.dialect == "when"


def test_the_memory_budget_is_for_the_whole_evaluation_as_expr_lang_counts_it() -> None:
    # 2000 ranges of 2000 items: each alone is within the budget, all together are not (an
    # http successCondition like it held a controller thread for minutes).
    nested = "len(filter(1..2000, {len(1..2000) > 0})) > 0"
    with pytest.raises(ExpressionError) as failure:
        evaluate_condition(nested, {})
    assert failure.value.reason == "memory budget exceeded"
    # Each evaluation starts with the whole budget again.
    for _ in range(3):
        assert evaluate_condition("len(1..600000) > 0", {})
