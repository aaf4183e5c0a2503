"""Loop expansion (`withItems`, `withParam`, `withSequence`) as Argo's controller names and fills
the children, with the examples of Argo's loops walk-through."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from argoexec.controller.engine import (
    LoopError,
    Scope,
    SubstitutionError,
    expand_loop,
    expand_sequence,
    expand_step,
    should_expand,
)
from argoexec.controller.engine.loops import go_sprintf_int, item_entries

EMPTY = Scope()


def _step(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def test_scalar_items_are_named_by_index_and_value() -> None:
    step = _step(
        """
        name: print-message
        template: whalesay
        arguments: {parameters: [{name: message, value: "{{item}}"}]}
        withItems: [hello world, goodbye world]
        """
    )
    children = expand_step(step, EMPTY)
    assert [c["name"] for c in children] == [
        "print-message(0:hello world)",
        "print-message(1:goodbye world)",
    ]
    assert children[1]["arguments"]["parameters"][0]["value"] == "goodbye world"
    assert "withItems" not in children[0]


def test_numbers_and_booleans_render_as_json_text() -> None:
    step = {"name": "n", "withItems": [1, 2.5, True, 3.0]}
    assert [i.suffix for i in expand_loop(step, EMPTY)] == ["(0:1)", "(1:2.5)", "(2:true)", "(3:3)"]


def test_map_items_expose_keys_and_name_children_by_sorted_pairs() -> None:
    step = _step(
        """
        name: test-linux
        template: cat-os-release
        arguments:
          parameters:
          - {name: image, value: "{{item.image}}"}
          - {name: tag, value: "{{item.tag}}"}
          - {name: whole, value: "{{item}}"}
        withItems:
        - {image: debian, tag: "9.1"}
        - {tag: "18.04", image: ubuntu}
        """
    )
    children = expand_step(step, EMPTY)
    assert [c["name"] for c in children] == [
        "test-linux(0:image:debian,tag:9.1)",
        "test-linux(1:image:ubuntu,tag:18.04)",
    ]
    params = children[1]["arguments"]["parameters"]
    assert [p["value"] for p in params] == [
        "ubuntu",
        "18.04",
        '{"image":"ubuntu","tag":"18.04"}',
    ]


def test_map_items_are_maps_in_expressions() -> None:
    step = {
        "name": "x",
        "args": ["{{=item.os + ':' + item.version}}"],
        "withItems": [{"os": "a", "version": 1}],
    }
    assert expand_step(step, EMPTY)[0]["args"] == ["a:1"]


def test_list_items_are_json_and_named_with_go_list_syntax() -> None:
    step = {"name": "pair", "args": ["{{item}}"], "withItems": [["a", 1], ["b", 2]]}
    children = expand_step(step, EMPTY)
    assert [c["name"] for c in children] == ["pair(0:[a 1])", "pair(1:[b 2])"]
    assert children[0]["args"] == ['["a",1]']


def test_item_entries_of_nested_map_values_are_json() -> None:
    assert item_entries({"a": {"b": 1}, "c": "d"}) == {
        "item.a": '{"b":1}',
        "item.c": "d",
        "item": '{"a":{"b":1},"c":"d"}',
    }


def test_with_param_reads_a_json_list_from_an_input_parameter() -> None:
    scope = Scope(
        {
            "inputs.parameters.os-list": (
                '[{"image": "debian", "tag": "9.1"}, {"image": "centos", "tag": "7"}]'
            )
        }
    )
    step = _step(
        """
        name: test-linux
        template: cat-os-release
        arguments:
          parameters: [{name: image, value: "{{item.image}}"}]
        withParam: "{{inputs.parameters.os-list}}"
        """
    )
    children = expand_step(step, scope)
    assert [c["name"] for c in children] == [
        "test-linux(0:image:debian,tag:9.1)",
        "test-linux(1:image:centos,tag:7)",
    ]
    assert children[1]["arguments"]["parameters"][0]["value"] == "centos"


def test_with_param_reads_a_step_result() -> None:
    scope = EMPTY.with_node_result("steps.gen-number-list", result="[3, 1, 2]\n")
    step = {"name": "sleep", "withParam": "{{steps.gen-number-list.outputs.result}}"}
    assert [i.suffix for i in expand_loop(step, scope)] == ["(0:3)", "(1:1)", "(2:2)"]


def test_an_empty_with_param_list_has_no_children() -> None:
    assert expand_loop({"name": "s", "withParam": "[]"}, EMPTY) == []


def test_with_param_that_is_not_json_names_the_value_and_place() -> None:
    scope = Scope({"steps.gen.outputs.result": "not json"})
    step = {"name": "s", "withParam": "{{steps.gen.outputs.result}}"}
    with pytest.raises(LoopError) as caught:
        expand_loop(step, scope, location="spec.templates[0].steps[1][0]")
    assert "could not be parsed as a JSON list: not json" in str(caught.value)
    assert caught.value.location == "spec.templates[0].steps[1][0].withParam"


def test_with_param_that_is_a_json_object_is_rejected() -> None:
    with pytest.raises(LoopError, match="JSON list"):
        expand_loop({"name": "s", "withParam": '{"a": 1}'}, EMPTY)


def test_with_param_with_an_unknown_tag_names_the_tag() -> None:
    with pytest.raises(SubstitutionError, match=r"steps\.missing\.outputs\.result.*withParam"):
        expand_loop({"name": "s", "withParam": "{{steps.missing.outputs.result}}"}, EMPTY)


@pytest.mark.parametrize(
    ("sequence", "expected"),
    [
        ({"count": "5"}, ["0", "1", "2", "3", "4"]),
        ({"start": "100", "end": "105"}, ["100", "101", "102", "103", "104", "105"]),
        ({"start": 5, "end": 0}, ["5", "4", "3", "2", "1", "0"]),
        (
            {"count": 3, "start": 1, "format": "2020-05-%02d"},
            ["2020-05-01", "2020-05-02", "2020-05-03"],
        ),
        ({"count": 0}, []),
        ({"start": "2", "end": "2"}, ["2"]),
        ({"count": 2, "start": 9, "format": "%x%%"}, ["9%", "a%"]),
        ({"count": 2, "start": 9, "format": "[%5d]"}, ["[    9]", "[   10]"]),
        ({"count": 2, "start": 9, "format": "[%-3d]"}, ["[9  ]", "[10 ]"]),
        ({"count": 2, "start": -1, "format": "%+d"}, ["-1", "+0"]),
    ],
)
def test_with_sequence_matches_argo(sequence: dict[str, Any], expected: list[str]) -> None:
    assert expand_sequence(sequence) == expected


def test_with_sequence_fields_are_substituted_first() -> None:
    scope = Scope({"inputs.parameters.n": "3"})
    step = {
        "name": "gen",
        "args": ["{{item}}"],
        "withSequence": {"count": "{{inputs.parameters.n}}"},
    }
    children = expand_step(step, scope)
    assert [c["name"] for c in children] == ["gen(0:0)", "gen(1:1)", "gen(2:2)"]
    assert children[2]["args"] == ["2"]


@pytest.mark.parametrize(
    ("sequence", "message"),
    [
        ({"count": 2, "end": 4}, "only one of count or end"),
        ({"start": 1}, "neither end nor count"),
        ({"count": "many"}, "withSequence.count must be an integer"),
        ({"count": -1}, "must not be negative"),
    ],
)
def test_bad_sequences_are_rejected_with_the_place(sequence: dict[str, Any], message: str) -> None:
    with pytest.raises(LoopError, match=message) as caught:
        expand_loop(
            {"name": "s", "withSequence": sequence},
            EMPTY,
            location="spec.templates[1].dag.tasks[0]",
        )
    assert caught.value.location == "spec.templates[1].dag.tasks[0].withSequence"


@pytest.mark.parametrize(
    ("fmt", "number", "expected"),
    [
        ("%d", 7, "7"),
        ("%03d", -7, "-07"),
        ("%#x", 255, "0xff"),
        ("%X", 255, "FF"),
        ("%o", 8, "10"),
        ("%b", 5, "101"),
        ("%.3d", 7, "007"),
        ("%v", 7, "7"),
        ("%s", 7, "%!s(int=7)"),
        ("%d-%d", 7, "7-%!d(MISSING)"),
        ("item", 7, "item"),
    ],
)
def test_sequence_formats_follow_go_printf(fmt: str, number: int, expected: str) -> None:
    assert go_sprintf_int(fmt, number) == expected


def test_a_null_item_is_rejected() -> None:
    with pytest.raises(LoopError, match=r"withItems\[1\]"):
        expand_loop({"name": "s", "withItems": ["a", None]}, EMPTY)


def test_only_real_loops_expand() -> None:
    assert should_expand({"name": "s", "withItems": ["a"]})
    assert should_expand({"name": "s", "withSequence": {"count": 0}})
    assert not should_expand({"name": "s", "withItems": []})
    assert not should_expand({"name": "s"})
    with pytest.raises(LoopError, match="not a loop"):
        expand_loop({"name": "s"}, EMPTY)


def test_tags_not_about_the_item_wait_for_a_later_pass() -> None:
    step = {"name": "s", "args": ["{{item}} {{inputs.parameters.x}}"], "withItems": ["a"]}
    assert expand_step(step, EMPTY)[0]["args"] == ["a {{inputs.parameters.x}}"]
    with pytest.raises(SubstitutionError, match=r"inputs\.parameters\.x"):
        expand_step(step, EMPTY, allow_unresolved=False)


def test_aggregated_loop_outputs_are_json_lists() -> None:
    scope = EMPTY.with_aggregate(
        "steps.gen",
        [("1", {"p": "a"}), ('{"k": 2}', {"p": "b"}), ("text", {})],
        phase="Succeeded",
    )
    assert scope["steps.gen.outputs.result"] == '[1,{"k":2},"text"]'
    assert scope["steps.gen.outputs.parameters"] == '[{"p":"a"},{"p":"b"}]'
    assert scope["steps.gen.outputs.parameters.p"] == '["a","b"]'
