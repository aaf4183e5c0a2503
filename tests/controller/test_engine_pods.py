"""How a pod's end becomes a node: a main container that never started is an Error naming the
cause (rather than a `wait` waiting forever for an exit code no emissary will write)."""

from __future__ import annotations

from pathlib import Path

from tests.controller.test_engine_run import run_workflow


def test_a_main_container_that_cannot_start_errors_the_node_with_the_cause(
    tmp_path: Path,
) -> None:
    # Nothing can be created in /proc: the artifact's mount point cannot be made.
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  inputs:
    artifacts: [{name: a, path: /proc/argoexec-cannot-exist/a.txt, raw: {data: hi}}]
  container: {image: alpine, command: [cat, /proc/argoexec-cannot-exist/a.txt]}
""",
    )
    node = run.node("wf")
    assert run.phase == "Error", run.explain()
    assert node["phase"] == "Error"
    assert node["message"].startswith("main: StartError (exit code 128): failed to create")
    assert "/proc/argoexec-cannot-exist" in node["message"], node["message"]


def test_a_failing_main_reports_its_exit_code_and_keeps_its_outputs(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  container: {image: alpine, command: [sh, -c, "echo partial; exit 7"]}
""",
    )
    node = run.node("wf")
    assert node["phase"] == "Failed", run.explain()
    assert node["message"] == "main: Error (exit code 7)"
    assert node["outputs"] == {"result": "partial", "exitCode": "7"}


def test_templates_the_thin_controller_does_not_run_are_clear_node_errors(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  steps:
  - - {name: call, template: web}
- name: web
  plugin: {hello: {}}
""",
    )
    assert run.phase == "Failed", run.explain()
    call = run.node("wf[0].call")
    assert call["phase"] == "Error"
    assert call["templateName"] == "web"
    assert "plugin templates are not supported" in call["message"]
