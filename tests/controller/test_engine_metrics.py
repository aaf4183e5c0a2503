"""`metrics.prometheus` on templates and on the workflow, emitted by the engine as Argo's
controller emits them, on real sandboxed pods: when a node completes (and after each retried
attempt), with the node's variables; the workflow's when it completes; a bad metric is a
warning in the `MetricsError` condition and never fails a node."""

from __future__ import annotations

import re
from pathlib import Path

from argoexec.controller.loop.runner import WorkflowRunner
from tests.controller.test_engine_run import Run, make_runner

SPEC = """
entrypoint: main
arguments: {parameters: [{name: team, value: blue}]}
metrics:
  prometheus:
  - name: wf_runs
    help: workflows by status
    labels: [{key: status, value: "{{workflow.status}}"}, {key: entry, value: "{{status}}"}]
    counter: {value: "1"}
  - name: wf_seconds
    help: workflow duration
    gauge: {value: "{{workflow.duration}}"}
  - name: wf_live
    help: workflow duration, real time
    gauge: {realtime: true, value: "{{workflow.duration}}"}
templates:
- name: main
  metrics:
    prometheus:
    - name: main_children
      help: main retries variable
      gauge: {value: "{{retries}}"}
    - name: main_workflow_seconds
      help: the workflow's duration when main completes
      gauge: {value: "{{workflow.duration}}"}
  steps:
  - - name: produce
      template: produce
      arguments: {parameters: [{name: size, value: "7"}]}
    - name: flaky
      template: flaky
- name: produce
  inputs: {parameters: [{name: size}]}
  outputs: {parameters: [{name: score, valueFrom: {path: /tmp/score}}]}
  metrics:
    prometheus:
    - name: produce_score
      help: score by team
      labels: [{key: team, value: "{{workflow.parameters.team}}"}]
      gauge: {value: "{{outputs.parameters.score}}"}
    - name: produce_size
      help: input size
      histogram: {buckets: [5, 10], value: "{{inputs.parameters.size}}"}
    - name: produce_exit
      help: exit code
      gauge: {value: "{{exitCode}}"}
    - name: produce_seconds
      help: duration
      gauge: {value: "{{duration}}"}
    - name: produce_live
      help: duration, real time
      gauge: {realtime: true, value: "{{duration}}"}
    - name: produce_result_len
      help: result as a number
      when: "{{status}} == Succeeded"
      gauge: {value: "{{outputs.result}}"}
    - name: produce_not_a_number
      help: not a number
      gauge: {value: "{{outputs.parameters.score}} points"}
    - name: bad-name
      help: invalid name
      counter: {value: "1"}
  script:
    image: alpine
    command: [sh]
    source: |
      echo 0.25 > /tmp/score
      echo 42
- name: flaky
  retryStrategy: {limit: 2}
  metrics:
    prometheus:
    - name: flaky_attempts
      help: attempts by status
      labels: [{key: status, value: "{{status}}"}]
      counter: {value: "1"}
  container:
    image: alpine
    command: [sh, -c, "test {{retries}} -ge 1"]
"""


def value(text: str, series: str) -> float:
    """The value of one series in Prometheus text (`name` or `name{labels}`)."""
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, f"no series {series} in:\n{text}"
    return float(match.group(1))


def test_template_and_workflow_metrics_are_emitted_with_their_variables(
    tmp_path: Path,
) -> None:
    runner: WorkflowRunner = make_runner(tmp_path, SPEC)
    run = Run(runner.run())
    text = runner.metrics.text()

    # bad metrics do not fail anything
    assert run.phase == "Succeeded", run.explain()
    assert value(text, 'argo_workflows_produce_score{team="blue"}') == 0.25
    assert value(text, 'argo_workflows_produce_size_bucket{le="5.0"}') == 0.0
    assert value(text, 'argo_workflows_produce_size_bucket{le="10.0"}') == 1.0
    assert value(text, "argo_workflows_produce_size_sum") == 7.0
    assert value(text, "argo_workflows_produce_exit") == 0.0
    assert value(text, "argo_workflows_produce_result_len") == 42.0
    assert 0.0 < value(text, "argo_workflows_produce_seconds") < 60.0
    live = value(text, "argo_workflows_produce_live")
    assert abs(live - value(text, "argo_workflows_produce_seconds")) < 1e-3
    # a retried template: once per failed attempt that is retried, once when it completes
    assert value(text, 'argo_workflows_flaky_attempts{status="Failed"}') == 1.0
    assert value(text, 'argo_workflows_flaky_attempts{status="Succeeded"}') == 1.0
    # a steps node has metrics too; `retries` is its number of children - 1
    assert value(text, "argo_workflows_main_children") == 0.0
    assert 0.0 < value(text, "argo_workflows_main_workflow_seconds") < 120.0
    # the workflow's metrics, with workflow.status and the entrypoint node's status
    assert value(text, 'argo_workflows_wf_runs{entry="Succeeded",status="Succeeded"}') == 1.0
    assert 0.0 < value(text, "argo_workflows_wf_seconds") < 120.0
    assert value(text, "argo_workflows_wf_live") >= value(text, "argo_workflows_wf_seconds") - 1e-3

    conditions = [c for c in run.status["conditions"] if c["type"] != "Completed"]
    assert [c["type"] for c in conditions] == ["MetricsError"]
    message = conditions[0]["message"]
    assert (
        "could not construct metric 'produce_not_a_number': strconv.ParseFloat: "
        'parsing "0.25 points": invalid syntax' in message
    )
    assert "could not construct metric 'bad-name': metric name is invalid" in message
    assert "bad-name" not in text


def test_a_workflow_without_metrics_has_no_metrics_and_no_condition(tmp_path: Path) -> None:
    runner = make_runner(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  container: {image: alpine, command: [sh, -c, "exit 1"]}
""",
    )
    run = Run(runner.run())
    assert run.phase == "Failed"
    conditions = [c["type"] for c in run.status.get("conditions") or []]
    assert "MetricsError" not in conditions
    assert runner.metrics.text() == ""


def test_a_failed_node_emits_its_metrics_with_its_status_and_exit_code(tmp_path: Path) -> None:
    runner = make_runner(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  metrics:
    prometheus:
    - name: failures
      help: failures by exit code
      when: "{{status}} != Succeeded"
      labels: [{key: code, value: "{{exitCode}}"}]
      counter: {value: "1"}
  container: {image: alpine, command: [sh, -c, "exit 3"]}
""",
    )
    run = Run(runner.run())
    assert run.phase == "Failed", run.explain()
    assert value(runner.metrics.text(), 'argo_workflows_failures{code="3"}') == 1.0
