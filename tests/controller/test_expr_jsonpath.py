"""`jsonpath(json, path)` in expressions: Argo's JSONPath (evilmonkeyinc/jsonpath) on top of
python-jsonpath. Each rule kept by hand (see the module docstring) has its own case."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from argoexec.controller.expr import ExpressionError, evaluate_expr

DOC = json.dumps(
    {
        "items": [
            {"name": "web", "age": 3, "tags": ["a"], "enabled": True},
            {"name": "db", "age": 7, "tags": ["b", "c"], "enabled": False},
            {"name": "cache", "age": None, "enabled": ""},
        ],
        "limit": 7,
        "sizes": {"b": 2, "a": 1},
        "counts": {"length": 9},
        "text": "hello",
    }
)


def run(path: str) -> Any:
    return evaluate_expr(f"jsonpath(doc, {json.dumps(path)})", {"doc": DOC})


CASES = [
    # the example: a filter over a list, then a key of each match
    ('$.items[?(@.name=="web")].age', [3]),
    ("$.items[?(@.age > 3)].name", ["db"]),
    ("$.items[?(@.age >= 3 && @.name != 'db')].name", ["web"]),
    ("$.items[?(@.name == 'web' || @.name == 'db')].name", ["web", "db"]),
    ("$.items[?(!(@.name == 'web'))].name", ["db", "cache"]),
    ("$.items[?(@.age == $.limit)].name", ["db"]),
    ("$.items[?(@.name in ['db', 'cache'])].name", ["db", "cache"]),
    # a path of names and indices gives the value itself
    ("$.items[1].tags[0]", "b"),
    ("$.items[-1].name", "cache"),
    ("$['sizes']['a']", 1),
    # wildcards, slices, unions and filters give lists
    ("$.items[*].name", ["web", "db", "cache"]),
    ("$.items[0:2].name", ["web", "db"]),
    ("$.items[::-1].name", ["cache", "db", "web"]),
    ("$.items[0,2].name", ["web", "cache"]),
    (
        "$.items[1:]",
        [
            {"name": "db", "age": 7, "tags": ["b", "c"], "enabled": False},
            {"name": "cache", "age": None, "enabled": ""},
        ],
    ),
    # a filter with no match is an empty list, not an error
    ("$.items[?(@.name == 'nope')]", []),
    # elements where the rest of the path fails or is null are skipped
    ("$.items[*].age", [3, 7]),
    ("$.items[*].tags", [["a"], ["b", "c"]]),
    # results of a following wildcard are not flattened (evilmonkeyinc)
    ("$.items[*].tags[*]", [["a"], ["b", "c"]]),
    # recursive descent flattens one level of each result
    ("$..tags", ["a", "b", "c"]),
    ("$..tags[0]", ["a", "b"]),
    ("$..name", ["web", "db", "cache"]),
    # an index after a filter picks among the filtered elements
    ("$.items[?(@.age > 1)][1].name", "db"),
    ("$.items[?(@.age > 1)][-1].name", "db"),
    # .length of an array, an object or a string; an object's own `length` key wins
    ("$.items.length", 3),
    ("$.text.length", 5),
    ("$.sizes.length", 2),
    ("$.counts.length", 9),
    # object members in key order
    ("$.sizes.*", [1, 2]),
    ("$.sizes[*]", [1, 2]),
    # a bare value in a filter is tested for truthiness, not existence
    ("$.items[?(@.enabled)].name", ["web"]),
    ("$.items[?(@.age)].name", ["web", "db"]),
    # < > compare numbers only
    ("$.items[?(@.name > 'a')]", []),
    # =~ searches (unanchored, as Go's regexp) with a quoted or /.../ pattern
    ("$.items[?(@.name =~ 'e')].name", ["web", "cache"]),
    ("$.items[?(@.name =~ '^c')].name", ["cache"]),
    ("$.items[?(@.name =~ /we/)].name", ["web"]),
    ("$", json.loads(DOC)),
]


@pytest.mark.parametrize(("path", "expected"), CASES)
def test_jsonpath_follows_argo(path: str, expected: Any) -> None:
    assert run(path) == expected


ERRORS = [
    ("$.items[0].nope", "key 'nope' not found"),
    ("$.nope.deeper", "key 'nope' not found"),
    ("$.items[3]", "index 3 out of range (length 3)"),
    ("$.items[0][0]", "cannot index a map"),
    ("$.text.x", "cannot get key 'x' of a string"),
    ("$.items[?(@.age > 1)][5]", "index 5 out of range"),
    ("items[0]", "must start with '$'"),
    ("$.items[", "unexpected end of query"),
    ("$.items[(@.length-1)]", "jsonpath '$.items[(@.length-1)]'"),
]


@pytest.mark.parametrize(("path", "reason"), ERRORS)
def test_a_path_that_does_not_apply_is_an_error_naming_it(path: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        run(path)
    assert reason in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_a_json_array_or_scalar_document_is_queried_too() -> None:
    assert evaluate_expr("jsonpath('[1, 2, 3]', '$[1]')", {}) == 2
    assert evaluate_expr("jsonpath('[{\"a\": 1}, {\"a\": 2}]', '$[?(@.a == 2)]')", {}) == [{"a": 2}]


def test_the_jsonpath_library_is_imported_only_when_jsonpath_runs() -> None:
    code = (
        "import sys\n"
        "from argoexec.controller.expr import evaluate_expr\n"
        "evaluate_expr('1 + 1', {})\n"
        "assert 'jsonpath' not in sys.modules, 'imported eagerly'\n"
        "evaluate_expr(\"jsonpath('{\\\"a\\\": 1}', '$.a')\", {})\n"
        "assert 'jsonpath' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
