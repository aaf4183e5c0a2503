"""Error versus Failed, as Argo's controller judges them: a DAG takes the phase of its first
failing leaf branch (`assessDAGPhase`), so an Errored leaf makes the DAG, and a workflow whose
entrypoint it is, Error; a steps template is always Failed when a group fails. Real pods; the
Errored node is a pod whose declared output artifact was never written (its `wait` fails, which
Argo reports as Error)."""

from __future__ import annotations

from pathlib import Path

from tests.controller.test_engine_run import ECHO, FAIL, run_workflow

ERRS = """
- name: errs
  container: {image: alpine, command: [sh, -c, "echo no artifact"]}
  outputs: {artifacts: [{name: out, path: /tmp/never-written.txt}]}
"""
OK = """
- name: ok
  container: {image: alpine, command: [sh, -c, "echo ok"]}
"""


def test_a_dag_whose_leaf_errors_is_an_error_and_so_is_the_workflow(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: A, template: ok}}
    - {{name: B, template: errs, dependencies: [A]}}
{OK}{ERRS}""",
    )

    assert run.node("wf.B")["phase"] == "Error", run.explain()
    assert run.node("wf")["phase"] == "Error"
    assert run.node("wf")["message"] == f"child '{run.node('wf.B')['id']}' failed"
    assert run.phase == "Error"


def test_an_omitted_leaf_below_an_errored_task_makes_the_dag_error(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: A, template: errs}}
    - {{name: B, template: ok, depends: A}}
{OK}{ERRS}""",
    )

    assert run.node("wf.B")["phase"] == "Omitted", run.explain()
    assert run.node("wf")["phase"] == "Error"
    assert run.phase == "Error"


def test_a_skipped_leaf_inherits_the_failure_of_its_branch(tmp_path: Path) -> None:
    # A fails (tolerated by its dependent's `dependencies`, thanks to continueOn), B is skipped
    # by its `when`: Argo's walk gives B the branch phase Failed, and B has no continueOn.
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: A, template: fail, continueOn: {{failed: true}}}}
    - {{name: B, template: ok, dependencies: [A], when: "1 == 2"}}
{OK}{FAIL}""",
    )

    assert run.node("wf.B")["phase"] == "Skipped", run.explain()
    assert run.node("wf")["phase"] == "Failed"
    assert run.phase == "Failed"


def test_continue_on_error_spares_the_dag_but_continue_on_failed_does_not(
    tmp_path: Path,
) -> None:
    spec = """
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: A, template: errs, continueOn: {continue_on}}}
""" + ERRS.replace("{", "{{").replace("}", "}}")

    spared = run_workflow(tmp_path / "error", spec.format(continue_on="{error: true}"))
    assert spared.node("wf.A")["phase"] == "Error", spared.explain()
    assert spared.phase == "Succeeded"

    not_spared = run_workflow(tmp_path / "failed", spec.format(continue_on="{failed: true}"))
    assert not_spared.node("wf")["phase"] == "Error", not_spared.explain()
    assert not_spared.phase == "Error"


def test_a_retried_leaf_that_keeps_erroring_makes_the_dag_error(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: A, template: errs-retried}}
{ERRS.replace("name: errs", "name: errs-retried").rstrip()}
  retryStrategy: {{limit: 1, retryPolicy: Always}}
""",
    )

    retry = run.node("wf.A")
    assert (retry["type"], retry["phase"]) == ("Retry", "Error"), run.explain()
    assert run.children("wf.A") == ["wf.A(0)", "wf.A(1)"]
    assert run.node("wf")["phase"] == "Error"
    assert run.phase == "Error"


def test_a_steps_item_is_failed_even_when_its_step_errored(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: L, template: by-item, arguments: {{parameters: [{{name: what, value: "{{{{item}}}}"}}]}}, withItems: [fail, errs]}}
- name: by-item
  inputs: {{parameters: [{{name: what}}]}}
  steps:
  - - {{name: fail, template: fail, when: "{{{{inputs.parameters.what}}}} == fail"}}
    - {{name: errs, template: errs, when: "{{{{inputs.parameters.what}}}} == errs"}}
{FAIL}{ERRS}""",  # noqa: E501
    )

    # each item is a steps template, always Failed; the DAG task group takes the last one
    assert run.node("wf.L(0:fail)")["phase"] == "Failed", run.explain()
    assert run.node("wf.L(1:errs)")["phase"] == "Failed"
    assert run.node("wf.L(1:errs)[0].errs")["phase"] == "Error"
    assert run.node("wf.L")["phase"] == "Failed"
    assert run.phase == "Failed"


def test_a_task_group_whose_last_failed_item_errored_is_an_error(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: L, template: "{{{{item}}}}", withItems: [fail, errs]}}
{FAIL}{ERRS}""",
    )

    assert run.node("wf.L(0:fail)")["phase"] == "Failed", run.explain()
    assert run.node("wf.L(1:errs)")["phase"] == "Error"
    assert run.node("wf.L")["phase"] == "Error"
    assert run.node("wf")["phase"] == "Error"


def test_a_dag_nested_in_steps_errors_but_the_steps_template_fails(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: inner, template: inner-dag}}
- name: inner-dag
  dag:
    tasks:
    - {{name: A, template: errs}}
{ERRS}""",
    )

    assert run.node("wf[0].inner.A")["phase"] == "Error", run.explain()
    assert run.node("wf[0].inner")["phase"] == "Error"
    assert run.node("wf[0]")["phase"] == "Failed"
    assert run.node("wf")["phase"] == "Failed"
    assert run.phase == "Failed"


def test_steps_nested_in_a_dag_fail_and_so_does_the_dag(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: A, template: inner-steps}}
- name: inner-steps
  steps:
  - - {{name: s, template: errs}}
{ERRS}""",
    )

    assert run.node("wf.A[0].s")["phase"] == "Error", run.explain()
    assert run.node("wf.A")["phase"] == "Failed"
    assert run.node("wf")["phase"] == "Failed"
    assert run.phase == "Failed"


def test_a_depends_that_cannot_be_evaluated_is_an_error_node(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: A, template: echo, arguments: {{parameters: [{{name: m, value: a}}]}}}}
    - {{name: B, template: echo, depends: "A &&", arguments: {{parameters: [{{name: m, value: b}}]}}}}
{ECHO}""",  # noqa: E501
    )

    node = run.node("wf.B")
    assert (node["type"], node["phase"]) == ("Skipped", "Error"), run.explain()
    assert "depends 'A &&'" in node["message"]
    assert run.children("wf.A") == ["wf.B"]
    assert run.node("wf")["phase"] == "Error"


def test_a_step_that_errors_before_it_runs_makes_its_group_error(tmp_path: Path) -> None:
    # Argo's executeStepGroup: executeTemplate returning an error (here: no such template)
    # marks the group Error, continueOn or not; a pod that ends in Error only fails it.
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: ok, template: ok}}
    - {{name: pod-error, template: errs, continueOn: {{error: true}}}}
  - - {{name: missing, template: no-such-template, continueOn: {{error: true}}}}
{OK}{ERRS}""",
    )

    assert run.node("wf[0]")["phase"] == "Succeeded", run.explain()
    group = run.node("wf[1]")
    assert group["phase"] == "Error"
    assert group["message"] == (
        "step group deemed errored due to child wf[1].missing error: "
        "template 'no-such-template' not found in the workflow"
    )
    assert run.node("wf")["phase"] == "Failed"
    assert run.node("wf")["message"] == group["message"]
    assert run.phase == "Failed"


def test_a_loop_that_cannot_be_expanded_makes_its_group_error(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: loop, template: ok, withParam: "not a list"}}
{OK}""",
    )

    assert run.node("wf[0].loop")["phase"] == "Error", run.explain()
    assert run.node("wf[0]")["phase"] == "Error"
    assert "could not be parsed as a JSON list" in run.node("wf[0]")["message"]
    assert run.node("wf")["phase"] == "Failed"
