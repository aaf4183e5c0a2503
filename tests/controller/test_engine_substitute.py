"""`{{...}}` substitution, `when` conditions and argument resolution, as Argo's controller does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from argoexec.controller.engine import (
    ArgumentError,
    Scope,
    SubstitutionError,
    evaluate_when,
    exit_handler_entries,
    resolve_arguments,
    substitute,
    workflow_scope,
)
from argoexec.controller.engine.scope import with_outputs
from argoexec.controller.engine.substitute import mark_absent_arguments
from argoexec.controller.expr import ExpressionError

GLOBAL = workflow_scope(
    name="hello-world-x7k2p",
    namespace="argo",
    uid="0b1c-uid",
    service_account_name="runner",
    parameters=[{"name": "message", "value": "hello world"}, {"name": "count", "value": 3}],
    labels={"team": "data"},
    annotations={"owner": "alice"},
    creation_timestamp=datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC),
)

STEPS = GLOBAL.child({"inputs.parameters.name": "world"}).with_node_result(
    "steps.flip-coin",
    node_id="hello-world-x7k2p-123",
    phase="Succeeded",
    exit_code="0",
    result="heads",
    parameters={"hello-param": "from step"},
)


def test_a_simple_tag_is_replaced_with_its_value() -> None:
    assert (
        substitute("hi {{inputs.parameters.name}}!", STEPS, allow_unresolved=False) == "hi world!"
    )


def test_whitespace_inside_the_braces_is_ignored() -> None:
    assert substitute("{{ inputs.parameters.name }}", STEPS, allow_unresolved=False) == "world"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{workflow.name}}", "hello-world-x7k2p"),
        ("{{workflow.namespace}}", "argo"),
        ("{{workflow.uid}}", "0b1c-uid"),
        ("{{workflow.serviceAccountName}}", "runner"),
        ("{{workflow.parameters.message}}", "hello world"),
        ("{{workflow.parameters.count}}", "3"),
        ("{{workflow.labels.team}}", "data"),
        ("{{workflow.annotations.owner}}", "alice"),
        ("{{workflow.creationTimestamp}}", "2026-03-04T05:06:07Z"),
        (
            "{{workflow.creationTimestamp.Y}}-{{workflow.creationTimestamp.m}}-"
            "{{workflow.creationTimestamp.d}} {{workflow.creationTimestamp.H}}:"
            "{{workflow.creationTimestamp.M}}:{{workflow.creationTimestamp.S}}",
            "2026-03-04 05:06:07",
        ),
        ("{{workflow.creationTimestamp.s}}", "1772600767"),
        ("{{steps.flip-coin.outputs.result}}", "heads"),
        ("{{steps.flip-coin.outputs.parameters.hello-param}}", "from step"),
        ("{{steps.flip-coin.exitCode}}/{{steps.flip-coin.status}}", "0/Succeeded"),
        ("{{steps.flip-coin.id}}", "hello-world-x7k2p-123"),
    ],
)
def test_argo_global_and_step_variables_resolve(text: str, expected: str) -> None:
    assert substitute(text, STEPS, allow_unresolved=False) == expected


def test_workflow_parameters_is_the_argument_list_as_json() -> None:
    text = substitute("{{workflow.parameters}}", GLOBAL, allow_unresolved=False)
    assert text == '[{"name":"message","value":"hello world"},{"name":"count","value":3}]'


def test_nested_values_are_substituted_and_the_input_is_untouched() -> None:
    template: dict[str, Any] = {
        "container": {"args": ["{{inputs.parameters.name}}", 3, True], "env": []},
        "metadata": {"labels": {"{{workflow.labels.team}}": "x"}},
    }
    result = substitute(template, STEPS, allow_unresolved=False)
    assert result == {
        "container": {"args": ["world", 3, True], "env": []},
        "metadata": {"labels": {"data": "x"}},
    }
    assert template["container"]["args"][0] == "{{inputs.parameters.name}}"


def test_an_unknown_tag_is_kept_verbatim_in_an_early_pass() -> None:
    text = "{{ inputs.parameters.later }} and {{workflow.name}}"
    assert substitute(text, GLOBAL, allow_unresolved=True) == (
        "{{ inputs.parameters.later }} and hello-world-x7k2p"
    )


def test_an_unknown_tag_names_the_tag_and_the_place() -> None:
    spec = yaml.safe_load(
        """
        templates:
        - name: a
        - name: b
        - name: c
          container:
            args: ["{{inputs.parameters.nmae}}"]
        """
    )
    with pytest.raises(SubstitutionError) as caught:
        substitute(spec, STEPS, allow_unresolved=False, location="spec")
    assert caught.value.location == "spec.templates[2].container.args[0]"
    assert "{{inputs.parameters.nmae}}" in str(caught.value)
    assert "spec.templates[2].container.args[0]" in str(caught.value)


def test_odd_keys_are_quoted_in_the_place() -> None:
    with pytest.raises(SubstitutionError, match=r'metadata\.annotations\["a\.b/c"\]'):
        substitute(
            {"metadata": {"annotations": {"a.b/c": "{{nope}}"}}}, GLOBAL, allow_unresolved=False
        )


def test_replacements_are_not_substituted_again() -> None:
    scope = Scope({"inputs.parameters.a": "{{inputs.parameters.b}}", "inputs.parameters.b": "x"})
    assert substitute("{{inputs.parameters.a}}", scope, allow_unresolved=False) == (
        "{{inputs.parameters.b}}"
    )


def test_an_unclosed_tag_is_literal_text() -> None:
    assert substitute("a {{ b", GLOBAL, allow_unresolved=False) == "a {{ b"


def test_a_nested_tag_resolves_the_inner_one_for_a_later_pass() -> None:
    scope = STEPS.child({"inputs.parameters.step": "flip-coin"})
    once = substitute(
        "{{steps.{{inputs.parameters.step}}.outputs.result}}", scope, allow_unresolved=True
    )
    assert once == "{{steps.flip-coin.outputs.result}}"
    assert substitute(once, scope, allow_unresolved=False) == "heads"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{=asInt(workflow.parameters.count) + 1}}", "4"),
        ("{{= steps['flip-coin'].outputs.result == 'heads' ? 'yes' : 'no' }}", "yes"),
        ("{{=sprig.upper(inputs.parameters.name)}}", "WORLD"),
        ("{{=workflow.parameters.message}}", "hello world"),
        ("{{=toJson([1, 2])}}", "[1,2]"),
        ("{{=inputs.parameters.name + '-' + workflow.labels.team}}", "world-data"),
        ("{{=asFloat('1.50')}}", "1.5"),
        ("{{=true}}", "true"),
    ],
)
def test_expression_tags_are_evaluated_and_rendered(text: str, expected: str) -> None:
    assert substitute(text, STEPS, allow_unresolved=False) == expected


def test_expressions_see_step_outputs_as_maps() -> None:
    text = "{{=steps['flip-coin'].outputs.parameters['hello-param']}}"
    assert substitute(text, STEPS, allow_unresolved=False) == "from step"


def test_a_nil_expression_is_an_error() -> None:
    scope = Scope({"inputs.parameters.x": "1"})
    with pytest.raises(SubstitutionError, match="nil"):
        substitute({"args": ["{{=nil}}"]}, scope, allow_unresolved=False)


def test_an_expression_over_a_missing_variable_waits_for_a_later_pass() -> None:
    text = "{{=asInt(inputs.parameters.later) * 2}}"
    assert substitute(text, GLOBAL, allow_unresolved=True) == text
    later = GLOBAL.child({"inputs.parameters.later": "21"})
    assert substitute(text, later, allow_unresolved=False) == "42"


def test_an_expression_over_a_missing_variable_fails_in_the_final_pass() -> None:
    with pytest.raises(SubstitutionError) as caught:
        substitute(
            {"args": ["{{=asInt(inputs.parameters.later)}}"]}, GLOBAL, allow_unresolved=False
        )
    assert caught.value.location == "args[0]"
    assert "inputs.parameters.later" in str(caught.value)


def test_a_malformed_expression_fails_even_in_an_early_pass() -> None:
    with pytest.raises(SubstitutionError, match="invalid expression"):
        substitute("{{=1 +}}", GLOBAL, allow_unresolved=True)


def test_retries_expressions_wait_until_retries_is_known() -> None:
    text = "{{=sprig.int(retries) + 1}}"
    assert substitute(text, GLOBAL, allow_unresolved=True) == text
    assert substitute(text, GLOBAL.with_retry(2), allow_unresolved=False) == "3"


def test_exit_handler_variables_resolve_in_the_exit_handler() -> None:
    scope = GLOBAL.child(
        exit_handler_entries(
            status="Failed",
            failures=[{"displayName": "a", "message": "boom", "phase": "Failed"}],
            duration_seconds=1.5,
        )
    )
    text = "{{workflow.status}} {{workflow.duration}} {{workflow.failures}}"
    status, duration, failures = substitute(text, scope, allow_unresolved=False).split(" ", 2)
    assert (status, duration) == ("Failed", "1.500000")
    # Argo writes the list as a Go-quoted string: decode twice.
    assert failures.startswith('"[{\\"displayName')
    assert json.loads(json.loads(failures)) == [
        {"displayName": "a", "message": "boom", "phase": "Failed"}
    ]
    assert substitute("{{=workflow.status}}", GLOBAL, allow_unresolved=True) == (
        "{{=workflow.status}}"
    )


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("{{steps.flip-coin.outputs.result}} == heads", True),
        ("{{steps.flip-coin.outputs.result}} == tails", False),
        ("{{workflow.parameters.count}} > 2", True),
        ("{{= asInt(workflow.parameters.count) > 5 }}", False),
        ("", True),
    ],
)
def test_when_conditions_substitute_then_evaluate(when: str, expected: bool) -> None:
    assert evaluate_when(when, STEPS) is expected


def test_a_when_with_an_unknown_variable_names_it() -> None:
    with pytest.raises(SubstitutionError, match=r"steps\.nope\.outputs\.result"):
        evaluate_when("{{steps.nope.outputs.result}} == heads", STEPS)


def test_a_malformed_when_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError):
        evaluate_when("{{steps.flip-coin.outputs.result}} == hello-world", STEPS)


def test_template_io_entries_follow_the_template() -> None:
    template = yaml.safe_load(
        """
        inputs:
          parameters: [{name: message, value: hi}, {name: n, value: 2}]
          artifacts: [{name: data, path: /tmp/data}]
        outputs:
          parameters: [{name: out, valueFrom: {path: /tmp/out.txt}}]
          artifacts: [{name: result, path: /tmp/result}]
        """
    )
    scope = GLOBAL.with_template_io(template)
    text = (
        "{{inputs.parameters.message}} {{inputs.parameters.n}} {{inputs.artifacts.data.path}} "
        "{{outputs.parameters.out.path}} {{outputs.artifacts.result.path}}"
    )
    assert substitute(text, scope, allow_unresolved=False) == (
        "hi 2 /tmp/data /tmp/out.txt /tmp/result"
    )
    assert substitute("{{inputs.parameters}}", scope, allow_unresolved=False) == (
        '[{"name":"message","value":"hi"},{"name":"n","value":2}]'
    )
    assert substitute("{{=asInt(inputs.parameters.n) * 2}}", scope, allow_unresolved=False) == "4"


def test_pod_and_node_names_and_retries_resolve() -> None:
    scope = GLOBAL.with_pod(pod_name="wf-main-1", node_name="wf.main").with_retry(
        1, exit_code="1", status="Failed", duration="2.0", message="oops"
    )
    text = "{{pod.name}} {{node.name}} {{retries}} {{lastRetry.exitCode}} {{lastRetry.status}}"
    assert substitute(text, scope, allow_unresolved=False) == "wf-main-1 wf.main 1 1 Failed"


INPUTS = yaml.safe_load(
    """
    parameters:
    - name: message
    - name: greeting
      default: hello
    - name: fixed
      value: "{{workflow.parameters.message}}"
    - name: size
      enum: [small, large]
      default: small
    """
)


def test_arguments_override_defaults_and_defaults_fill_the_gaps() -> None:
    arguments = {
        "parameters": [{"name": "message", "value": "hi"}, {"name": "size", "value": "large"}]
    }
    params = resolve_arguments(INPUTS, arguments, GLOBAL, template_name="print")
    values = {p["name"]: p["value"] for p in params}
    assert values == {
        "message": "hi",
        "greeting": "hello",
        "fixed": "hello world",
        "size": "large",
    }


def test_an_argument_overrides_a_template_value() -> None:
    arguments = {"parameters": [{"name": "message", "value": 7}, {"name": "fixed", "value": "x"}]}
    params = resolve_arguments(INPUTS, arguments, GLOBAL, template_name="print")
    assert {p["name"]: p["value"] for p in params}["fixed"] == "x"
    assert {p["name"]: p["value"] for p in params}["message"] == "7"


def test_a_missing_required_parameter_names_template_and_parameter() -> None:
    with pytest.raises(ArgumentError, match=r"'print'.*inputs\.parameters\.message"):
        resolve_arguments(INPUTS, {}, GLOBAL, template_name="print")


def test_a_value_outside_the_enum_is_rejected() -> None:
    arguments = {
        "parameters": [{"name": "message", "value": "m"}, {"name": "size", "value": "huge"}]
    }
    with pytest.raises(ArgumentError, match=r"size.*'huge'.*\['small', 'large'\]"):
        resolve_arguments(INPUTS, arguments, GLOBAL, template_name="print")


def test_an_argument_value_from_is_kept_for_the_caller() -> None:
    value_from = {"configMapKeyRef": {"name": "cm", "key": "k"}}
    arguments = {"parameters": [{"name": "message", "valueFrom": value_from}]}
    params = resolve_arguments(INPUTS, arguments, GLOBAL, template_name="print")
    assert params[0] == {"name": "message", "valueFrom": value_from}


def test_dag_task_results_and_exported_outputs_resolve() -> None:
    scope = with_outputs(
        GLOBAL.with_node_result("tasks.A", phase="Succeeded", result="7", exit_code="0"),
        {"final": "done"},
    )
    text = "{{tasks.A.outputs.result}} {{=asInt(tasks.A.outputs.result) * 2}} {{tasks.A.status}}"
    assert substitute(text, scope, allow_unresolved=False) == "7 14 Succeeded"
    assert substitute("{{workflow.outputs.parameters.final}}", scope, allow_unresolved=False) == (
        "done"
    )


def test_a_template_resolves_in_argo_two_passes() -> None:
    template = yaml.safe_load(
        """
        name: print
        inputs:
          parameters:
          - name: foo
            default: "  {{workflow.parameters.message}}  "
        container:
          image: alpine
          args: ["echo {{= sprig.trim(inputs.parameters.foo) }} from {{workflow.name}}"]
        """
    )
    template["inputs"]["parameters"] = resolve_arguments(
        template["inputs"], None, GLOBAL, template_name="print"
    )
    first = substitute(template, GLOBAL, allow_unresolved=True)
    assert first["container"]["args"][0] == (
        "echo {{= sprig.trim(inputs.parameters.foo) }} from hello-world-x7k2p"
    )
    final = substitute(first, GLOBAL.with_template_io(first), allow_unresolved=False)
    assert final["container"]["args"] == ["echo hello world from hello-world-x7k2p"]


def test_an_enum_value_with_pending_tags_is_checked_later() -> None:
    inputs = {"parameters": [{"name": "size", "enum": ["s"], "value": "{{inputs.parameters.x}}"}]}
    params = resolve_arguments(inputs, None, GLOBAL, template_name="t")
    assert params[0]["value"] == "{{inputs.parameters.x}}"


# --- inputs evaluated as Argo's SubstituteParams does ----------------------------------------


def test_input_values_and_defaults_are_evaluated_over_the_other_inputs() -> None:
    inputs = yaml.safe_load(
        """
        parameters:
        - {name: name, value: world}
        - {name: shout, default: "{{=sprig.upper(inputs.parameters.name)}}!"}
        - {name: both, value: "{{inputs.parameters.name}} from {{workflow.name}}"}
        """
    )
    params = {p["name"]: p for p in resolve_arguments(inputs, None, GLOBAL, template_name="t")}
    assert params["shout"]["value"] == "WORLD!"
    assert params["shout"]["default"] == "WORLD!"
    assert params["both"]["value"] == "world from hello-world-x7k2p"


def test_an_input_sees_the_others_only_as_the_global_pass_left_them() -> None:
    # Argo substitutes the globals first, then every input with the others' first-pass values:
    # one level of references between inputs, no chains.
    inputs = yaml.safe_load(
        """
        parameters:
        - {name: a, value: "{{inputs.parameters.b}}"}
        - {name: b, value: "{{workflow.name}}"}
        - {name: c, value: "{{inputs.parameters.a}}"}
        """
    )
    values = {p["name"]: p["value"] for p in resolve_arguments(inputs, None, GLOBAL)}
    assert values == {
        "a": "hello-world-x7k2p",
        "b": "hello-world-x7k2p",
        "c": "{{inputs.parameters.b}}",
    }


def test_input_defaults_see_the_node_locals() -> None:
    scope = GLOBAL.with_pod(pod_name="wf-main-1", node_name="wf.main").with_retry(1)
    inputs = {"parameters": [{"name": "tag", "default": "{{=asInt(retries) + 1}}/{{pod.name}}"}]}
    assert resolve_arguments(inputs, None, scope)[0]["value"] == "2/wf-main-1"


def test_an_enum_is_checked_against_the_evaluated_value() -> None:
    inputs = {
        "parameters": [{"name": "size", "enum": ["SMALL"], "default": "{{=sprig.upper('x')}}"}]
    }
    with pytest.raises(ArgumentError, match=r"size value 'X' is not one of"):
        resolve_arguments(inputs, None, GLOBAL, template_name="t")


# --- absent outputs (declared outputs of Skipped/Omitted nodes without a default) -------------

ABSENT = GLOBAL.with_node_result("steps.a", phase="Skipped").with_absent(
    ["steps.a.outputs.parameters.p"]
)


def test_expressions_see_an_absent_output_as_nil() -> None:
    text = "{{= steps.a.outputs.parameters.p ?? 'none'}}"
    assert substitute(text, ABSENT, allow_unresolved=False) == "none"
    with pytest.raises(SubstitutionError, match="invalid operation"):
        substitute("{{= steps.a.outputs.parameters.p + '-x'}}", ABSENT, allow_unresolved=False)


def test_a_plain_tag_naming_an_absent_output_fails_with_the_reason() -> None:
    with pytest.raises(SubstitutionError) as caught:
        substitute(
            "x-{{steps.a.outputs.parameters.p}}", ABSENT, allow_unresolved=False, location="w"
        )
    message = str(caught.value)
    assert "{{steps.a.outputs.parameters.p}}" in message
    assert "Skipped or Omitted node" in message
    # an early pass leaves it for the final one
    assert substitute("{{steps.a.outputs.parameters.p}}", ABSENT, allow_unresolved=True) == (
        "{{steps.a.outputs.parameters.p}}"
    )


def test_an_argument_naming_an_absent_output_leaves_the_input_default() -> None:
    arguments = mark_absent_arguments(
        [{"name": "x", "value": "{{steps.a.outputs.parameters.p}}"}], ABSENT
    )
    assert arguments == [{"name": "x", "absent": "steps.a.outputs.parameters.p"}]
    with_default = {"parameters": [{"name": "x", "default": "fallback"}]}
    params = resolve_arguments(with_default, {"parameters": arguments}, ABSENT)
    assert params[0]["value"] == "fallback"
    without = {"parameters": [{"name": "x"}]}
    with pytest.raises(
        ArgumentError,
        match=r"inputs\.parameters\.x: the argument "
        r"\{\{steps\.a\.outputs\.parameters\.p\}\} names an output of a Skipped",
    ):
        resolve_arguments(without, {"parameters": arguments}, ABSENT, template_name="t")


def test_only_a_pure_reference_is_marked_absent() -> None:
    composite = [{"name": "x", "value": "v-{{steps.a.outputs.parameters.p}}"}]
    assert mark_absent_arguments(composite, ABSENT) == composite
    present = [{"name": "x", "value": "{{steps.a.status}}"}]
    assert mark_absent_arguments(present, ABSENT) == present
