"""The workflow engine's exit handlers, suspend/resume, stop and deadlines, on real pods.

Stop and resume go through the runner's `control` object, which the test drives from the
runner's `on_change` snapshots (both are called from the runner's publisher thread).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from argoexec.controller.loop.runner import WorkflowRunner
from argoexec.controller.pod.naming import node_id, pod_name
from tests.controller.test_engine_run import ECHO, FAIL, Run, make_runner, run_workflow

SLEEPER = """
- name: sleeper
  container: {image: alpine, command: [sh, -c, "echo started; sleep 20; echo done"]}
"""


def _node(workflow: dict[str, Any], name: str) -> dict[str, Any] | None:
    for node in (workflow.get("status") or {}).get("nodes", {}).values():
        if node["name"] == name:
            found: dict[str, Any] = node
            return found
    return None


class Control:
    """Stop and resume requests, raised when a snapshot satisfies a condition."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stop: str | None = None
        self._resume: list[str | None] = []
        self._supplied: list[tuple[str | None, dict[str, str]]] = []
        self.resumes_sent = 0
        self.runner: WorkflowRunner | None = None
        self.on_snapshot: Callable[[Control, dict[str, Any]], None] = lambda _c, _w: None
        self.on_poll: Callable[[Control], None] = lambda _c: None

    def stop(self, message: str) -> None:
        with self._lock:
            self._stop = message

    def resume(self, node: str | None, supplied: dict[str, str] | None = None) -> None:
        with self._lock:
            if supplied:
                self._supplied.append((node, supplied))
            self._resume.append(node)
            self.resumes_sent += 1

    # the runner's Control protocol
    def stop_requested(self) -> str | None:
        self.on_poll(self)
        with self._lock:
            return self._stop

    def take_resume_requests(self) -> list[str | None]:
        with self._lock:
            taken, self._resume = self._resume, []
            return taken

    def take_supplied(self) -> list[tuple[str | None, dict[str, str]]]:
        with self._lock:
            taken, self._supplied = self._supplied, []
            return taken

    def changed(self, workflow: dict[str, Any]) -> None:
        self.on_snapshot(self, workflow)


def run_controlled(
    tmp_path: Path,
    spec: str,
    *,
    on_snapshot: Callable[[Control, dict[str, Any]], None] | None = None,
    on_poll: Callable[[Control], None] | None = None,
) -> Run:
    """Run with a `Control`: `on_snapshot` sees each published Workflow, `on_poll` runs each
    time the runner polls for a stop request (every poll interval)."""
    control = Control()
    if on_snapshot is not None:
        control.on_snapshot = on_snapshot
    if on_poll is not None:
        control.on_poll = on_poll
    runner = make_runner(tmp_path, spec, control=control, on_change=control.changed)
    control.runner = runner
    return Run(runner.run())


# --- exit handlers ------------------------------------------------------------------------------


def test_the_workflow_exit_handler_sees_the_status_and_the_failures(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
onExit: report
templates:
- name: main
  steps:
  - - {{name: bad, template: fail}}
- name: report
  script:
    image: python
    command: [python3]
    source: |
      import json
      failures = json.loads(json.loads(r'''{{{{workflow.failures}}}}'''))  # Argo quotes it
      bad = [f for f in failures if f["displayName"] == "bad"]
      print(json.dumps({{"status": "{{{{workflow.status}}}}", "bad": bad}}))
{FAIL}""",
    )

    assert run.phase == "Failed", run.explain()
    exit_node = run.node("wf.onExit")
    assert exit_node["phase"] == "Succeeded", run.explain()
    assert "boundaryID" not in exit_node
    report = json.loads(run.result("wf.onExit"))
    assert report["status"] == "Failed"
    [bad] = report["bad"]
    assert bad["message"] == "main: Error (exit code 3)"
    assert bad["templateName"] == "fail"
    assert bad["phase"] == "Failed"
    assert bad["podName"] == pod_name("wf", "wf[0].bad", "fail", run.node("wf[0].bad")["id"])


def test_the_exit_handler_of_a_succeeded_workflow_sees_succeeded(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
onExit: report
templates:
- name: main
  container: {{image: alpine, command: [sh, -c, "echo ok"]}}
- name: report
  steps:
  - - name: say
      template: echo
      arguments: {{parameters: [{{name: m, value: "{{{{workflow.status}}}}"}}]}}
{ECHO}""",
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.result("wf.onExit[0].say") == "Succeeded"


def test_a_failing_exit_handler_fails_a_succeeded_workflow(tmp_path: Path) -> None:
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

    assert run.node("wf")["phase"] == "Succeeded", run.explain()
    assert run.node("wf.onExit")["phase"] == "Failed"
    assert run.phase == "Failed"


def test_a_step_exit_handler_runs_after_the_step_even_when_it_fails(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: bad, template: fail, onExit: cleanup, continueOn: {{failed: true}}}}
- name: cleanup
  container: {{image: alpine, command: [sh, -c, "echo cleaned"]}}
{FAIL}""",
    )

    assert run.phase == "Succeeded", run.explain()
    handler = run.node("wf[0].bad.onExit")
    assert handler["phase"] == "Succeeded"
    assert handler["displayName"] == "bad.onExit"
    assert run.result("wf[0].bad.onExit") == "cleaned"
    assert "wf[0].bad.onExit" in run.children("wf[0].bad")


# --- suspend, resume, stop ----------------------------------------------------------------------


def test_a_suspend_with_a_duration_resumes_by_itself(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: pause, template: pause}}
  - - {{name: after, template: echo, arguments: {{parameters: [{{name: m, value: resumed}}]}}}}
- name: pause
  suspend: {{duration: 300ms}}
{ECHO}""",
    )

    assert run.phase == "Succeeded", run.explain()
    pause = run.node("wf[0].pause")
    assert (pause["type"], pause["phase"]) == ("Suspend", "Succeeded")
    assert run.result("wf[1].after") == "resumed"


def test_a_suspend_without_duration_waits_for_a_resume_request(tmp_path: Path) -> None:
    def resume_when_suspended(control: Control, workflow: dict[str, Any]) -> None:
        node = _node(workflow, "wf[0].wait")
        if node is not None and node["phase"] == "Running" and control.resumes_sent == 0:
            control.resume("wf[0].wait")

    run = run_controlled(
        tmp_path,
        f"""
entrypoint: main
activeDeadlineSeconds: 30  # a resume that never arrives fails the test instead of hanging
templates:
- name: main
  steps:
  - - {{name: wait, template: approval}}
  - - {{name: after, template: echo, arguments: {{parameters: [{{name: m, value: approved}}]}}}}
- name: approval
  suspend: {{}}
{ECHO}""",
        on_snapshot=resume_when_suspended,
    )

    assert run.phase == "Succeeded", run.explain()
    wait = run.node("wf[0].wait")
    assert (wait["type"], wait["phase"]) == ("Suspend", "Succeeded")
    assert run.result("wf[1].after") == "approved"


APPROVAL = f"""
entrypoint: main
activeDeadlineSeconds: 30  # a resume that never arrives fails the test instead of hanging
templates:
- name: main
  steps:
  - - {{name: wait, template: approval}}
  - - name: after
      template: echo
      arguments:
        parameters: [{{name: m, value: "{{{{steps.wait.outputs.parameters.answer}}}}"}}]
- name: approval
  suspend: {{}}
  outputs:
    parameters:
    - {{name: answer, valueFrom: {{supplied: {{}}}}}}
    - {{name: reviewer, valueFrom: {{default: nobody, supplied: {{}}}}}}
{ECHO}"""


def _resume_with(supplied: dict[str, str]) -> Callable[[Control, dict[str, Any]], None]:
    def resume_when_suspended(control: Control, workflow: dict[str, Any]) -> None:
        node = _node(workflow, "wf[0].wait")
        if node is not None and node["phase"] == "Running" and control.resumes_sent == 0:
            control.resume("wf[0].wait", supplied)

    return resume_when_suspended


def test_values_supplied_with_the_resume_become_the_suspend_nodes_outputs(
    tmp_path: Path,
) -> None:
    run = run_controlled(tmp_path, APPROVAL, on_snapshot=_resume_with({"answer": "yes"}))

    assert run.phase == "Succeeded", run.explain()
    outputs = {p["name"]: p["value"] for p in run.node("wf[0].wait")["outputs"]["parameters"]}
    assert outputs == {"answer": "yes", "reviewer": "nobody"}  # supplied, else the default
    assert run.result("wf[1].after") == "yes"


def test_a_suspended_node_lists_the_outputs_it_expects_until_it_is_resumed(
    tmp_path: Path,
) -> None:
    """As Argo's suspend node (`argo node set` checks names against them)."""
    seen: list[Any] = []

    def resume_when_suspended(control: Control, workflow: dict[str, Any]) -> None:
        node = _node(workflow, "wf[0].wait")
        if node is not None and node["phase"] == "Running" and control.resumes_sent == 0:
            seen.append(node.get("outputs"))
            control.resume("wf[0].wait", {"answer": "ok"})

    run = run_controlled(tmp_path, APPROVAL, on_snapshot=resume_when_suspended)

    assert run.phase == "Succeeded", run.explain()
    assert seen == [
        {
            "parameters": [
                {"name": "answer", "valueFrom": {"supplied": {}}},
                {"name": "reviewer", "valueFrom": {"default": "nobody", "supplied": {}}},
            ]
        }
    ]
    outputs = run.node("wf[0].wait")["outputs"]["parameters"]
    assert [(p["name"], p["value"]) for p in outputs] == [("answer", "ok"), ("reviewer", "nobody")]


def test_a_supplied_output_without_a_value_or_default_is_an_error(tmp_path: Path) -> None:
    run = run_controlled(tmp_path, APPROVAL, on_snapshot=_resume_with({}))

    assert run.phase == "Failed", run.explain()
    wait = run.node("wf[0].wait")
    assert wait["phase"] == "Error"
    assert "'answer' was not supplied: resume with -p answer=VALUE" in wait["message"]


def test_stop_terminates_the_running_pod_fails_the_workflow_and_runs_the_exit_handler(
    tmp_path: Path,
) -> None:
    long_pod = pod_name("wf", "wf[0].long", "sleeper", node_id("wf", "wf[0].long"))

    def stop_once_started(control: Control) -> None:
        # the main container has printed `started`: the pod really runs
        if control.runner is not None and "started" in control.runner.runtime.logs(
            long_pod, "main"
        ):
            control.stop("")

    run = run_controlled(
        tmp_path,
        f"""
entrypoint: main
onExit: bye
templates:
- name: main
  steps:
  - - {{name: long, template: sleeper}}
  - - {{name: never, template: echo, arguments: {{parameters: [{{name: m, value: x}}]}}}}
- name: bye
  container: {{image: alpine, command: [sh, -c, "echo status={{{{workflow.status}}}}"]}}
{SLEEPER}{ECHO}""",
        on_poll=stop_once_started,
    )

    assert run.phase == "Failed", run.explain()
    assert run.message == "Stopped with strategy 'Stop'"
    long = run.node("wf[0].long")
    assert long["phase"] == "Failed", run.explain()
    assert "done" not in str((long.get("outputs") or {}).get("result"))
    assert not run.has("wf[1].never")
    assert run.result("wf.onExit") == "status=Failed"


# --- deadlines ----------------------------------------------------------------------------------


def test_the_workflow_active_deadline_bounds_the_running_pod(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
activeDeadlineSeconds: 2  # the pod gets the remaining whole seconds (1): at least 1 is needed
templates:
- name: main
  steps:
  - - {{name: long, template: sleeper}}
  - - {{name: never, template: echo, arguments: {{parameters: [{{name: m, value: x}}]}}}}
{SLEEPER}{ECHO}""",
    )

    assert run.phase == "Failed", run.explain()
    long = run.node("wf[0].long")
    assert long["phase"] == "Failed"
    assert "deadline" in long["message"].lower()
    assert (long.get("outputs") or {}).get("result") == "started", run.explain()
    assert not run.has("wf[1].never")


def test_the_workflow_active_deadline_ends_a_suspended_workflow(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
onExit: bye
activeDeadlineSeconds: 1
templates:
- name: main
  steps:
  - - {{name: wait, template: forever}}
  - - {{name: never, template: echo, arguments: {{parameters: [{{name: m, value: x}}]}}}}
- name: forever
  suspend: {{}}
- name: bye
  container: {{image: alpine, command: [sh, -c, "echo status={{{{workflow.status}}}}"]}}
{ECHO}""",
    )

    assert run.phase == "Failed", run.explain()
    assert "deadline" in run.message.lower()
    wait = run.node("wf[0].wait")
    assert (wait["type"], wait["phase"]) == ("Suspend", "Failed")
    assert "deadline" in wait["message"].lower()
    assert not run.has("wf[1].never")
    # the exit handler is not bound by the workflow deadline
    assert run.result("wf.onExit") == "status=Failed"


def test_a_template_timeout_fails_its_node(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: long, template: slow}}
- name: slow
  timeout: 3s  # Argo refuses to create a pod with one second or less left
  container: {{image: alpine, command: [sh, -c, "echo started; sleep 20; echo done"]}}
{ECHO}""",
    )

    assert run.phase == "Failed", run.explain()
    long = run.node("wf[0].long")
    assert long["phase"] == "Failed"
    assert "deadline" in long["message"].lower()
    assert "done" not in str((long.get("outputs") or {}).get("result"))


def test_a_template_active_deadline_seconds_fails_its_pod(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: slow
templates:
- name: slow
  activeDeadlineSeconds: 1
  container: {image: alpine, command: [sh, -c, "echo started; sleep 20; echo done"]}
""",
    )

    assert run.phase == "Failed", run.explain()
    node = run.node("wf")
    assert node["phase"] == "Failed"
    assert "deadline" in node["message"].lower()
