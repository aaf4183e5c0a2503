"""A data template's processing (`controller.tasks.data`): the listed keys, each
transformation expression in turn, the JSON result as Go writes it, and Argo's messages."""

from __future__ import annotations

import re

import pytest

from argoexec.controller.tasks.data import DataError, go_json, process_data
from argoexec.models import Artifact

KEYS = ["logs/a/main.log", "logs/b/debug.txt", "logs/b/main.log"]


def spec(*expressions: str) -> dict[str, object]:
    return {
        "source": {"artifactPaths": {"name": "logs", "s3": {"bucket": "b", "key": "logs"}}},
        "transformation": [{"expression": e} for e in expressions],
    }


def listed(artifact: Artifact) -> list[str]:
    assert artifact.name == "logs"
    return list(KEYS)


def test_without_transformation_the_result_is_every_listed_key() -> None:
    assert (
        process_data(spec(), listed) == '["logs/a/main.log","logs/b/debug.txt","logs/b/main.log"]'
    )


def test_filter_then_map_apply_in_order() -> None:
    result = process_data(
        spec('filter(data, {# endsWith "main.log"})', 'map(data, {"s3://b/" + #})'), listed
    )
    assert result == '["s3://b/logs/a/main.log","s3://b/logs/b/main.log"]'


def test_the_result_escapes_html_characters_as_go_json_does() -> None:
    assert go_json(["<a&b>"]) == '["\\u003ca\\u0026b\\u003e"]'


def test_a_failing_listing_is_named_as_the_data_source() -> None:
    def refuse(artifact: Artifact) -> list[str]:
        raise LookupError("no such key: 'logs'")

    with pytest.raises(DataError) as caught:
        process_data(spec(), refuse)
    assert str(caught.value) == (
        "unable to process data template: unable to process data source: unable to source "
        "artifact paths: no such key: 'logs'"
    )


def test_a_failing_expression_names_its_step() -> None:
    with pytest.raises(DataError) as caught:
        process_data(spec("map(data, {# + 1})", "nope("), listed)
    assert "error processing data step 0" in str(caught.value)


def test_a_template_without_artifact_paths_has_no_valid_source() -> None:
    with pytest.raises(DataError, match="no valid source is used for data template"):
        process_data({"source": {}}, listed)


def test_a_time_in_the_result_is_written_as_go_marshals_it() -> None:
    result = process_data(spec("map(data, {now()})"), listed)
    times = re.findall(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"', result)
    assert len(times) == len(KEYS)


def test_a_malformed_data_section_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no valid source is used for data template"):
        process_data({"source": 5}, listed)
    with pytest.raises(DataError, match="transformation is not a list"):
        process_data({**spec(), "transformation": "filter(data, {true})"}, listed)
