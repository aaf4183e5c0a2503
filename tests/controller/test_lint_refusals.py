"""What ``argoexec lint`` refuses, ``argoexec run`` refuses the same way: exit 1 for lint, exit 2
for run (nothing run, no state written), each problem named by file and YAML path. Least values
of counts and limits, Argo's template-kind rules, references to inputs and workflow parameters
that do not exist, names Argo or Kubernetes refuse, parameters written as a mapping, an empty
spec, an empty file. And what must still pass: a long generateName (cut as Kubernetes cuts it),
Argo variables where numbers go, inputs of inline templates, a WorkflowTemplate's workflow
parameters."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.cli import main
from argoexec.controller.workflow.documents import TemplateStore, workflow_name
from argoexec.controller.workflow.lint import lint_template_document, lint_workflow

HEAD = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: refuse-}
"""
STEPS = """\
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: a, template: t}
    - name: t
      container: {image: alpine, command: [echo, hi]}
"""


def with_template_field(field: str) -> str:
    return HEAD + STEPS.replace("      steps:\n", f"      {field}\n      steps:\n")


def with_leaf_field(field: str) -> str:
    return HEAD + STEPS.replace("      container:", f"      {field}\n      container:")


def with_spec_field(field: str) -> str:
    return HEAD + STEPS.replace("spec:\n", f"spec:\n  {field}\n")


def with_step(step: str) -> str:
    return HEAD + STEPS.replace("{name: a, template: t}", step)


def with_command(command: str, spec_field: str = "") -> str:
    text = with_spec_field(spec_field) if spec_field else HEAD + STEPS
    return text.replace("command: [echo, hi]", f"command: {command}")


CASES: dict[str, tuple[str, str]] = {
    "negative template parallelism": (
        with_template_field("parallelism: -1"),
        "spec.templates[0].parallelism: must not be negative, got -1",
    ),
    "negative workflow parallelism": (
        with_spec_field("parallelism: -2"),
        "spec.parallelism: must not be negative, got -2",
    ),
    "negative workflow deadline": (
        with_spec_field("activeDeadlineSeconds: -1"),
        "spec.activeDeadlineSeconds: must not be negative, got -1",
    ),
    "negative retry limit": (
        with_leaf_field("retryStrategy: {limit: '-1'}"),
        "spec.templates[1].retryStrategy.limit: must not be negative, got -1",
    ),
    "negative readiness probe period": (
        with_command("[echo, hi], readinessProbe: {tcpSocket: {port: 80}, periodSeconds: -1}"),
        "spec.templates[1].container.readinessProbe.periodSeconds: must not be negative, got -1",
    ),
    "retry limit that is no number": (
        with_leaf_field("retryStrategy: {limit: three}"),
        "spec.templates[1].retryStrategy.limit: must be an integer or an Argo variable ({{...}}),"
        ' got string "three"',
    ),
    "negative sequence count": (
        with_step("{name: a, template: t, withSequence: {count: -3}}"),
        "spec.templates[0].steps[0][0].withSequence.count: must not be negative, got -3",
    ),
    "template deadline that is a duration": (
        with_leaf_field("activeDeadlineSeconds: 1m"),
        "spec.templates[1].activeDeadlineSeconds: must be an integer or an Argo variable"
        ' ({{...}}), got string "1m"',
    ),
    "parallelism on a container template": (
        with_leaf_field("parallelism: 2"),
        "spec.templates[1].parallelism: template `t`: parallelism is only valid for steps and"
        " dag templates",
    ),
    "deadline on a steps template": (
        with_template_field("activeDeadlineSeconds: 5"),
        "spec.templates[0].activeDeadlineSeconds: template `main`: activeDeadlineSeconds is only"
        " valid for leaf templates",
    ),
    "undefined input parameter": (
        with_command("[echo, '{{inputs.parameters.nope}}']"),
        "spec.templates[1].container.command[1]: failed to resolve {{inputs.parameters.nope}}:"
        " template `t` has no input parameter `nope` (inputs.parameters: none)",
    ),
    "undefined workflow parameter": (
        with_command(
            "[echo, '{{ workflow.parameters.typo }}']",
            "arguments: {parameters: [{name: a, value: '1'}]}",
        ),
        "spec.templates[1].container.command[1]: failed to resolve {{workflow.parameters.typo}}:"
        " no workflow argument `typo` (spec.arguments.parameters: `a`)",
    ),
    "input artifact path in a steps template": (
        with_step("{name: a, template: t, when: '{{inputs.artifacts.x.path}}'}").replace(
            "      steps:\n", "      inputs: {artifacts: [{name: x}]}\n      steps:\n"
        ),
        "spec.templates[0].steps[0][0].when: failed to resolve {{inputs.artifacts.x.path}}: an"
        " input artifact has a path only in a template that runs a pod",
    ),
    "workflow name that leaves its directory": (
        HEAD.replace("generateName: refuse-", "name: ../../x") + STEPS,
        "metadata.name: invalid name '../../x': a Kubernetes object name must consist of lowercase"
        " letters, digits, '-' and '.', and must start and end with a letter or digit",
    ),
    "workflow name with a space": (
        HEAD.replace("generateName: refuse-", "name: 'my flow'") + STEPS,
        "metadata.name: invalid name 'my flow'",
    ),
    "workflow name that is not ASCII": (
        HEAD.replace("generateName: refuse-", "name: café") + STEPS,
        "metadata.name: invalid name 'café'",
    ),
    "workflow name over 63 characters": (
        HEAD.replace("generateName: refuse-", "name: " + "a" * 64) + STEPS,
        f"metadata.name: workflow name '{'a' * 64}' must not be more than 63 characters long"
        " (currently 64)",
    ),
    "workflow name over 253 characters": (
        HEAD.replace("generateName: refuse-", "name: " + "a" * 254) + STEPS,
        "metadata.name: invalid name '" + "a" * 254 + "': must be no more than 253 characters"
        " (has 254)",
    ),
    "generateName with capitals": (
        HEAD.replace("refuse-", "Refuse-") + STEPS,
        "metadata.generateName: invalid name prefix 'Refuse-'",
    ),
    "no name at all": (
        HEAD.replace("metadata: {generateName: refuse-}", "metadata: {labels: {a: b}}") + STEPS,
        "metadata.name: name or generateName is required",
    ),
    "template name with an underscore": (
        HEAD + STEPS.replace("template: t}", "template: t_1}").replace("name: t\n", "name: t_1\n"),
        "spec.templates[1].name: 't_1' is invalid: name must consist of alpha-numeric characters"
        " or '-', and must start with an alpha-numeric character (e.g. My-name1-2, 123-NAME)",
    ),
    "step name with a space": (
        HEAD + STEPS.replace("{name: a,", "{name: 'a b',"),
        "spec.templates[0].steps[0][0].name: 'a b' is invalid: name must consist of",
    ),
    "step name over 128 characters": (
        HEAD + STEPS.replace("{name: a,", "{name: " + "s" * 129 + ","),
        "spec.templates[0].steps[0][0].name: 'ssssssssssssssssssss'... is invalid: must be no"
        " more than 128 characters",
    ),
    "task name starting with a digit in a DAG with depends": (
        HEAD
        + STEPS.replace(
            "      steps:\n        - - {name: a, template: t}\n",
            "      dag:\n        tasks:\n          - {name: 1st, template: t}\n"
            "          - {name: b, template: t, depends: 1st}\n",
        ),
        "spec.templates[0].dag.tasks[0].name: a task name cannot begin with a digit when using"
        " depends or dependencies",
    ),
    "parameter name with a dot": (
        with_spec_field("arguments: {parameters: [{name: a.b, value: x}]}"),
        "spec.arguments.parameters[0].name: 'a.b' is invalid: Parameter/Artifact name must"
        " consist of alpha-numeric characters, '_' or '-' e.g. my_param_1, MY-PARAM-1",
    ),
    "parameter given twice": (
        with_spec_field("arguments: {parameters: [{name: a, value: x}, {name: a, value: y}]}"),
        "spec.arguments.parameters[1].name: 'a' is not unique",
    ),
    "parameters written as a mapping": (
        with_spec_field("arguments: {parameters: {a: 1}}"),
        "spec.arguments.parameters: wrong type: expected a list, got a mapping",
    ),
    "step parameters written as a mapping": (
        with_step("{name: a, template: t, arguments: {parameters: {a: 1}}}"),
        "spec.templates[0].steps[0][0].arguments.parameters: wrong type: expected a list, got a"
        " mapping",
    ),
    "an empty spec": (HEAD + "spec:\n", "spec: missing required field `spec`"),
    "a null template": (
        HEAD + STEPS.replace("  templates:\n", "  templates:\n    - null\n"),
        "spec.templates[0]: a template needs a `name`",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_lint_and_run_refuse_alike(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = CASES[name]
    path = tmp_path / "wf.yaml"
    path.write_text(text)
    assert main(["lint", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}: {expected}" in out
    state = tmp_path / "state"
    assert main(["run", str(path), "--state-dir", str(state)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {expected}" in err
    assert "nothing was run" in err
    assert not state.exists() or not any(state.iterdir())


def test_an_empty_file_and_a_file_with_nothing_to_lint_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here\n---\n")
    config = tmp_path / "cm.yaml"
    config.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
    assert main(["lint", str(empty)]) == 1
    assert capsys.readouterr().out == f"{empty}: no documents: the file is empty\n"
    assert main(["run", str(empty), "--state-dir", str(tmp_path / "s")]) == 2
    assert f"{empty}: no documents: the file is empty" in capsys.readouterr().err
    assert main(["lint", str(config)]) == 1
    assert capsys.readouterr().out == (
        f"{config}: found nothing to lint: no Workflow, CronWorkflow, WorkflowTemplate or"
        " ClusterWorkflowTemplate document\n"
    )
    assert main(["run", str(config), "--state-dir", str(tmp_path / "s")]) == 2
    assert "expected exactly one Workflow or CronWorkflow document, found 0" in (
        capsys.readouterr().err
    )
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(HEAD + STEPS)
    assert main(["lint", str(workflow), str(config)]) == 0  # read for the workflow's references


def test_a_long_generate_name_is_cut_as_kubernetes_cuts_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = "g" * 252 + "-"
    names = {workflow_name({"metadata": {"generateName": prefix}}) for _ in range(5)}
    assert all(len(name) == 63 and name.startswith("g" * 58) for name in names)
    assert workflow_name({"metadata": {"generateName": "short-"}}).startswith("short-")
    path = tmp_path / "wf.yaml"
    path.write_text(
        HEAD.replace("refuse-", prefix)
        + STEPS.replace("command: [echo, hi]", "command: [sh, -c, 'echo {{pod.name}}']")
    )
    assert main(["lint", str(path)]) == 0
    capsys.readouterr()
    state = tmp_path / "state"
    unnormalised = f"{tmp_path}/./wf.yaml"  # the file is known by its normalised path
    code = main(["run", unnormalised, "--no-sandbox", "-o", "json", "--state-dir", str(state)])
    final = json.loads(capsys.readouterr().out)
    assert code == 0
    name = final["metadata"]["name"]
    assert len(name) == 63 and name.startswith("g" * 58)
    assert [p.name for p in state.iterdir() if not p.name.startswith(".")] == [name]
    pods = [n for n in final["status"]["nodes"].values() if n["type"] == "Pod"]
    assert pods and all(node["phase"] == "Succeeded" for node in pods)


def lint_text(text: str, store: TemplateStore | None = None) -> list[str]:
    document = yaml.safe_load(textwrap.dedent(text))
    return [str(problem) for problem in lint_workflow(document, store or TemplateStore())]


def test_what_argo_accepts_stays_accepted() -> None:
    assert (
        lint_text(
            HEAD
            + """\
spec:
  entrypoint: main
  parallelism: 0
  arguments: {parameters: [{name: n, value: "2"}, {name: my_param-1, value: x}]}
  templates:
    - name: main
      inputs: {parameters: [{name: p, value: "1"}], artifacts: [{name: a, raw: {data: x}}]}
      parallelism: 1
      steps:
        - - name: Step-1
            template: t
            withSequence: {count: "{{workflow.parameters.n}}"}
            arguments:
              parameters: [{name: p, value: "{{inputs.parameters.p}} {{inputs.parameters}}"}]
              artifacts: [{name: a, from: "{{inputs.artifacts.a}}"}]
          - name: inline
            inline:
              inputs: {parameters: [{name: q}]}
              container: {image: alpine, args: ["{{inputs.parameters.q}}"]}
            arguments: {parameters: [{name: q, value: "{{inputs.parameters.p}}"}]}
    - name: t
      inputs: {parameters: [{name: p}], artifacts: [{name: a, path: /a}]}
      retryStrategy: {limit: "{{workflow.parameters.n}}", backoff: {factor: 2}}
      activeDeadlineSeconds: "{{workflow.parameters.n}}"
      container:
        image: alpine
        args: ["{{inputs.parameters.p}}", "{{inputs.artifacts.a.path}}",
               "{{=inputs.parameters.nope}}", "{{workflow.parameters.json}}", "{{pod.name}}"]
"""
        )
        == []
    )


def test_a_workflow_templates_workflow_parameters_are_not_known_on_their_own() -> None:
    document = yaml.safe_load(
        """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: lib}
spec:
  templates:
    - name: echo
      container:
        image: alpine
        args: ["{{workflow.parameters.anything}}", "{{inputs.parameters.x}}"]
"""
    )
    problems = [str(p) for p in lint_template_document(document, TemplateStore())]
    assert problems == [
        "spec.templates[0].container.args[1]: failed to resolve {{inputs.parameters.x}}: template"
        " `echo` has no input parameter `x` (inputs.parameters: none)"
    ]


def test_parameters_as_a_mapping_with_p_values_never_reach_the_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from argoexec.controller.loop import runner

    reached: list[Any] = []
    monkeypatch.setattr(runner.WorkflowRunner, "__init__", lambda *a, **k: reached.append(a))
    path = tmp_path / "wf.yaml"
    path.write_text(with_spec_field("arguments: {parameters: {a: 1}}"))
    assert main(["run", str(path), "-p", "a=2", "--state-dir", str(tmp_path / "s")]) == 2
    assert "dictionary update" not in capsys.readouterr().err
    assert reached == []
