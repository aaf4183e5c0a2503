"""The emissary's JSON reader returns exactly what ``json.loads`` returns, or leaves the text
to ``json`` (UnsupportedError) — never a different value."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from argoexec.emissary import minijson

WORDS = ["", "a", "main", 'q"uote', "back\\slash", "tab\tnew\nline", "\x00\x1f\x7f", "é", "€",
         "😀", "\ud800", "<&>", "\u2028", "/path/to", "日本語"]  # fmt: skip


def random_value(rng: random.Random, depth: int = 0) -> Any:
    scalars: list[Callable[[], Any]] = [
        lambda: rng.choice([0, -0, 1, -1, 7, 10**20, -(10**18), rng.randint(-(10**6), 10**6)]),
        lambda: rng.choice([0.0, -0.0, 1.5, -2.25e-7, 1e300, 3.141592653589793, rng.random()]),
        lambda: "".join(rng.choice(WORDS) for _ in range(rng.randint(0, 3))),
        lambda: rng.random() < 0.5,
        lambda: None,
    ]
    if depth < 4 and rng.random() < 0.5:
        if rng.random() < 0.5:
            return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
        keys = [rng.choice(WORDS) + str(i) for i in range(rng.randint(0, 4))]
        return {key: random_value(rng, depth + 1) for key in keys}
    return rng.choice(scalars)()


def same(text: str) -> bool:
    """minijson's result is json's; False when minijson left the text to json."""
    try:
        ours = minijson.loads(text)
    except minijson.UnsupportedError:
        return False
    assert repr(ours) == repr(json.loads(text)), text
    return True


@pytest.mark.parametrize("seed", range(20))
def test_whatever_json_dumps_writes_is_read_as_json_reads_it(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        value = random_value(rng)
        for options in (
            {},
            {"ensure_ascii": False},
            {"indent": 2},
            {"separators": (",", ":")},
            {"indent": "\t", "ensure_ascii": False},
        ):
            assert same(json.dumps(value, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        "{}", "[]", " \t\n\r{} \n", '""', "0", "-0", "-0.0", "1E+2", "1e-2", "2.5E3", "123",
        "true", "false", "null", '{"a":1,"a":2}', '"\\ud83d\\ude00"', '"\\ud83dx"',
        '"\\ud83d\\u0041"', '"\\udc00"', '"\\/\\b\\f\\n\\r\\t\\"\\\\"', '"\\u00e9\\u00E9"',
        '[1,[2,[3,{"x":[]}]]]', '{"k": {"": ""}}', '"\x7f"',
    ],
)  # fmt: skip
def test_standard_json_is_read_as_json_reads_it(text: str) -> None:
    assert same(text)


@pytest.mark.parametrize(
    "text",
    [
        "", " ", "{", "}", "[1,]", '{"a":1,}', "{a:1}", "{'a':1}", '{"a" 1}', "[1 2]", "01",
        "1.", ".5", "1e", "1e+", "+1", "-", "--1", "NaN", "Infinity", "-Infinity", "[NaN]",
        "nul", "truex", '"abc', '"\\x41"', '"\\u12"', '"\\u12g4"', '"\\u+123"', '"a\nb"',
        '"\t"', "\ufeff{}", '{"a":1} x', "[] []", "1٢", '"\\', "[", '{"a"', '{"a":',
    ],
)  # fmt: skip
def test_anything_else_is_left_to_json(text: str) -> None:
    with pytest.raises(minijson.UnsupportedError):
        minijson.loads(text)


def test_a_long_string_with_escapes_is_read_whole() -> None:
    value = {"script": ("echo 'x' && cat <<EOF\n\tline \"quoted\" é\nEOF\n" * 5000)}
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        assert minijson.loads(text) == value


def test_the_template_reader_hands_the_rest_to_json() -> None:
    from argoexec.emissary.template import EmissaryError, parse_json

    assert parse_json("[Infinity]", "what") == [float("inf")]
    with pytest.raises(EmissaryError) as caught:
        parse_json("{not json", "failed to unmarshal template")
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads("{not json")
    assert str(caught.value) == f"failed to unmarshal template: {theirs.value}"
