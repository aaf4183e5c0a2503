"""Input parameter values and defaults are evaluated before the template runs, as Argo's
`ProcessArgs`/`SubstituteParams` do: `{{...}}` and `{{=...}}` over the globals, the node's own
locals (`pod.name`, `node.name`, `retries`) and the other inputs; the node's `inputs` and the
pod see the result, never the tag."""

from __future__ import annotations

from pathlib import Path

from tests.controller.test_engine_run import run_workflow


def test_input_values_and_defaults_are_evaluated_before_the_pod_runs(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
arguments: {parameters: [{name: who, value: world}]}
templates:
- name: main
  steps:
  - - {name: greet, template: greet, arguments: {parameters: [{name: name, value: "{{workflow.parameters.who}}"}]}}
- name: greet
  retryStrategy: {limit: 1}
  inputs:
    parameters:
    - name: name
    - name: shout
      default: "{{=sprig.upper(inputs.parameters.name)}}!"
    - name: where
      value: "{{node.name}} try {{=asInt(retries) + 1}}"
  container:
    image: alpine
    command: [sh, -c, 'echo "{{inputs.parameters.shout}} at {{inputs.parameters.where}}"']
""",  # noqa: E501
    )

    assert run.phase == "Succeeded", run.explain()
    attempt = run.node("wf[0].greet(0)")
    values = {p["name"]: p["value"] for p in attempt["inputs"]["parameters"]}
    assert values == {"name": "world", "shout": "WORLD!", "where": "wf[0].greet(0) try 1"}
    assert run.result("wf[0].greet(0)") == "WORLD! at wf[0].greet(0) try 1"
