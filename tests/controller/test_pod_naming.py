"""Pod names, node IDs and Go duration strings (argo-contract.md §1.1, §1.5)."""

from __future__ import annotations

import pytest

from argoexec.controller.pod import fnv32a, node_id, pod_name
from argoexec.durations import format_go_duration as go_duration
from argoexec.durations import parse_go_duration


@pytest.mark.parametrize(
    ("data", "expected"),
    [("", 0x811C9DC5), ("a", 0xE40C292C), ("foobar", 0xBF9CF968)],
)
def test_fnv32a_matches_the_published_test_vectors(data: str, expected: int) -> None:
    assert fnv32a(data) == expected


def test_the_node_id_is_the_workflow_name_and_the_hash_of_the_node_name() -> None:
    assert node_id("wf", "wf[0].hello") == f"wf-{fnv32a('wf[0].hello')}"
    assert node_id("wf", "wf[0].hello") == "wf-2592359500"


def test_the_root_node_id_is_the_workflow_name() -> None:
    assert node_id("wf", "wf") == "wf"


def test_a_v2_pod_name_joins_workflow_template_and_node_hash() -> None:
    name = pod_name("wf", "wf[0].hello", "hello", "wf-2592359500")
    assert name == "wf-hello-2592359500"


def test_a_v1_pod_name_is_the_node_id() -> None:
    assert pod_name("wf", "wf[0].hello", "hello", "wf-2592359500", "v1") == "wf-2592359500"


def test_the_pod_of_the_root_node_is_named_like_the_workflow() -> None:
    assert pod_name("wf", "wf", "hello", "wf") == "wf"


def test_an_inline_template_pod_has_no_template_name_in_its_name() -> None:
    node = "wf[0].step.inline"
    assert pod_name("wf", node, "", node_id("wf", node)) == f"wf-{fnv32a(node)}"


def test_a_long_prefix_is_cut_to_242_characters() -> None:
    name = pod_name("w" * 200, "n", "t" * 100, "id")
    prefix, _, digits = name.rpartition("-")
    assert prefix == ("w" * 200 + "-" + "t" * 100)[:242]
    assert digits == str(fnv32a("n"))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(60, "1m0s"), (3, "3s"), (0, "0s"), (1.5, "1.5s"), (0.5, "500ms"), (3600, "1h0m0s")],
)
def test_durations_print_like_go(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_go_durations_parse_back() -> None:
    assert parse_go_duration("1m30s") == 90
    assert parse_go_duration("0") == 0
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration("ten seconds")
