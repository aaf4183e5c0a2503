"""The workflow engine runs small Argo Workflows end to end on the local runtime (real sandboxed
pods) with Argo's semantics: steps (groups, node tree, outputs, loops), `when`, `continueOn`,
`failFast`, recursion, global outputs, templateRef and the errors found before or while running.

`run_workflow` and `Run` are shared with the other `test_engine_run_*` modules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.controller.loop.options import Control, EngineError, RunOptions
from argoexec.controller.loop.runner import WorkflowRunner
from argoexec.controller.runtime import LocalRuntime
from argoexec.controller.runtime.results import LocalResults
from argoexec.controller.sandbox import find_bubblewrap
from argoexec.models import ArtifactRepository, SecretKeySelector
from tests.servers.backend import Backend
from tests.servers.procs import require

EXECUTOR_IMAGE = "quay.io/argoproj/argoexec:v4.1.2"
ECHO = """
- name: echo
  inputs: {parameters: [{name: m}]}
  container:
    image: alpine
    command: [sh, -c, 'echo "$M"']
    env: [{name: M, value: "{{inputs.parameters.m}}"}]
"""
FAIL = """
- name: fail
  container: {image: alpine, command: [sh, -c, "echo bad >&2; exit 3"]}
"""


@dataclass
class Run:
    """The final Workflow of one run, with look-ups by node name."""

    workflow: dict[str, Any]

    @property
    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.workflow["status"]
        return status

    @property
    def phase(self) -> str:
        return str(self.status["phase"])

    @property
    def message(self) -> str:
        return str(self.status.get("message") or "")

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        nodes: dict[str, dict[str, Any]] = self.status["nodes"]
        return nodes

    def node(self, name: str) -> dict[str, Any]:
        for node in self.nodes.values():
            if node["name"] == name:
                return node
        raise AssertionError(f"no node {name!r}; nodes: {sorted(self.names())}")

    def has(self, name: str) -> bool:
        return any(node["name"] == name for node in self.nodes.values())

    def names(self) -> list[str]:
        return [str(node["name"]) for node in self.nodes.values()]

    def children(self, name: str) -> list[str]:
        """The names of a node's children, in order."""
        return [self.nodes[c]["name"] for c in self.node(name).get("children") or []]

    def outbound(self, name: str) -> list[str]:
        return [self.nodes[c]["name"] for c in self.node(name).get("outboundNodes") or []]

    def result(self, name: str) -> str:
        return str((self.node(name).get("outputs") or {}).get("result"))

    def parameter(self, name: str, parameter: str) -> str:
        for param in (self.node(name).get("outputs") or {}).get("parameters") or []:
            if param["name"] == parameter:
                return str(param["value"])
        raise AssertionError(f"node {name!r} has no output parameter {parameter!r}")

    def pods(self) -> list[str]:
        return [str(n["name"]) for n in self.nodes.values() if n["type"] == "Pod"]

    def explain(self) -> str:
        """Every node in one line each, for assertion messages."""
        lines = [f"workflow {self.phase}: {self.message}"]
        for node in self.nodes.values():
            lines.append(
                f"{node['name']} {node['type']} {node['phase']} {node.get('message', '')!r} "
                f"{json.dumps(node.get('outputs'))}"
            )
        return "\n".join(lines)


def workflow(spec: str, name: str = "wf") -> dict[str, Any]:
    """A Workflow from YAML text of its `spec`."""
    loaded = yaml.safe_load(spec)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name},
        "spec": loaded,
    }


def make_runner(
    tmp_path: Path,
    spec: str | Mapping[str, Any],
    *,
    name: str = "wf",
    parameters: Mapping[str, str] | None = None,
    control: Control | None = None,
    store: Any = None,
    artifact_repository: ArtifactRepository | None = None,
    on_change: Any = None,
    secrets_dir: Path | None = None,
) -> WorkflowRunner:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    wf = workflow(spec, name) if isinstance(spec, str) else dict(spec)
    runtime = LocalRuntime(tmp_path / "pods", executor_image=EXECUTOR_IMAGE, poll_interval=0.02)
    options = RunOptions(
        executor_image=EXECUTOR_IMAGE,
        parameters=dict(parameters or {}),
        artifact_repository=artifact_repository,
        secrets_dir=secrets_dir,
        poll_interval=0.02,
    )
    return WorkflowRunner(
        wf,
        name=name,
        runtime=runtime,
        results=LocalResults(runtime.volume_path),
        store=store,
        options=options,
        control=control,
        on_change=on_change,
    )


def run_workflow(tmp_path: Path, spec: str | Mapping[str, Any], **kwargs: Any) -> Run:
    return Run(make_runner(tmp_path, spec, **kwargs).run())


# --- steps ----------------------------------------------------------------------------------


def test_steps_run_groups_in_order_pass_results_and_build_argos_node_tree(
    tmp_path: Path,
) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
arguments: {{parameters: [{{name: msg, value: hi}}]}}
templates:
- name: main
  steps:
  - - name: a
      template: echo
      arguments: {{parameters: [{{name: m, value: "{{{{workflow.parameters.msg}}}}"}}]}}
  - - name: b
      template: echo
      arguments: {{parameters: [{{name: m, value: "got {{{{steps.a.outputs.result}}}}"}}]}}
    - name: c
      template: echo
      arguments: {{parameters: [{{name: m, value: c}}]}}
  - - name: d
      template: echo
      arguments: {{parameters: [{{name: m, value: d}}]}}
{ECHO}""",
    )

    assert run.phase == "Succeeded", run.explain()
    root = run.node("wf")
    assert (root["type"], root["displayName"], root["templateName"]) == ("Steps", "wf", "main")
    assert run.children("wf") == ["wf[0]"]
    group0 = run.node("wf[0]")
    assert (group0["type"], group0["displayName"]) == ("StepGroup", "[0]")
    assert run.children("wf[0]") == ["wf[0].a"]
    # group i+1 hangs from the outbound nodes of group i (the pods), not from the group node
    assert run.children("wf[0].a") == ["wf[1]"]
    assert sorted(run.children("wf[1]")) == ["wf[1].b", "wf[1].c"]
    assert run.children("wf[1].b") == ["wf[2]"]
    assert run.children("wf[1].c") == ["wf[2]"]
    assert run.children("wf[2]") == ["wf[2].d"]
    assert run.outbound("wf") == ["wf[2].d"]
    for name in ("wf[0]", "wf[1]", "wf[2]", "wf[0].a", "wf[1].b", "wf[2].d"):
        assert run.node(name)["boundaryID"] == root["id"], name
    assert run.result("wf[0].a") == "hi"
    assert run.result("wf[1].b") == "got hi"
    assert run.node("wf[1].b")["inputs"]["parameters"] == [{"name": "m", "value": "got hi"}]
    assert run.status["progress"] == "4/4"


def test_parallel_steps_of_one_group_run_at_the_same_time(tmp_path: Path) -> None:
    # Each step waits for the other's mark in a shared emptyDir: only true parallelism ends.
    wait_for = (
        "touch /shared/{{inputs.parameters.me}}; "
        "i=0; while [ ! -e /shared/{{inputs.parameters.other}} ]; do "
        "i=$((i+1)); [ $i -gt 200 ] && exit 7; sleep 0.05; done; echo met"
    )
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: left, template: meet, arguments: {{parameters: [{{name: me, value: l}}, {{name: other, value: r}}]}}}}
    - {{name: right, template: meet, arguments: {{parameters: [{{name: me, value: r}}, {{name: other, value: l}}]}}}}
- name: meet
  inputs: {{parameters: [{{name: me}}, {{name: other}}]}}
  container:
    image: alpine
    command: [sh, -c, "{wait_for}"]
    volumeMounts: [{{name: shared, mountPath: /shared}}]
  volumes: [{{name: shared, hostPath: {{path: "{tmp_path / "shared"}", type: DirectoryOrCreate}}}}]
""",  # noqa: E501
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.result("wf[0].left") == "met"
    assert run.result("wf[0].right") == "met"


def test_output_parameter_from_a_file_and_a_steps_template_output(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  steps:
  - - {name: gen, template: gen}
  - - name: use
      template: echo
      arguments: {parameters: [{name: m, value: "p={{steps.gen.outputs.parameters.out}}"}]}
  outputs:
    parameters:
    - name: final
      valueFrom: {parameter: "{{steps.use.outputs.result}}"}
- name: gen
  container: {image: alpine, command: [sh, -c, "printf 'from file' > /tmp/out.txt"]}
  outputs:
    parameters:
    - name: out
      valueFrom: {path: /tmp/out.txt}
- name: echo
  inputs: {parameters: [{name: m}]}
  container: {image: alpine, command: [sh, -c, 'echo "{{inputs.parameters.m}}"']}
""",
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.parameter("wf[0].gen", "out") == "from file"
    assert run.result("wf[1].use") == "p=from file"
    assert run.parameter("wf", "final") == "p=from file"


def test_with_items_of_maps_names_children_and_aggregates_output_parameters(
    tmp_path: Path,
) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  steps:
  - - name: loop
      template: emit
      arguments: {parameters: [{name: k, value: "{{item.k}}"}, {name: n, value: "{{item.n}}"}]}
      withItems:
      - {k: a, n: 1}
      - {k: b, n: 2}
  - - name: total
      template: echo
      arguments: {parameters: [{name: m, value: "{{steps.loop.outputs.parameters.p}}"}]}
- name: emit
  inputs: {parameters: [{name: k}, {name: n}]}
  container:
    image: alpine
    command: [sh, -c, "echo -n {{inputs.parameters.k}}{{inputs.parameters.n}} > /tmp/p"]
  outputs: {parameters: [{name: p, valueFrom: {path: /tmp/p}}]}
- name: echo
  inputs: {parameters: [{name: m}]}
  container: {image: alpine, command: [sh, -c, "echo '{{inputs.parameters.m}}'"]}
""",
    )

    assert run.phase == "Succeeded", run.explain()
    loop_children = run.children("wf[0]")
    assert loop_children == ["wf[0].loop(0:k:a,n:1)", "wf[0].loop(1:k:b,n:2)"], run.explain()
    assert run.node(loop_children[0])["displayName"] == "loop(0:k:a,n:1)"
    assert run.parameter(loop_children[1], "p") == "b2"
    # the aggregate is a JSON list in item order
    assert json.loads(run.result("wf[1].total")) == ["a1", "b2"]
    # the next group hangs from every item
    assert all(run.children(c) == ["wf[1]"] for c in loop_children)


def test_with_param_from_a_json_result_and_with_sequence(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  steps:
  - - name: gen
      template: gen
  - - name: each
      template: echo
      arguments: {parameters: [{name: m, value: "v={{item}}"}]}
      withParam: "{{steps.gen.outputs.result}}"
    - name: seq
      template: echo
      arguments: {parameters: [{name: m, value: "{{item}}"}]}
      withSequence: {start: "2", end: "3", format: "n%02d"}
  - - name: results
      template: echo
      arguments: {parameters: [{name: m, value: "{{steps.each.outputs.result}}"}]}
- name: gen
  script:
    image: python
    command: [python3]
    source: |
      import json
      print(json.dumps(["x", "y"]))
- name: echo
  inputs: {parameters: [{name: m}]}
  container: {image: alpine, command: [sh, -c, "echo '{{inputs.parameters.m}}'"]}
""",
    )

    assert run.phase == "Succeeded", run.explain()
    assert sorted(run.children("wf[1]")) == [
        "wf[1].each(0:x)",
        "wf[1].each(1:y)",
        "wf[1].seq(0:n02)",
        "wf[1].seq(1:n03)",
    ]
    assert run.result("wf[1].each(1:y)") == "v=y"
    assert run.result("wf[1].seq(1:n03)") == "n03"
    # an expanded step's `outputs.result` is the JSON list of its items' results
    assert json.loads(run.result("wf[2].results")) == ["v=x", "v=y"]


def test_when_false_skips_the_step_and_when_true_runs_it(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - name: coin
      template: echo
      arguments: {{parameters: [{{name: m, value: heads}}]}}
  - - name: heads
      template: echo
      arguments: {{parameters: [{{name: m, value: h}}]}}
      when: "{{{{steps.coin.outputs.result}}}} == heads"
    - name: tails
      template: echo
      arguments: {{parameters: [{{name: m, value: t}}]}}
      when: "{{{{steps.coin.outputs.result}}}} == tails"
{ECHO}""",
    )

    assert run.phase == "Succeeded", run.explain()
    tails = run.node("wf[1].tails")
    assert (tails["type"], tails["phase"]) == ("Skipped", "Skipped")
    assert tails["message"] == "when 'heads == tails' evaluated false"
    assert run.node("wf[1].heads")["phase"] == "Succeeded"
    assert run.pods() == ["wf[0].coin", "wf[1].heads"]


def test_continue_on_failed_lets_the_next_group_run(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: bad, template: fail, continueOn: {{failed: true}}}}
  - - {{name: after, template: echo, arguments: {{parameters: [{{name: m, value: "{{{{steps.bad.status}}}}"}}]}}}}
{ECHO}{FAIL}""",  # noqa: E501
    )

    assert run.phase == "Succeeded", run.explain()
    bad = run.node("wf[0].bad")
    assert (bad["phase"], bad["message"]) == ("Failed", "main: Error (exit code 3)")
    assert run.result("wf[1].after") == "Failed"
    assert run.node("wf[0]")["phase"] == "Succeeded"


def test_a_failed_step_fails_its_group_and_no_later_group_runs(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: bad, template: fail}}
  - - {{name: never, template: echo, arguments: {{parameters: [{{name: m, value: x}}]}}}}
{ECHO}{FAIL}""",
    )

    assert run.phase == "Failed", run.explain()
    bad_id = run.node("wf[0].bad")["id"]
    assert run.node("wf[0]")["phase"] == "Failed"
    assert run.node("wf")["phase"] == "Failed"
    assert run.message == f"child '{bad_id}' failed"
    assert not run.has("wf[1]")
    assert not run.has("wf[1].never")


def test_fail_fast_with_parallelism_starts_no_more_items_after_a_failure(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  parallelism: 1
  failFast: true  # opt-in for steps (Argo's Template.IsFailFast)
  steps:
  - - name: each
      template: maybe-fail
      arguments: {parameters: [{name: n, value: "{{item}}"}]}
      withItems: [ok, bad, ok2, ok3]
- name: maybe-fail
  inputs: {parameters: [{name: n}]}
  container: {image: alpine, command: [sh, -c, "echo {{inputs.parameters.n}}; [ {{inputs.parameters.n}} != bad ]"]}
""",  # noqa: E501
    )

    assert run.phase == "Failed", run.explain()
    assert run.pods() == ["wf[0].each(0:ok)", "wf[0].each(1:bad)"], run.explain()
    assert run.node("wf[0].each(1:bad)")["phase"] == "Failed"


def test_without_fail_fast_every_item_runs_and_the_group_still_fails(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  parallelism: 1
  failFast: false
  steps:
  - - name: each
      template: maybe-fail
      arguments: {parameters: [{name: n, value: "{{item}}"}]}
      withItems: [bad, ok]
- name: maybe-fail
  inputs: {parameters: [{name: n}]}
  container: {image: alpine, command: [sh, -c, "[ {{inputs.parameters.n}} != bad ]"]}
""",
    )

    assert run.phase == "Failed", run.explain()
    assert run.node("wf[0].each(1:ok)")["phase"] == "Succeeded"
    assert run.node("wf[0].each(0:bad)")["phase"] == "Failed"


def test_recursion_until_a_parameter_reaches_three(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: count
arguments: {parameters: [{name: n, value: "0"}]}
templates:
- name: count
  inputs: {parameters: [{name: n}]}
  steps:
  - - name: next
      template: inc
      arguments: {parameters: [{name: n, value: "{{inputs.parameters.n}}"}]}
  - - name: again
      template: count
      arguments: {parameters: [{name: n, value: "{{steps.next.outputs.result}}"}]}
      when: "{{steps.next.outputs.result}} < 3"
- name: inc
  inputs: {parameters: [{name: n}]}
  container: {image: alpine, command: [sh, -c, "echo $(({{inputs.parameters.n}} + 1))"]}
""",
        parameters={},
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.result("wf[0].next") == "1"
    assert run.result("wf[1].again[0].next") == "2"
    assert run.result("wf[1].again[1].again[0].next") == "3"
    deepest = run.node("wf[1].again[1].again[1].again")
    assert (deepest["type"], deepest["phase"]) == ("Skipped", "Skipped")
    assert run.node("wf[1].again")["type"] == "Steps"
    assert len(run.pods()) == 3


# --- global outputs ---------------------------------------------------------------------------


def test_global_output_parameters_reach_status_and_the_exit_handler(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
onExit: report
templates:
- name: main
  steps:
  - - {{name: set, template: set}}
- name: set
  container: {{image: alpine, command: [sh, -c, "echo -n blue > /tmp/c"]}}
  outputs:
    parameters:
    - {{name: c, globalName: colour, valueFrom: {{path: /tmp/c}}}}
- name: report
  steps:
  - - name: read
      template: echo
      arguments: {{parameters: [{{name: m, value: "{{{{workflow.outputs.parameters.colour}}}}"}}]}}
{ECHO}""",
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.status["outputs"]["parameters"] == [{"name": "colour", "value": "blue"}]
    assert run.result("wf.onExit[0].read") == "blue"


def test_a_global_output_parameter_is_visible_to_later_steps(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - {{name: set, template: set}}
  - - name: read
      template: echo
      arguments: {{parameters: [{{name: m, value: "{{{{workflow.outputs.parameters.colour}}}}"}}]}}
- name: set
  container: {{image: alpine, command: [sh, -c, "echo -n blue > /tmp/c"]}}
  outputs:
    parameters:
    - {{name: c, globalName: colour, valueFrom: {{path: /tmp/c}}}}
{ECHO}""",
    )

    assert run.phase == "Succeeded", run.explain()
    assert run.result("wf[1].read") == "blue"


# --- artifacts -------------------------------------------------------------------------------


def test_an_output_artifact_is_passed_to_the_next_step_through_the_repository(
    tmp_path: Path, s3_moto: Backend
) -> None:
    s3 = s3_moto.artifact("unused").to_wire()["s3"]
    secrets = tmp_path / "secrets"
    for ref in (s3["accessKeySecret"], s3["secretKeySecret"]):
        value = s3_moto.ctx.secrets.resolve(SecretKeySelector.model_validate(ref))
        (secrets / ref["name"]).mkdir(parents=True, exist_ok=True)
        (secrets / ref["name"] / ref["key"]).write_text(value)
    bucket = {k: v for k, v in s3.items() if k != "key"}
    repository = ArtifactRepository.model_validate({"s3": bucket})

    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  steps:
  - - {name: make, template: make}
  - - name: use
      template: use
      arguments: {artifacts: [{name: in, from: "{{steps.make.outputs.artifacts.out}}"}]}
- name: make
  container: {image: alpine, command: [sh, -c, "mkdir -p /tmp/o && echo payload > /tmp/o/f.txt"]}
  outputs: {artifacts: [{name: out, path: /tmp/o}]}
- name: use
  inputs: {artifacts: [{name: in, path: /tmp/i}]}
  container: {image: alpine, command: [sh, -c, "cat /tmp/i/f.txt"]}
""",
        artifact_repository=repository,
        secrets_dir=secrets,
    )

    assert run.phase == "Succeeded", run.explain()
    [out] = run.node("wf[0].make")["outputs"]["artifacts"]
    assert out["name"] == "out"
    key = out["s3"]["key"]
    assert key in s3_moto.list_keys("")  # really stored, as the independent client sees
    [given] = run.node("wf[1].use")["inputs"]["artifacts"]
    assert given["s3"]["key"] == key
    assert run.result("wf[1].use") == "payload"


# --- templateRef ------------------------------------------------------------------------------


@dataclass
class _Template:
    name: str
    templates: dict[str, dict[str, Any]]


class _Store:
    """One WorkflowTemplate `lib` with a `greet` template calling its own `say` template."""

    def __init__(self) -> None:
        self.lib = _Template(
            "lib",
            {
                "greet": {
                    "name": "greet",
                    "inputs": {"parameters": [{"name": "who"}]},
                    "steps": [
                        [
                            {
                                "name": "say",
                                "template": "say",
                                "arguments": {
                                    "parameters": [
                                        {"name": "m", "value": "hello {{inputs.parameters.who}}"}
                                    ]
                                },
                            }
                        ]
                    ],
                },
                "say": yaml.safe_load(ECHO)[0],
            },
        )

    def resolve_template_ref(self, ref: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
        if ref.get("name") != "lib" or ref.get("template") not in self.lib.templates:
            raise LookupError(f"no template {ref.get('template')!r} in WorkflowTemplate {ref}")
        return dict(self.lib.templates[str(ref["template"])]), self.lib


def test_template_ref_resolves_in_the_workflow_template_and_its_own_references(
    tmp_path: Path,
) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  steps:
  - - name: hi
      templateRef: {name: lib, template: greet}
      arguments: {parameters: [{name: who, value: you}]}
""",
        store=_Store(),
    )

    assert run.phase == "Succeeded", run.explain()
    hi = run.node("wf[0].hi")
    assert hi["templateRef"] == {"name": "lib", "template": "greet"}
    assert hi["templateScope"] == "namespaced/lib"
    assert run.result("wf[0].hi[0].say") == "hello you"


def test_an_unknown_template_ref_is_an_error_node_naming_it(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  steps:
  - - name: hi
      templateRef: {name: lib, template: nope}
""",
        store=_Store(),
    )

    assert run.phase in ("Failed", "Error"), run.explain()
    node = run.node("wf[0].hi")
    assert node["phase"] == "Error"
    assert "nope" in node["message"]


# --- errors -----------------------------------------------------------------------------------


def test_a_missing_required_parameter_is_refused_before_any_node(tmp_path: Path) -> None:
    spec = """
entrypoint: main
templates:
- name: main
  inputs: {parameters: [{name: who}]}
  container: {image: alpine, command: [echo, "{{inputs.parameters.who}}"]}
"""
    with pytest.raises(EngineError, match="who"):
        make_runner(tmp_path, spec)
    assert not (tmp_path / "pods").exists() or not any((tmp_path / "pods").iterdir())


def test_a_workflow_argument_without_value_is_refused(tmp_path: Path) -> None:
    spec = """
entrypoint: main
arguments: {parameters: [{name: who}]}
templates:
- name: main
  container: {image: alpine, command: [echo, "{{workflow.parameters.who}}"]}
"""
    with pytest.raises(EngineError, match=r"spec.arguments.parameters\[0\] \(who\)"):
        make_runner(tmp_path, spec)
    # ... and `-p who=...` supplies it
    run = run_workflow(tmp_path, spec, parameters={"who": "me"})
    assert run.phase == "Succeeded", run.explain()
    assert run.result("wf") == "me"


def test_a_missing_entrypoint_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="entrypoint"):
        make_runner(tmp_path, "templates: []")
    with pytest.raises(EngineError, match="'nowhere'"):
        make_runner(tmp_path, f"entrypoint: nowhere\ntemplates:\n{ECHO}")


def test_an_enum_violation_is_refused_and_an_enum_value_runs(tmp_path: Path) -> None:
    spec = """
entrypoint: main
arguments:
  parameters: [{name: size, value: small, enum: [small, large]}]
templates:
- name: main
  container: {image: alpine, command: [echo, "{{workflow.parameters.size}}"]}
"""
    with pytest.raises(EngineError, match="enum"):
        make_runner(tmp_path, spec, parameters={"size": "huge"})
    run = run_workflow(tmp_path, spec, parameters={"size": "large"})
    assert run.result("wf") == "large", run.explain()


def test_an_enum_violation_by_a_step_argument_is_an_error_node(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  steps:
  - - {name: a, template: sized, arguments: {parameters: [{name: size, value: huge}]}}
- name: sized
  inputs: {parameters: [{name: size, enum: [small, large]}]}
  container: {image: alpine, command: [echo, "{{inputs.parameters.size}}"]}
""",
    )

    assert run.phase == "Failed", run.explain()
    node = run.node("wf[0].a")
    assert node["phase"] == "Error"
    assert "'huge'" in node["message"]
    assert "template 'sized'" in node["message"]
    assert "enum" in node["message"]


def test_an_unknown_template_in_a_step_is_an_error_node_naming_it(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        """
entrypoint: main
templates:
- name: main
  steps:
  - - {name: a, template: no-such-template}
""",
    )

    assert run.phase in ("Failed", "Error"), run.explain()
    node = run.node("wf[0].a")
    assert node["phase"] == "Error"
    assert "'no-such-template' not found" in node["message"]
    assert node["type"] == "Skipped"  # as Argo's node for a template it could not start
    assert run.pods() == []  # no pod ever ran
    assert not (tmp_path / "pods").exists() or not any((tmp_path / "pods").iterdir())


def test_a_bad_when_expression_is_an_error_naming_the_expression(tmp_path: Path) -> None:
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  steps:
  - - name: a
      template: echo
      arguments: {{parameters: [{{name: m, value: x}}]}}
      when: "1 === ((2"
{ECHO}""",
    )

    assert run.phase in ("Failed", "Error"), run.explain()
    node = run.node("wf[0].a")
    assert node["phase"] == "Error"
    message = node["message"]
    assert "template 'main': steps[0][0] (a).when: Invalid 'when' expression '1 === ((2'" in message
    assert node["type"] == "Skipped"  # as Argo's node for a step it could not start
    assert run.pods() == []  # no pod ran
