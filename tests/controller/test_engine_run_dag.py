"""The workflow engine runs DAG templates (dependencies, `depends` results, TaskGroups, cycles)
and `retryStrategy` (policies, limit, backoff, expression) as Argo does, on real pods."""

from __future__ import annotations

import json
from pathlib import Path

from tests.controller.test_engine_run import ECHO, FAIL, run_workflow

FLAKY = """
- name: flaky
  retryStrategy: {retry}
  script:
    image: python
    command: [python3]
    source: |
      import sys
      retries = int("{{{{retries}}}}")
      print(retries)
      sys.exit({exit})
"""


def flaky(retry: str, exit: str) -> str:
    """A script template under `retryStrategy` whose exit code is a Python expression of
    `retries` (the attempt number)."""
    return FLAKY.format(retry=retry, exit=exit)


# --- DAG ----------------------------------------------------------------------------------------


def test_a_diamond_runs_in_dependency_order_with_argos_node_links(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: A, template: echo, arguments: {{parameters: [{{name: m, value: a}}]}}}}
    - {{name: B, template: echo, dependencies: [A], arguments: {{parameters: [{{name: m, value: "{{{{tasks.A.outputs.result}}}}b"}}]}}}}
    - {{name: C, template: echo, depends: A, arguments: {{parameters: [{{name: m, value: "{{{{tasks.A.outputs.result}}}}c"}}]}}}}
    - name: D
      template: echo
      depends: B && C
      arguments: {{parameters: [{{name: m, value: "{{{{tasks.B.outputs.result}}}}+{{{{tasks.C.outputs.result}}}}"}}]}}
{ECHO}""",  # noqa: E501
    )

    assert run.phase == "Succeeded", run.explain()
    root = run.node("wf")
    assert root["type"] == "DAG"
    assert run.children("wf") == ["wf.A"]
    assert sorted(run.children("wf.A")) == ["wf.B", "wf.C"]
    assert run.children("wf.B") == ["wf.D"]
    assert run.children("wf.C") == ["wf.D"]
    assert run.outbound("wf") == ["wf.D"]
    assert run.result("wf.D") == "ab+ac"
    for name in ("wf.A", "wf.B", "wf.C", "wf.D"):
        node = run.node(name)
        assert node["boundaryID"] == root["id"], name
        assert node["displayName"] == name[3:]
    # D started only after B and C finished
    assert run.node("wf.D")["startedAt"] >= run.node("wf.B")["finishedAt"]


def test_a_failure_handled_by_a_failed_dependent_leaves_the_dag_succeeded(
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
    - {{name: A, template: fail}}
    - {{name: cleanup, template: echo, depends: A.Failed, arguments: {{parameters: [{{name: m, value: "{{{{tasks.A.exitCode}}}}"}}]}}}}
{ECHO}{FAIL}""",  # noqa: E501
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.node("wf")["phase"] == "Succeeded"
    assert run.node("wf.A")["phase"] == "Failed"
    assert run.result("wf.cleanup") == "3"
    assert run.children("wf.A") == ["wf.cleanup"]
    assert run.outbound("wf") == ["wf.cleanup"]


def test_an_omitted_leaf_on_a_failed_branch_fails_the_dag(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: A, template: fail}}
    - {{name: cleanup, template: echo, depends: A.Failed, arguments: {{parameters: [{{name: m, value: x}}]}}}}
    - {{name: celebrate, template: echo, depends: A.Succeeded, arguments: {{parameters: [{{name: m, value: x}}]}}}}
{ECHO}{FAIL}""",  # noqa: E501
    )

    celebrate = run.node("wf.celebrate")
    assert (celebrate["type"], celebrate["phase"]) == ("Skipped", "Omitted")
    assert celebrate["message"] == "omitted: depends condition not met"
    assert run.node("wf.cleanup")["phase"] == "Succeeded"
    assert run.node("wf")["phase"] == "Failed", run.explain()
    assert run.phase == "Failed"


def test_a_bare_dependency_on_a_failed_task_omits_the_dependent_and_fails_the_dag(
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
    - {{name: A, template: fail}}
    - {{name: B, template: echo, depends: A, arguments: {{parameters: [{{name: m, value: b}}]}}}}
{ECHO}{FAIL}""",
    )

    assert run.phase == "Failed", run.explain()
    assert run.node("wf")["phase"] == "Failed"
    assert run.pods() == ["wf.A"]
    b = run.node("wf.B")
    assert (b["type"], b["phase"]) == ("Skipped", "Omitted"), run.explain()
    assert run.children("wf.A") == ["wf.B"]


def test_a_loop_task_is_a_task_group_and_its_dependents_see_the_aggregate(
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
    - name: L
      template: echo
      arguments: {{parameters: [{{name: m, value: "{{{{item}}}}"}}]}}
      withItems: [a, b]
    - name: after
      template: echo
      depends: L
      arguments: {{parameters: [{{name: m, value: "{{{{tasks.L.outputs.result}}}}"}}]}}
{ECHO}""",
    )

    assert run.phase == "Succeeded", run.explain()
    group = run.node("wf.L")
    assert (group["type"], group["phase"]) == ("TaskGroup", "Succeeded")
    assert group["boundaryID"] == run.node("wf")["id"]
    assert run.children("wf") == ["wf.L"]
    assert run.children("wf.L") == ["wf.L(0:a)", "wf.L(1:b)"]
    # the dependent hangs from every item, not from the group
    assert run.children("wf.L(0:a)") == ["wf.after"]
    assert run.children("wf.L(1:b)") == ["wf.after"]
    assert json.loads(run.result("wf.after")) == ["a", "b"]


def test_any_succeeded_runs_the_dependent_of_a_partly_failed_loop(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - name: L
      template: maybe
      arguments: {{parameters: [{{name: n, value: "{{{{item}}}}"}}]}}
      withItems: [good, bad]
    - name: after
      template: echo
      depends: L.AnySucceeded
      arguments: {{parameters: [{{name: m, value: ran}}]}}
- name: maybe
  inputs: {{parameters: [{{name: n}}]}}
  container: {{image: alpine, command: [sh, -c, "[ {{{{inputs.parameters.n}}}} = good ]"]}}
{ECHO}""",
    )

    group = run.node("wf.L")
    assert (group["type"], group["phase"]) == ("TaskGroup", "Failed"), run.explain()
    assert run.node("wf.L(1:bad)")["phase"] == "Failed"
    assert run.result("wf.after") == "ran", run.explain()
    assert run.phase == "Succeeded"


def test_a_task_group_with_a_tolerated_failed_item_is_failed_but_its_dependent_runs(
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
    - name: L
      template: maybe
      arguments: {{parameters: [{{name: n, value: "{{{{item}}}}"}}]}}
      withItems: [good, bad]
      continueOn: {{failed: true}}
    - {{name: after, template: echo, depends: L, arguments: {{parameters: [{{name: m, value: ran}}]}}}}
- name: maybe
  inputs: {{parameters: [{{name: n}}]}}
  container: {{image: alpine, command: [sh, -c, "[ {{{{inputs.parameters.n}}}} = good ]"]}}
{ECHO}""",  # noqa: E501
    )

    assert run.result("wf.after") == "ran", run.explain()
    assert run.phase == "Succeeded"
    assert run.node("wf.L")["phase"] == "Failed", run.explain()


def test_a_dependency_cycle_is_a_dag_error_naming_the_cycle(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: A, template: echo, depends: C, arguments: {{parameters: [{{name: m, value: a}}]}}}}
    - {{name: B, template: echo, depends: A, arguments: {{parameters: [{{name: m, value: b}}]}}}}
    - {{name: C, template: echo, depends: B, arguments: {{parameters: [{{name: m, value: c}}]}}}}
{ECHO}""",
    )

    assert run.phase in ("Error", "Failed"), run.explain()
    dag = run.node("wf")
    assert dag["phase"] == "Error"
    assert "cycle" in dag["message"]
    assert "A -> C -> B -> A" in dag["message"] or "A -> B -> C -> A" in dag["message"]
    assert run.pods() == []


def test_a_depends_on_an_unknown_task_is_a_dag_error_naming_it(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  dag:
    tasks:
    - {{name: A, template: echo, depends: ghost, arguments: {{parameters: [{{name: m, value: a}}]}}}}
{ECHO}""",  # noqa: E501
    )

    dag = run.node("wf")
    assert dag["phase"] == "Error", run.explain()
    assert "'ghost'" in dag["message"]


# --- retries ------------------------------------------------------------------------------------


def test_retries_on_failure_until_an_attempt_succeeds(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: flaky
templates:
{flaky("{limit: 3}", "0 if retries >= 1 else 1")}""",
    )

    assert run.phase == "Succeeded", run.explain()
    retry = run.node("wf")
    assert (retry["type"], retry["phase"]) == ("Retry", "Succeeded")
    assert run.children("wf") == ["wf(0)", "wf(1)"]
    assert run.node("wf(0)")["phase"] == "Failed"
    assert run.node("wf(0)")["displayName"] == "wf(0)"
    assert run.result("wf(0)") == "0"
    assert run.result("wf(1)") == "1"
    # the Retry node carries its last attempt's outputs
    assert retry["outputs"]["result"] == "1"


def test_a_retried_step_that_never_succeeds_ends_with_no_more_retries_left(
    tmp_path: Path,
) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: x, template: flaky}}
{flaky("{limit: 2, retryPolicy: Always, backoff: {duration: 100ms, factor: 2}}", "1")}""",
    )

    assert run.phase == "Failed", run.explain()
    retry = run.node("wf[0].x")
    assert (retry["type"], retry["phase"]) == ("Retry", "Failed")
    assert retry["message"] == "No more retries left"
    assert run.children("wf[0].x") == ["wf[0].x(0)", "wf[0].x(1)", "wf[0].x(2)"]
    results = [run.result(f"wf[0].x({i})") for i in range(3)]
    assert results == ["0", "1", "2"]
    # the backoff waited between attempts (100ms, then 200ms): attempts never overlap
    assert run.node("wf[0].x(1)")["startedAt"] >= run.node("wf[0].x(0)")["finishedAt"]


def test_retry_policy_on_error_does_not_retry_a_failure(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: flaky
templates:
{flaky("{limit: 2, retryPolicy: OnError}", "1")}""",
    )

    assert run.phase == "Failed", run.explain()
    assert run.children("wf") == ["wf(0)"]
    assert run.node("wf")["message"] == "main: Error (exit code 1)"


def test_retry_policies_for_errored_attempts(tmp_path: Path) -> None:
    # an attempt whose input cannot be resolved is an Error (no pod runs)
    spec = """
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: x, template: broken}}
- name: broken
  retryStrategy: {{limit: 1, retryPolicy: {policy}}}
  inputs:
    parameters:
    - name: p
      valueFrom: {{configMapKeyRef: {{name: nowhere, key: k}}}}
  container: {{image: alpine, command: [echo, "{{{{inputs.parameters.p}}}}"]}}
"""
    on_error = run_workflow(tmp_path / "on-error", spec.format(policy="OnError"))
    assert on_error.children("wf[0].x") == ["wf[0].x(0)", "wf[0].x(1)"], on_error.explain()
    assert on_error.node("wf[0].x(0)")["phase"] == "Error"
    assert "nowhere" in on_error.node("wf[0].x(0)")["message"]
    assert on_error.node("wf[0].x")["message"] == "No more retries left"

    on_failure = run_workflow(tmp_path / "on-failure", spec.format(policy="OnFailure"))
    assert on_failure.children("wf[0].x") == ["wf[0].x(0)"], on_failure.explain()
    assert on_failure.node("wf[0].x")["phase"] == "Error"


def test_retry_expression_reads_the_last_exit_code(tmp_path: Path) -> None:
    # exit 2 on the first attempt (retry: the expression holds), then 1 (stop: it does not)
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: flaky
templates:
{flaky('{limit: 5, expression: "asInt(lastRetry.exitCode) == 2"}', "2 if retries == 0 else 1")}""",
    )

    assert run.phase == "Failed", run.explain()
    assert run.children("wf") == ["wf(0)", "wf(1)"]
    assert run.node("wf(1)")["outputs"]["exitCode"] == "1"
    assert run.node("wf")["phase"] == "Failed"
