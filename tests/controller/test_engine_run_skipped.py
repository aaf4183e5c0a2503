"""Outputs of Skipped and Omitted nodes, as Argo v4 (`addSkippedNodeOutputsToScope`,
`markAbsentOptionalArgs`): a declared output parameter takes its `valueFrom.default`; without
one it is absent, so a `??` in an expression falls back, a pure reference in an argument lets
the consumer's input default apply, and every other reference (a value containing it, `when`,
`withParam`, an artifact, with or without `subPath`) makes the consumer an Error naming it.
A loop over no items is a Skipped node ("Skipped, empty params") like any other."""

from __future__ import annotations

from pathlib import Path

from tests.controller.test_engine_run import ECHO, run_workflow

PRODUCER = """
- name: producer
  container: {image: alpine, command: [sh, -c, "echo real > /tmp/p; echo real > /tmp/q; echo a > /tmp/a"]}
  outputs:
    parameters:
    - {name: p, valueFrom: {path: /tmp/p, default: dflt}}
    - {name: q, valueFrom: {path: /tmp/q}}
    artifacts:
    - {name: a, path: /tmp/a}
"""  # noqa: E501
ECHO_DEFAULT = """
- name: echo-default
  inputs: {parameters: [{name: m, default: "consumer default"}]}
  container: {image: alpine, command: [sh, -c, 'echo "$M"'], env: [{name: M, value: "{{inputs.parameters.m}}"}]}
"""  # noqa: E501
CONSUME_ART = """
- name: consume-art
  inputs: {artifacts: [{name: in, path: /tmp/in}]}
  container: {image: alpine, command: [cat, /tmp/in]}
"""


def test_steps_see_a_skipped_steps_defaults_and_fall_back_on_the_rest(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: producer, template: producer, when: "1 == 2"}}
  - - {{name: plain, template: echo, arguments: {{parameters: [{{name: m, value: "{{{{steps.producer.outputs.parameters.p}}}}"}}]}}}}
    - {{name: expr, template: echo, arguments: {{parameters: [{{name: m, value: "{{{{=steps.producer.outputs.parameters.q ?? 'no q'}}}}"}}]}}}}
    - {{name: dflt, template: echo-default, arguments: {{parameters: [{{name: m, value: "{{{{steps.producer.outputs.parameters.q}}}}"}}]}}}}
  outputs:
    parameters:
    - {{name: out, valueFrom: {{parameter: "{{{{steps.producer.outputs.parameters.p}}}}"}}}}
    - {{name: fallback, valueFrom: {{parameter: "{{{{steps.producer.outputs.parameters.q}}}}", default: none}}}}
{PRODUCER}{ECHO}{ECHO_DEFAULT}""",  # noqa: E501
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.node("wf[0].producer")["phase"] == "Skipped"
    assert run.result("wf[1].plain") == "dflt"
    assert run.result("wf[1].expr") == "no q"
    assert run.result("wf[1].dflt") == "consumer default"
    assert run.parameter("wf", "out") == "dflt"
    assert run.parameter("wf", "fallback") == "none"


def test_dag_tasks_see_an_omitted_tasks_defaults_and_fall_back_on_the_rest(
    tmp_path: Path,
) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: A, template: echo, arguments: {{parameters: [{{name: m, value: a}}]}}}}
    - {{name: P, template: producer, depends: A.Failed}}
    - {{name: plain, template: echo, depends: P.Omitted, arguments: {{parameters: [{{name: m, value: "{{{{tasks.P.outputs.parameters.p}}}}"}}]}}}}
    - {{name: expr, template: echo, depends: P.Omitted, arguments: {{parameters: [{{name: m, value: "{{{{=tasks.P.outputs.parameters.q ?? 'no q'}}}}"}}]}}}}
    - {{name: dflt, template: echo-default, depends: P.Omitted, arguments: {{parameters: [{{name: m, value: "{{{{tasks.P.outputs.parameters.q}}}}"}}]}}}}
{PRODUCER}{ECHO}{ECHO_DEFAULT}""",  # noqa: E501
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.node("wf.P")["phase"] == "Omitted"
    assert run.result("wf.plain") == "dflt"
    assert run.result("wf.expr") == "no q"
    assert run.result("wf.dflt") == "consumer default"


def test_references_to_absent_outputs_make_each_consumer_an_error(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: P, template: producer, when: "1 == 2"}}
    - {{name: composite, template: echo, depends: P, arguments: {{parameters: [{{name: m, value: "v={{{{tasks.P.outputs.parameters.q}}}}"}}]}}}}
    - {{name: required, template: echo, depends: P, arguments: {{parameters: [{{name: m, value: "{{{{tasks.P.outputs.parameters.q}}}}"}}]}}}}
    - {{name: nil, template: echo, depends: P, arguments: {{parameters: [{{name: m, value: "{{{{=tasks.P.outputs.parameters.q}}}}"}}]}}}}
    - {{name: cond, template: echo, depends: P, when: "{{{{tasks.P.outputs.parameters.q}}}} == real", arguments: {{parameters: [{{name: m, value: c}}]}}}}
    - {{name: loop, template: echo, depends: P, withParam: "{{{{tasks.P.outputs.parameters.q}}}}", arguments: {{parameters: [{{name: m, value: "{{{{item}}}}"}}]}}}}
    - {{name: art, template: consume-art, depends: P, arguments: {{artifacts: [{{name: in, from: "{{{{tasks.P.outputs.artifacts.a}}}}"}}]}}}}
    - {{name: sub, template: consume-art, depends: P, arguments: {{artifacts: [{{name: in, from: "{{{{tasks.P.outputs.artifacts.a}}}}", subPath: x}}]}}}}
{PRODUCER}{ECHO}{CONSUME_ART}""",  # noqa: E501
    )

    assert run.node("wf.P")["phase"] == "Skipped", run.explain()
    ref = "{{tasks.P.outputs.parameters.q}}"
    for name in ("composite", "required", "nil", "cond", "loop", "art", "sub"):
        node = run.node(f"wf.{name}")
        assert node["phase"] == "Error", (name, run.explain())
    for name in ("composite", "cond", "loop"):
        message = run.node(f"wf.{name}")["message"]
        assert ref in message, message
        assert "Skipped or Omitted node" in message, message
    assert f"the argument {ref} names an output of a Skipped" in run.node("wf.required")["message"]
    assert "evaluated to nil" in run.node("wf.nil")["message"]
    for name in ("art", "sub"):
        message = run.node(f"wf.{name}")["message"]
        assert "{{tasks.P.outputs.artifacts.a}} names an output of 'P', which was Skipped" in (
            message
        )
    # nothing was accepted silently: no consumer ever ran a pod
    assert [n["name"] for n in run.nodes.values() if n.get("hostNodeName")] == []
    assert run.phase == "Error"


def test_a_step_reference_to_an_absent_output_is_an_error_node(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: producer, template: producer, when: "1 == 2"}}
  - - {{name: required, template: echo, arguments: {{parameters: [{{name: m, value: "{{{{steps.producer.outputs.parameters.q}}}}"}}]}}}}
    - {{name: art, template: consume-art, arguments: {{artifacts: [{{name: in, from: "{{{{steps.producer.outputs.artifacts.a}}}}"}}]}}}}
    - {{name: optional, template: consume-art, arguments: {{artifacts: [{{name: in, from: "{{{{steps.producer.outputs.artifacts.a}}}}", optional: true}}]}}}}
{PRODUCER}{ECHO}{CONSUME_ART}""",  # noqa: E501
    )

    assert run.node("wf[1].required")["phase"] == "Error", run.explain()
    assert "{{steps.producer.outputs.parameters.q}}" in run.node("wf[1].required")["message"]
    assert run.node("wf[1].art")["phase"] == "Error"
    assert "which was Skipped" in run.node("wf[1].art")["message"]
    # an optional argument is dropped; the input it would have filled is then missing
    optional = run.node("wf[1].optional")
    assert optional["phase"] == "Error"
    assert "inputs.artifacts.in was not supplied" in optional["message"]
    assert run.phase == "Failed"


def test_a_loop_over_no_items_is_skipped_and_its_defaults_flow_on(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: none, template: producer, withParam: "[]"}}
  - - {{name: after, template: echo, arguments: {{parameters: [{{name: m, value: "{{{{steps.none.outputs.parameters.p}}}}"}}]}}}}
    - {{name: dag, template: inner}}
- name: inner
  dag:
    tasks:
    - {{name: none, template: echo, withItems: [], arguments: {{parameters: [{{name: m, value: once}}]}}}}
    - {{name: seq, template: producer, withSequence: {{count: "0"}}}}
    - {{name: after, template: echo, depends: seq, arguments: {{parameters: [{{name: m, value: "{{{{tasks.seq.outputs.parameters.p}}}}"}}]}}}}
{PRODUCER}{ECHO}""",  # noqa: E501
    )

    assert run.phase == "Succeeded", run.explain()
    for name in ("wf[0].none", "wf[1].dag.seq"):
        node = run.node(name)
        assert (node["type"], node["phase"]) == ("Skipped", "Skipped"), name
        assert node["message"] == "Skipped, empty params"
    assert run.children("wf[0].none") == ["wf[1]"]
    assert run.result("wf[1].after") == "dflt"
    assert run.result("wf[1].dag.after") == "dflt"
    # an empty withItems is not a loop: the task runs once, as in Argo
    assert run.result("wf[1].dag.none") == "once"
