"""Conformance with Argo's own example workflows (examples/ in argoproj/argo-workflows), each
case reduced to a minimal workflow of our own that shows one behaviour of Argo's controller:
exit hooks (`hooks.exit` on a step or task, the arguments an exit handler receives), the
workflow phase and message when only the exit handler fails, the text of `{{workflow.failures}}`,
and a few shapes the other `test_engine_run_*` modules do not cover (templateDefaults, inline
templates, `valueFrom.expression` / `fromExpression` over skipped steps, aggregated output
parameters feeding `withParam`, enhanced `depends`).

Cases marked xfail are engine discrepancies found by that check; each reason names the place.
"""

from __future__ import annotations

import json
from pathlib import Path

from argoexec.models import ArtifactRepository
from tests.controller.test_engine_run import ECHO, FAIL, run_workflow

# --- exit hooks ---------------------------------------------------------------------------------

EXIT_ECHO = """
- name: exit-echo
  inputs: {parameters: [{name: message}]}
  container:
    image: alpine
    command: [sh, -c, 'echo "exit got $M"']
    env: [{name: M, value: "{{inputs.parameters.message}}"}]
"""
PRODUCE = """
- name: produce
  container: {image: alpine, command: [sh, -c, "printf blue > /tmp/colour"]}
  outputs:
    parameters: [{name: colour, valueFrom: {path: /tmp/colour}}]
"""


def test_a_step_exit_hook_runs_with_arguments_from_the_step_outputs(tmp_path: Path) -> None:
    # Argo's examples/exit-handler-with-param.yaml
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - name: a
      template: produce
      hooks:
        exit:
          template: exit-echo
          arguments:
            parameters: [{{name: message, value: "{{{{steps.a.outputs.parameters.colour}}}}"}}]
{PRODUCE}{EXIT_ECHO}""",
    )

    assert run.phase == "Succeeded", run.explain()
    hook = run.node("wf[0].a.onExit")
    assert (hook["displayName"], hook["phase"]) == ("a.onExit", "Succeeded"), run.explain()
    assert run.result("wf[0].a.onExit") == "exit got blue"


def test_a_task_exit_hook_runs_with_arguments_from_the_task_outputs(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - name: a
      template: produce
      hooks:
        exit:
          template: exit-echo
          arguments:
            parameters: [{{name: message, value: "{{{{tasks.a.outputs.parameters.colour}}}}"}}]
{PRODUCE}{EXIT_ECHO}""",
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.node("wf.a.onExit")["phase"] == "Succeeded", run.explain()
    assert run.result("wf.a.onExit") == "exit got blue"


def test_the_workflow_exit_handler_receives_the_workflow_arguments(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
onExit: exit-echo
arguments: {{parameters: [{{name: message, value: hi}}]}}
templates:
- name: main
  container: {{image: alpine, command: [sh, -c, "echo ok"]}}
{EXIT_ECHO}""",
    )

    assert run.node("wf.onExit")["phase"] == "Succeeded", run.explain()
    assert run.result("wf.onExit") == "exit got hi"
    assert run.phase == "Succeeded", run.explain()


def test_the_workflow_exit_hook_passes_its_own_arguments(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
hooks:
  exit:
    template: exit-echo
    arguments: {{parameters: [{{name: message, value: "{{{{workflow.status}}}}"}}]}}
templates:
- name: main
  container: {{image: alpine, command: [sh, -c, "echo ok"]}}
{EXIT_ECHO}""",
    )

    assert run.node("wf.onExit")["phase"] == "Succeeded", run.explain()
    assert run.result("wf.onExit") == "exit got Succeeded"


def test_a_failing_exit_handler_gives_the_workflow_its_message(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
onExit: fail
templates:
- name: main
  container: {{image: alpine, command: [sh, -c, "echo ok"]}}
{FAIL}""",
    )

    assert run.phase == "Failed", run.explain()
    assert run.message == run.node("wf.onExit")["message"] == "main: Error (exit code 3)"


def test_workflow_failures_keep_argos_field_order(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: fail
onExit: report
templates:
- name: report
  script:
    image: python
    command: [python3]
    source: |
      import json
      failures = json.loads(json.loads(r'''{{{{workflow.failures}}}}'''))
      print(json.dumps(list(failures[0])))
{FAIL}""",
    )

    assert run.node("wf.onExit")["phase"] == "Succeeded", run.explain()
    keys = json.loads(run.result("wf.onExit"))
    assert keys == ["displayName", "message", "templateName", "phase", "podName", "finishedAt"]


# --- behaviours that already conform (not covered elsewhere) ------------------------------------


def test_template_defaults_apply_to_every_template_including_steps(tmp_path: Path) -> None:
    # Argo's examples/template-defaults.yaml: the retryStrategy default is merged into the steps
    # template too (mergedTemplateDefaultsInto), so the root is a Retry node.
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templateDefaults: {{retryStrategy: {{limit: "1"}}}}
templates:
- name: main
  steps:
  - - {{name: a, template: echo, arguments: {{parameters: [{{name: m, value: x}}]}}}}
{ECHO}""",
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.node("wf")["type"] == "Retry"
    assert run.node("wf(0)")["type"] == "Steps"
    assert run.node("wf(0)[0].a")["type"] == "Retry"
    assert run.result("wf(0)[0].a(0)") == "x"


def test_outputs_chosen_by_expression_over_a_skipped_step(tmp_path: Path) -> None:
    # Argo's examples/conditional-parameters.yaml and conditional-artifacts.yaml
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  steps:
  - - {name: pick, template: say, arguments: {parameters: [{name: m, value: tails}]}}
  - - name: heads
      template: write
      arguments: {parameters: [{name: m, value: heads}]}
      when: "{{steps.pick.outputs.result}} == heads"
    - name: tails
      template: write
      arguments: {parameters: [{name: m, value: tails}]}
      when: "{{steps.pick.outputs.result}} == tails"
  outputs:
    parameters:
    - name: chosen
      valueFrom:
        expression: "steps.pick.outputs.result == 'heads' ? steps.heads.outputs.result : steps.tails.outputs.result"
    artifacts:
    - name: file
      fromExpression: "steps['pick'].outputs.result == 'heads' ? steps.heads.outputs.artifacts.out : steps.tails.outputs.artifacts.out"
- name: say
  inputs: {parameters: [{name: m}]}
  container: {image: alpine, command: [echo, "{{inputs.parameters.m}}"]}
- name: write
  inputs: {parameters: [{name: m}]}
  container: {image: alpine, command: [sh, -c, "echo {{inputs.parameters.m}} | tee /tmp/out"]}
  outputs: {artifacts: [{name: out, path: /tmp/out}]}
""",  # noqa: E501
        artifact_repository=ArtifactRepository.model_validate(
            {"local": {"root": str(tmp_path / "repo")}}
        ),
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.node("wf[1].heads")["phase"] == "Skipped"
    assert run.parameter("wf", "chosen") == "tails"
    [art] = run.node("wf")["outputs"]["artifacts"]
    [tails_out] = run.node("wf[1].tails")["outputs"]["artifacts"]
    assert art["name"] == "file"
    assert art["local"] == tails_out["local"]


def test_aggregated_output_parameters_feed_with_param_and_when_over_items(
    tmp_path: Path,
) -> None:
    # Argo's examples/parameter-aggregation.yaml, reduced
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  steps:
  - - name: classify
      template: classify
      arguments: {parameters: [{name: num, value: "{{item}}"}]}
      withItems: [1, 2]
  - - name: half
      template: half
      arguments: {parameters: [{name: num, value: "{{item.num}}"}]}
      withParam: "{{steps.classify.outputs.parameters}}"
      when: "{{item.evenness}} == even"
- name: classify
  inputs: {parameters: [{name: num}]}
  container:
    image: alpine
    command: [sh, -c]
    args:
    - |
      echo {{inputs.parameters.num}} > /tmp/num
      if [ $(({{inputs.parameters.num}}%2)) -eq 0 ]; then echo even; else echo odd; fi > /tmp/even
  outputs:
    parameters:
    - {name: num, valueFrom: {path: /tmp/num}}
    - {name: evenness, valueFrom: {path: /tmp/even}}
- name: half
  inputs: {parameters: [{name: num}]}
  script: {image: alpine, command: [sh], source: "echo $(({{inputs.parameters.num}}/2))"}
""",
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.node("wf[1].half(0:evenness:odd,num:1)")["phase"] == "Skipped"
    assert run.result("wf[1].half(1:evenness:even,num:2)") == "1"


def test_enhanced_depends_runs_omits_and_succeeds_as_argo(tmp_path: Path) -> None:
    # Argo's examples/dag-enhanced-depends.yaml: the failed C is handled by a dependent, the
    # omitted task is not a leaf, so the DAG succeeds.
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: A, template: ok}}
    - {{name: B, depends: A, template: ok}}
    - {{name: C, depends: A, template: fail}}
    - {{name: run1, depends: "A && (C.Succeeded || C.Failed)", template: ok}}
    - {{name: run2, depends: B || C, template: ok}}
    - {{name: never, depends: B && C, template: ok}}
    - {{name: run3, depends: run2.Succeeded || never, template: ok}}
- name: ok
  container: {{image: alpine, command: [sh, -c, "exit 0"]}}
{FAIL}""",
    )

    assert run.phase == "Succeeded", run.explain()
    never = run.node("wf.never")
    assert (never["type"], never["phase"]) == ("Skipped", "Omitted")
    assert never["message"] == "omitted: depends condition not met"
    for name in ("wf.run1", "wf.run2", "wf.run3"):
        assert run.node(name)["phase"] == "Succeeded", run.explain()


def test_inline_templates_in_steps_and_dag(tmp_path: Path) -> None:
    # Argo's examples/steps-inline-workflow.yaml and dag-inline-workflow.yaml
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  steps:
  - - name: a
      inline:
        container: {image: alpine, command: [sh, -c, "echo from-steps"]}
  - - name: d
      inline:
        dag:
          tasks:
          - name: t
            inline:
              container: {image: alpine, command: [sh, -c, "echo from-dag"]}
""",
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.result("wf[0].a") == "from-steps"
    assert run.node("wf[1].d")["type"] == "DAG"
    assert run.result("wf[1].d.t") == "from-dag"


def test_an_errored_exit_handler_makes_a_succeeded_workflow_error(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
onExit: lost
templates:
- name: main
  container: {image: alpine, command: [sh, -c, "echo ok"]}
- name: lost
  container: {image: alpine, command: [sh, -c, "echo no file"]}
  outputs:
    parameters: [{name: p, valueFrom: {path: /tmp/missing}}]
""",
    )

    exit_node = run.node("wf.onExit")
    assert exit_node["phase"] == "Error", run.explain()
    assert (run.phase, run.message) == ("Error", exit_node["message"])


def test_a_dag_still_starts_tasks_that_become_ready_after_an_unrelated_failure(
    tmp_path: Path,
) -> None:
    # Argo's examples/dag-continue-on-fail.yaml: D (after B and C) runs although E failed
    # while C was still running.
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: bad, template: fail}}
    - {{name: slow, template: slow}}
    - {{name: after, depends: slow, template: slow}}
- name: slow
  container: {{image: alpine, command: [sh, -c, "sleep 1.5; echo done"]}}
{FAIL}""",
    )

    assert run.phase == "Failed", run.explain()
    assert run.node("wf.after")["phase"] == "Succeeded", run.explain()


def test_step_group_nodes_carry_no_template_name(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: a, template: echo, arguments: {{parameters: [{{name: m, value: x}}]}}}}
{ECHO}""",
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.node("wf")["templateName"] == "main"
    assert "templateName" not in run.node("wf[0]")


def test_workflow_failures_is_null_when_nothing_failed(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
onExit: report
templates:
- name: main
  container: {image: alpine, command: [sh, -c, "echo ok"]}
- name: report
  script:
    image: python
    command: [python3]
    source: |
      print(repr(r'''{{workflow.failures}}'''))
""",
    )

    assert run.node("wf.onExit")["phase"] == "Succeeded", run.explain()
    assert run.result("wf.onExit") == repr('"null"')
