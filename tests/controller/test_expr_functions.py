"""Argo's helper functions (`toJson`, `jsonpath`, `asInt`, ...) and the `sprig.*` namespace."""

from __future__ import annotations

import re
from typing import Any

import pytest

from argoexec.controller.expr import ExpressionError, evaluate_expr

DOC = '{"items": [{"x": 1, "tags": ["a"]}, {"x": 2, "tags": ["b", "c"]}], "a": {"b": "deep"}}'
ENV: dict[str, Any] = {"doc": DOC, "params": {"csv": "a,b,c", "n": "7", "blank": ""}}

CASES = [
    # toJson is Go's json.Marshal: compact, sorted keys, integral floats without ".0", HTML-safe
    ("toJson({'b': 1, 'a': [true, nil, 2.0]})", '{"a":[true,null,2],"b":1}'),
    ("toJson('<tag> & co')", '"\\u003ctag\\u003e \\u0026 co"'),
    ("toJson(map(['a', 'b'], { {'name': #} }))", '[{"name":"a"},{"name":"b"}]'),
    # jsonpath over a JSON string; numbers come out as float64, as Go's json.Unmarshal makes them
    ("jsonpath(doc, '$.a.b')", "deep"),
    ("jsonpath(doc, '$.items[0].x')", 1.0),
    ("jsonpath(doc, '$.items[-1].x')", 2.0),
    ("jsonpath(doc, '$.items[*].x')", [1, 2]),
    ("jsonpath(doc, \"$['a']['b']\")", "deep"),
    ("jsonpath(doc, '$.items[0:1]')", [{"x": 1, "tags": ["a"]}]),
    ("jsonpath(doc, '$..tags[0]')", ["a", "b"]),
    ("jsonpath(doc, '$.items[0,1].x')", [1, 2]),
    ("asInt(jsonpath(doc, '$.items[1].x')) + 1", 3),
    # Argo's casts
    ("asInt('-12')", -12),
    ("asInt(3.7)", 3),
    ("asFloat('1e3')", 1000.0),
    ("string(2.0) + string(true) + string([1, 'a'])", "2true[1 a]"),
    # sprig: subject last, lenient conversions
    ("sprig.trim('  x  ')", "x"),
    ("sprig.upper('abc') + sprig.lower('DEF')", "ABCdef"),
    ("sprig.replace('-', '_', 'a-b-c')", "a_b_c"),
    ("sprig.contains('ell', 'hello')", True),
    ("sprig.hasPrefix('he', 'hello') && sprig.hasSuffix('lo', 'hello')", True),
    ("sprig.splitList(',', params.csv)", ["a", "b", "c"]),
    ("sprig.split(',', params.csv)._1", "b"),
    ("sprig.join('+', ['a', 1, true])", "a+1+true"),
    ("sprig.toString(12) + sprig.toString('x')", "12x"),
    ("sprig.toJson({'k': [1]})", '{"k":[1]}'),
    ("sprig.fromJson('{\"a\": [1, 2]}').a[1]", 2.0),
    ("sprig.fromJson('not json') == nil", True),
    ("sprig.int(params.n) * 2", 14),
    ("sprig.int('abc')", 0),
    ("sprig.int('0x10') + sprig.int('010')", 24),
    ("sprig.float64('2.5') * 2", 5.0),
    ("sprig.add(1, '2', 3.9)", 6),
    ("sprig.sub(10, 4)", 6),
    ("sprig.mul(2, 3, 4)", 24),
    ("sprig.div(-7, 2)", -3),
    ("sprig.mod(-7, 3)", -1),
    ("sprig.max(1, 9, 3) + sprig.min(4, 2)", 11),
    ("sprig.add1(params.n)", 8),
    ("sprig.round(2.345, 2)", 2.35),
    ("sprig.default('fallback', params.blank)", "fallback"),
    ("sprig.default('fallback', params.n)", "7"),
    ("sprig.default('fallback', params.absent)", "fallback"),
    ("sprig.empty(params.blank) && !sprig.empty(params.n)", True),
    ("sprig.coalesce('', nil, 'first', 'second')", "first"),
    ("sprig.ternary('yes', 'no', 1 > 0)", "yes"),
    ("sprig.quote('a', 'b\"c')", '"a" "b\\"c"'),
    ("sprig.squote('a')", "'a'"),
    ("sprig.b64enc('hello')", "aGVsbG8="),
    ("sprig.b64dec('aGVsbG8=')", "hello"),
    (
        "sprig.sha256sum('hello world')",
        "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
    ),
    ("sprig.regexMatch('^[a-z]+$', 'abc')", True),
    ("sprig.regexMatch('(', 'abc')", False),
    ("sprig.regexFindAll('[0-9]+', 'a1b22c333', -1)", ["1", "22", "333"]),
    ("sprig.regexReplaceAll('a(x*)b', '-ab-axxb-', '${1}W')", "-W-xxW-"),
    ("sprig.first(sprig.list(1, 2))", 1),
    ("sprig.has(2, [1, 2])", True),
    ("sprig.uniq([1, 1, 2])", [1, 2]),
    ("sprig.until(3)", [0, 1, 2]),
    ("sprig.dict('a', 1, 'b', 2).b", 2),
    ("sprig.get({'a': 1}, 'z')", ""),
    ("sprig.hasKey({'a': 1}, 'a')", True),
    ("sprig.substr(1, 3, 'hello')", "el"),
    ("sprig.trunc(3, 'hello')", "hel"),
    ("sprig.repeat(3, 'ab')", "ababab"),
    ("sprig.title('hello world')", "Hello World"),
    ("sprig.indent(2, 'a\\nb')", "  a\n  b"),
    ("sprig.date('2006-01-02', 0)", "1970-01-01"),
    ("sprig.dateInZone('2006-01-02T15:04:05Z07:00', 86400, 'UTC')", "1970-01-02T00:00:00Z"),
]


@pytest.mark.parametrize(("expression", "expected"), CASES)
def test_a_helper_function_behaves_like_argos(expression: str, expected: Any) -> None:
    result = evaluate_expr(expression, ENV)
    assert result == expected
    assert type(result) is type(expected)


def test_sprig_now_formats_with_a_go_layout() -> None:
    assert re.fullmatch(
        r"\d{4}-\d{2}-\d{2}", evaluate_expr("sprig.date('2006-01-02', sprig.now())", {})
    )


def test_a_failing_helper_names_the_expression_and_the_function() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_expr("sprig.replace('a')", ENV)
    assert "'sprig.replace('a')'" in str(caught.value)
    assert "sprig.replace(): it missing 2 required positional arguments" in str(caught.value)


def test_jsonpath_names_a_missing_key() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_expr("jsonpath(doc, '$.items[0].nope')", ENV)
    assert "key 'nope' not found" in str(caught.value)


def test_jsonpath_on_a_document_that_is_not_json_is_an_error() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate_expr("jsonpath('{oops', '$.a')", ENV)
    assert "not JSON" in str(caught.value)
