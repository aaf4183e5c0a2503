"""Labels and annotations the Kubernetes API server would refuse are refused before anything
runs, each named with its YAML path (apimachinery's label rules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from argoexec.controller.workflow.lint import lint_workflow
from argoexec.controller.workflow.lint_labels import key_problem, value_problem
from argoexec.controller.workflow.store import TemplateStore
from tests.controller.test_cli_state_dir import run_cli


@pytest.mark.parametrize(
    "key",
    ["app", "a", "app.kubernetes.io/name", "workflows.argoproj.io/completed", "A_b-C.9",
     "x" * 63, f"{'p' * 253}/n"],
)  # fmt: skip
def test_keys_the_api_server_takes(key: str) -> None:
    assert key_problem(key) is None


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "name part must be non-empty"),
        ("has space", "name part must consist"),
        ("-lead", "name part must consist"),
        ("trail.", "name part must consist"),
        ("x" * 64, "no more than 63"),
        ("/name", "prefix part must be non-empty"),
        ("Upper.Case/name", "lowercase RFC 1123 subdomain"),
        ("under_score.io/name", "lowercase RFC 1123 subdomain"),
        (f"{'p' * 254}/n", "lowercase RFC 1123 subdomain"),
        ("example.com/", "name part must be non-empty"),
    ],
)
def test_keys_the_api_server_refuses(key: str, problem: str) -> None:
    found = key_problem(key)
    assert found is not None and problem in found


@pytest.mark.parametrize(
    ("value", "ok"),
    [("", True), ("v1.2_3-x", True), ("x" * 63, True), ("x" * 64, False), ("a b", False),
     ("-x", False), ("x/y", False)],
)  # fmt: skip
def test_label_values(value: str, ok: bool) -> None:
    assert (value_problem(value) is None) is ok


def test_a_workflows_bad_labels_and_annotations_are_named() -> None:
    workflow = {
        "metadata": {
            "generateName": "w-",
            "labels": {"ok": "fine", "bad key": "v", "k": "bad value"},
            "annotations": {"note": "any <text> at all", "/x": "y"},
        },
        "spec": {"entrypoint": "m", "templates": [{"name": "m", "suspend": {}}]},
    }
    problems = {p.path: p.message for p in lint_workflow(workflow, TemplateStore(), schema=False)}
    assert set(problems) == {
        "metadata.labels.bad key",
        "metadata.labels.k",
        "metadata.annotations./x",
    }
    assert "invalid label value 'bad value'" in problems["metadata.labels.k"]


def test_annotations_hold_at_most_256_kib() -> None:
    workflow = {
        "metadata": {"name": "w", "annotations": {"big": "x" * (256 * 1024)}},
        "spec": {"entrypoint": "m", "templates": [{"name": "m", "suspend": {}}]},
    }
    problems = lint_workflow(workflow, TemplateStore(), schema=False)
    assert [p.path for p in problems] == ["metadata.annotations"]


def test_run_refuses_a_bad_label_and_runs_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n"
        "metadata: {name: labelled, labels: {'team name': data}}\n"
        "spec: {entrypoint: m, templates: [{name: m, container: {image: a, command: ['true']}}]}\n"
    )
    code, _, err = run_cli(capsys, "run", str(path), "--state-dir", str(tmp_path / "state"))
    assert code != 0
    assert "metadata.labels.team name: invalid label key 'team name'" in err
    assert not (tmp_path / "state" / "labelled").exists()
