"""Decoding documents as Argo's CLI does: strict (the default) and ``--strict=false``.

Strict is ``argo lint``/``argo submit`` (sigs.k8s.io/json ``UnmarshalStrict``): exact field names,
unknown fields and keys given twice are errors. ``--strict=false`` is Go's ``encoding/json``:
field names match case-insensitively, unknown fields are dropped, with a warning each here. Types
are checked the same way in both modes, with Argo's ``AnyString`` reading numbers as text.
"""

from __future__ import annotations

import copy
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.controller.workflow.documents import load_documents
from argoexec.controller.workflow.problems import Problem
from argoexec.controller.workflow.schema import decode
from argoexec.controller.workflow.schema.walk import any_string


def doc(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(textwrap.dedent(text))
    return loaded


def found(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in problems]


UNKNOWN_AT_EVERY_DEPTH = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: deep-
  label: {team: data}
spec:
  entrypoint: main
  owner: me
  templates:
    - name: main
      timeout: 1m
      outputz: {}
      container:
        image: alpine
        command: [echo, hi]
        colour: red
"""


def test_strict_refuses_unknown_fields_at_every_depth_naming_each_path() -> None:
    decoded = decode(doc(UNKNOWN_AT_EVERY_DEPTH), "Workflow")
    assert found(decoded.problems) == [
        ("metadata.label", "unknown field `label` (did you mean `labels`?)"),
        ("spec.owner", "unknown field `owner`"),
        ("spec.templates[0].outputz", "unknown field `outputz` (did you mean `outputs`?)"),
        ("spec.templates[0].container.colour", "unknown field `colour`"),
    ]
    assert all(p.strict_only for p in decoded.problems)
    assert decoded.warnings == []


def test_lenient_drops_unknown_fields_with_a_warning_naming_each_path() -> None:
    decoded = decode(doc(UNKNOWN_AT_EVERY_DEPTH), "Workflow", strict=False)
    assert decoded.problems == []
    assert found(decoded.warnings) == [
        ("metadata.label", "unknown field `label` dropped (did you mean `labels`?)"),
        ("spec.owner", "unknown field `owner` dropped"),
        ("spec.templates[0].outputz", "unknown field `outputz` dropped (did you mean `outputs`?)"),
        ("spec.templates[0].container.colour", "unknown field `colour` dropped"),
    ]
    assert decoded.document["metadata"] == {"generateName": "deep-"}
    template = {
        "name": "main",
        "timeout": "1m",
        "container": {"image": "alpine", "command": ["echo", "hi"]},
    }
    assert decoded.document["spec"] == {"entrypoint": "main", "templates": [template]}


def test_a_go_empty_struct_takes_no_field() -> None:
    artifact = {"name": "o", "path": "/o", "archive": {"none": {"level": 1}}}
    wf = doc(UNKNOWN_AT_EVERY_DEPTH)
    wf["spec"]["templates"][0] = {
        "name": "main",
        "container": {"image": "alpine"},
        "outputs": {"artifacts": [artifact]},
    }
    path = "spec.templates[0].outputs.artifacts[0].archive.none.level"
    assert (path, "unknown field `level`") in found(decode(wf, "Workflow").problems)
    lenient = decode(wf, "Workflow", strict=False)
    assert lenient.document["spec"]["templates"][0]["outputs"]["artifacts"][0]["archive"] == {
        "none": {}
    }


CASE_VARIANTS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: case-, Labels: {team: data}}
Spec:
  Entrypoint: main
  templates:
    - Name: main
      container: {Image: alpine, COMMAND: [echo, hi]}
"""


def test_strict_field_names_are_case_sensitive() -> None:
    decoded = decode(doc(CASE_VARIANTS), "Workflow")
    assert found(decoded.problems) == [
        ("metadata.Labels", "unknown field `Labels` (field names are case-sensitive: `labels`)"),
        ("Spec", "unknown field `Spec` (field names are case-sensitive: `spec`)"),
        ("spec", "missing required field `spec`"),
    ]


def test_lenient_field_names_match_case_insensitively_as_gos_decoder() -> None:
    decoded = decode(doc(CASE_VARIANTS), "Workflow", strict=False)
    assert decoded.problems == []
    assert decoded.document == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "case-", "labels": {"team": "data"}},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "container": {"image": "alpine", "command": ["echo", "hi"]}}
            ],
        },
    }
    assert ("Spec.Entrypoint", "`Entrypoint` read as `entrypoint`") in found(decoded.warnings)
    assert ("Spec.templates[0].container.COMMAND", "`COMMAND` read as `command`") in found(
        decoded.warnings
    )


def test_a_field_given_under_two_spellings_is_decoded_in_gos_order() -> None:
    """Go's YAML-to-JSON step sorts a mapping's keys and its decoder applies them in turn: the
    spelling that sorts last sets a scalar; objects are merged field by field."""
    wf = doc(
        """\
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata:
          generateName: twice-
          labels: {a: "1", b: "1"}
          Labels: {b: "2", c: "2"}
        spec:
          Entrypoint: other
          entrypoint: main
          activeDeadlineSeconds: 10
          activedeadlineseconds: 20
          templates: [{name: main, container: {image: alpine}}]
        """
    )
    strict = decode(wf, "Workflow")
    assert ("spec.Entrypoint", "unknown field `Entrypoint` (field names are case-sensitive:"
            " `entrypoint`)") in found(strict.problems)  # fmt: skip
    lenient = decode(wf, "Workflow", strict=False)
    assert lenient.problems == []
    spec = lenient.document["spec"]
    assert spec["entrypoint"] == "main"  # "Entrypoint" < "entrypoint": the exact one is last
    assert spec["activeDeadlineSeconds"] == 20  # "activeD..." < "actived...": the variant wins
    assert lenient.document["metadata"]["labels"] == {"a": "1", "b": "1", "c": "2"}
    assert (
        "spec.activeDeadlineSeconds",
        "`activeDeadlineSeconds`, `activedeadlineseconds` all set `activeDeadlineSeconds`,"
        " in this order: `activedeadlineseconds` wins",
    ) in found(lenient.warnings)
    assert (
        "metadata.labels",
        "`Labels`, `labels` all set `labels`, in this order: merged",
    ) in found(lenient.warnings)


SCALARS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: scalars-}
spec:
  entrypoint: main
  parallelism: 2.0
  arguments:
    parameters:
      - {name: int, value: 3}
      - {name: float, value: 1.50, description: 7}
      - {name: bool, value: true}
      - {name: big, value: 1.0e+21}
      - {name: huge, value: 12345678901234567890}
      - {name: choice, default: 2, enum: [1, 2, false]}
  templates:
    - name: main
      retryStrategy: {limit: 2.0}
      inputs:
        parameters:
          - {name: p, valueFrom: {supplied: {}, default: 0.25}}
      container: {image: alpine}
"""


@pytest.mark.parametrize("strict", [True, False])
def test_anystring_fields_read_numbers_and_booleans_as_argo_stores_them(strict: bool) -> None:
    decoded = decode(doc(SCALARS), "Workflow", strict=strict)
    assert decoded.problems == [] and decoded.warnings == []
    spec = decoded.document["spec"]
    assert spec["arguments"]["parameters"] == [
        {"name": "int", "value": "3"},
        {"name": "float", "value": "1.5", "description": "7"},
        {"name": "bool", "value": "true"},
        {"name": "big", "value": "1000000000000000000000"},
        # AnyString decodes a JSON number into a float64: Argo keeps 17 significant digits
        {"name": "huge", "value": "12345678901234567000"},
        {"name": "choice", "default": "2", "enum": ["1", "2", "false"]},
    ]
    template = spec["templates"][0]
    assert template["inputs"]["parameters"][0]["valueFrom"]["default"] == "0.25"
    # a whole float fills an integer field (YAML 2.0 is JSON 2 for Go)
    assert spec["parallelism"] == 2 and isinstance(spec["parallelism"], int)
    assert template["retryStrategy"]["limit"] == 2


TYPED = """\
    apiVersion: argoproj.io/v1alpha1
    kind: Workflow
    metadata: {generateName: typed-, labels: {version: 1}}
    spec:
      entrypoint: main
      templates:
        - name: main
          container:
            image: alpine
            args: [sleep, 10]
            env: [{name: DEBUG, value: true}]
    """


def test_a_number_or_boolean_in_a_plain_string_field_is_refused_when_strict() -> None:
    """Argo v4 and Kubernetes refuse `labels: {version: 1}` (Go's decoder does not turn a number
    into a string): the user quotes it, or asks for --strict=false."""
    hint = "(quote it, or run with --strict=false)"
    assert found(decode(doc(TYPED), "Workflow", strict=True).problems) == [
        ("metadata.labels.version", f"wrong type: expected a string, got integer 1 {hint}"),
        (
            "spec.templates[0].container.args[1]",
            f"wrong type: expected a string, got integer 10 {hint}",
        ),
        (
            "spec.templates[0].container.env[0].value",
            f"wrong type: expected a string, got boolean true {hint}",
        ),
    ]


def test_with_strict_false_a_number_or_boolean_where_a_string_goes_is_read_as_its_text() -> None:
    """As Argo's CLI up to v3.x decoded YAML (typed, through sigs.k8s.io/yaml): the scalar
    becomes its text, and a warning names the place."""
    decoded = decode(doc(TYPED), "Workflow", strict=False)
    assert decoded.problems == []
    wf = decoded.document
    assert wf["metadata"]["labels"] == {"version": "1"}
    container = wf["spec"]["templates"][0]["container"]
    assert container["args"] == ["sleep", "10"]
    assert container["env"] == [{"name": "DEBUG", "value": "true"}]
    assert found(decoded.warnings) == [
        ("metadata.labels.version", 'integer 1 read as the string "1"'),
        ("spec.templates[0].container.args[1]", 'integer 10 read as the string "10"'),
        ("spec.templates[0].container.env[0].value", 'boolean true read as the string "true"'),
    ]


def test_anystring_text_follows_gos_float_formatting() -> None:
    assert [any_string(v) for v in (0, -0.0, 100, 0.1, 1e-7, 2.5e-3, True, False)] == [
        "0", "-0", "100", "0.1", "0.0000001", "0.0025", "true", "false"
    ]  # fmt: skip
    assert any_string(2**53 + 1) == "9007199254740992"  # through a float64, as Argo
    assert any_string(10**400) == str(10**400)  # no float64 holds it: Go's YAML keeps the text


STEPS = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: steps-}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: a
            template: echo
            arguments:
              parameterz: [{name: m, value: x}]
              Parameters: [{name: m, value: y}]
    - name: echo
      inputs: {parameters: [{name: m, default: d}]}
      container: {image: alpine}
"""


@pytest.mark.parametrize("strict", [True, False])
def test_inside_a_step_argo_decodes_leniently_even_when_strict(strict: bool) -> None:
    """Argo's ParallelSteps.UnmarshalJSON decodes a step's contents with plain encoding/json."""
    decoded = decode(doc(STEPS), "Workflow", strict=strict)
    assert decoded.problems == []
    step = decoded.document["spec"]["templates"][0]["steps"][0][0]
    assert step["arguments"] == {"parameters": [{"name": "m", "value": "y"}]}
    where = "spec.templates[0].steps[0][0].arguments"
    messages = dict(found(decoded.warnings))
    assert messages[f"{where}.parameterz"].startswith(
        "unknown field `parameterz` dropped (did you mean `parameters`?)"
    )
    assert messages[f"{where}.Parameters"].startswith("`Parameters` read as `parameters`")
    note = "Argo reads what is inside a step leniently, even with --strict"
    assert all((note in message) == strict for message in messages.values())


@pytest.mark.parametrize("strict", [True, False])
def test_a_steps_own_fields_must_be_exact_in_both_modes(strict: bool) -> None:
    wf = doc(STEPS)
    step = wf["spec"]["templates"][0]["steps"][0][0]
    step["Template"] = step.pop("template")
    step["whenn"] = "true"
    assert found(decode(wf, "Workflow", strict=strict).problems) == [
        (
            "spec.templates[0].steps[0][0].Template",
            "unknown field `Template` (field names are case-sensitive: `template`): a step's own"
            " fields must be exact, with or without --strict, as in Argo",
        ),
        (
            "spec.templates[0].steps[0][0].whenn",
            "unknown field `whenn` (did you mean `when`?): a step's own fields must be exact,"
            " with or without --strict, as in Argo",
        ),
    ]


def test_yaml_keys_become_strings_and_an_unknown_kind_is_left_alone() -> None:
    wf = doc(UNKNOWN_AT_EVERY_DEPTH)
    wf["metadata"]["labels"] = {1: "one", 2.5: "two", "x": "x"}
    wf["metadata"]["annotations"] = {True: "yes"}
    decoded = decode(wf, "Workflow", strict=False)
    assert decoded.document["metadata"]["labels"] == {"1": "one", "2.5": "two", "x": "x"}
    assert decoded.document["metadata"]["annotations"] == {"true": "yes"}
    other = {"kind": "WorkflowEventBinding", "spec": {"whatever": 1}}
    assert decode(copy.deepcopy(other), "WorkflowEventBinding").document == other


# --- loading: every document decoded, problems and warnings named by file -------------------

TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: lib}
spec:
  templates:
    - name: echo
      inputs: {parameters: [{name: n, Default: 5}]}
      container: {image: alpine, command: [echo, "{{inputs.parameters.n}}"], colour: red}
"""


def test_load_documents_decodes_workflow_templates_too(tmp_path: Path) -> None:
    lib = tmp_path / "lib.yaml"
    lib.write_text(TEMPLATE)
    strict = load_documents([], template_paths=[lib])
    assert [(str(p), p.strict_only) for p in strict.problems] == [
        (
            f"{lib}: spec.templates[0].inputs.parameters[0].Default: unknown field `Default`"
            " (field names are case-sensitive: `default`)",
            True,
        ),
        (f"{lib}: spec.templates[0].container.colour: unknown field `colour`", True),
    ]
    lenient = load_documents([], template_paths=[lib], strict=False)
    assert lenient.problems == []
    assert [str(w) for w in lenient.warnings] == [
        f"{lib}: spec.templates[0].inputs.parameters[0].Default: `Default` read as `default`",
        f"{lib}: spec.templates[0].container.colour: unknown field `colour` dropped",
    ]
    echo = lenient.templates.owner("lib", cluster_scope=False).template("echo")
    assert echo["inputs"] == {"parameters": [{"name": "n", "default": "5"}]}
    assert "colour" not in echo["container"]


def test_a_key_given_twice_is_refused_strictly_and_the_later_one_kept_leniently(
    tmp_path: Path,
) -> None:
    wf = tmp_path / "twice.yaml"
    wf.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: t-}\n"
        "spec:\n  entrypoint: first\n  templates:\n"
        "    - {name: main, container: {image: alpine, image: busybox}}\n"
        "  entrypoint: main\n"
    )
    strict = load_documents([wf])
    assert [str(p) for p in strict.problems] == [
        f"{wf}: spec.templates[0].container.image: key `image` given twice on line 7",
        f"{wf}: spec.entrypoint: key `entrypoint` given twice (lines 5 and 8)",
    ]
    lenient = load_documents([wf], strict=False)
    assert lenient.problems == []
    assert [w.as_warning() for w in lenient.warnings] == [
        f"{wf}: spec.templates[0].container.image: warning: key `image` given twice on line 7:"
        " the later one is used",
        f"{wf}: spec.entrypoint: warning: key `entrypoint` given twice (lines 5 and 8):"
        " the later one is used",
    ]
    spec = lenient.workflows[0]["spec"]
    assert spec["entrypoint"] == "main"
    assert spec["templates"][0]["container"]["image"] == "busybox"
