"""Workflow-level `spec.retryStrategy` (Argo's fallback in `woc.retryStrategy`): the default for
every template without its own, steps and DAGs included, so each node is a Retry node whose
attempts are `NAME(0)`, `NAME(1)`...; and `retries` / `lastRetry.*` as Argo gives them to a
retried template and to `retryStrategy.expression`."""

from __future__ import annotations

from pathlib import Path

from tests.controller.test_engine_run import run_workflow

# Fails on its first attempt, succeeds from the second; prints the attempt number.
SECOND_TIME = """
- name: second-time
  script:
    image: python
    command: [python3]
    source: |
      import sys
      print("{{retries}}")
      sys.exit(0 if int("{{retries}}") >= 1 else 1)
"""
ALWAYS_FAILS = """
- name: always-fails
  container: {image: alpine, command: [sh, -c, "exit 1"]}
"""


def test_the_workflow_retry_strategy_wraps_every_node_in_a_retry_node(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
retryStrategy: {{limit: 2}}
onExit: bye
templates:
- name: main
  steps:
  - - {{name: s, template: second-time}}
- name: bye
  container: {{image: alpine, command: [sh, -c, "echo bye"]}}
{SECOND_TIME}""",
    )

    assert run.phase == "Succeeded", run.explain()
    root = run.node("wf")
    assert (root["type"], root["templateName"]) == ("Retry", "main")
    assert run.children("wf") == ["wf(0)"]
    assert run.node("wf(0)")["type"] == "Steps"
    step = run.node("wf(0)[0].s")
    assert (step["type"], step["phase"]) == ("Retry", "Succeeded")
    assert run.children("wf(0)[0].s") == ["wf(0)[0].s(0)", "wf(0)[0].s(1)"]
    assert [run.result(f"wf(0)[0].s({i})") for i in (0, 1)] == ["0", "1"]
    assert run.node("wf(0)[0].s(0)")["phase"] == "Failed"
    # the exit handler is a template like any other: a Retry node too
    assert run.node("wf.onExit")["type"] == "Retry"
    assert run.children("wf.onExit") == ["wf.onExit(0)"]


def test_a_template_retry_strategy_wins_over_the_workflows(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: always-fails
retryStrategy: {{limit: 3}}
templates:
{ALWAYS_FAILS.rstrip()}
  retryStrategy: {{limit: 0}}
""",
    )

    assert run.phase == "Failed", run.explain()
    assert run.children("wf") == ["wf(0)"]
    assert run.node("wf")["message"] == "No more retries left"


def test_a_failing_dag_is_retried_as_a_whole_and_each_task_within_it(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
retryStrategy: {{limit: 1, retryPolicy: Always}}
templates:
- name: main
  dag:
    tasks:
    - {{name: A, template: always-fails}}
{ALWAYS_FAILS}""",
    )

    assert run.phase == "Failed", run.explain()
    assert run.children("wf") == ["wf(0)", "wf(1)"]
    for attempt in ("wf(0)", "wf(1)"):
        assert run.node(attempt)["type"] == "DAG"
        assert run.node(f"{attempt}.A")["type"] == "Retry"
        assert run.children(f"{attempt}.A") == [f"{attempt}.A(0)", f"{attempt}.A(1)"]
    assert len(run.pods()) == 4
    assert run.node("wf")["message"] == "No more retries left"


def test_last_retry_has_argos_defaults_on_the_first_attempt(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: show
retryStrategy: {limit: 1}
templates:
- name: show
  container:
    image: alpine
    command: [sh, -c, 'echo "{{lastRetry.exitCode}}|{{lastRetry.duration}}|{{lastRetry.status}}|{{lastRetry.message}}|{{retries}}"']
""",  # noqa: E501
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.result("wf(0)") == "0|0|||0"


def test_the_retry_expression_sees_the_number_of_the_last_attempt(tmp_path: Path) -> None:
    # Argo's buildRetryStrategyLocalScope: after attempt 0 `retries` is 0, after attempt 1 it
    # is 1, so `retries < 1` allows exactly one retry.
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: always-fails
retryStrategy: {{limit: 5, expression: "asInt(retries) < 1"}}
templates:
{ALWAYS_FAILS}""",
    )

    assert run.children("wf") == ["wf(0)", "wf(1)"], run.explain()
    assert run.node("wf")["message"] == "retryStrategy.expression evaluated to false"
