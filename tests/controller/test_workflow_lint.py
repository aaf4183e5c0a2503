"""``argoexec lint``: schema, references, DAGs, expressions, arguments, and the CLI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.cli import main
from argoexec.controller.workflow.documents import TemplateStore, load_documents
from argoexec.controller.workflow.lint import (
    Problem,
    lint_cron_workflow,
    lint_template_document,
    lint_workflow,
)
from argoexec.controller.workflow.schema import trim

ROOT = Path(__file__).resolve().parents[2]
ARGO_SCHEMA = ROOT / "tests" / "fixtures" / "argo" / "schema.json"

LIB = """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: lib}
spec:
  entrypoint: main
  arguments:
    parameters: [{name: who, value: lib}]
  templates:
    - name: main
      inputs: {parameters: [{name: who}]}
      steps: [[{name: one, template: echo}]]
    - name: echo
      container: {image: alpine}
"""


def store() -> TemplateStore:
    s = TemplateStore()
    s.add(yaml.safe_load(LIB))
    return s


def workflow(templates: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "t-"},
        "spec": {"entrypoint": templates[0]["name"] if templates else None, **spec,
                 "templates": templates},
    }  # fmt: skip


def problems_of(wf: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in lint_workflow(wf, store())]


def container(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "container": {"image": "alpine"}, **extra}


def test_a_good_workflow_has_no_problems() -> None:
    wf = workflow(
        [
            {
                "name": "main",
                "inputs": {"parameters": [{"name": "n", "value": 3}]},
                "retryStrategy": {"limit": 2, "expression": "asInt(lastRetry.exitCode) > 1"},
                "steps": [
                    [{"name": "a", "template": "leaf", "when": "{{workflow.name}} != x"}],
                    [
                        {
                            "name": "b",
                            "templateRef": {"name": "lib", "template": "echo"},
                            "arguments": {
                                "parameters": [
                                    {"name": "v", "value": "{{steps.a.outputs.result}}"},
                                    {"name": "w", "value": "{{=steps['a'].outputs.result}}"},
                                ]
                            },
                        },
                        {"name": "c", "inline": {"container": {"image": "alpine"}}},
                    ],
                ],
            },
            container("leaf", outputs={"parameters": [{"name": "p", "valueFrom": {"path": "/p"}}]}),
        ],
        onExit="leaf",
    )
    assert problems_of(wf) == []


def test_schema_unknown_fields_and_wrong_types_name_their_path() -> None:
    wf = workflow(
        [
            {"name": "main", "contianer": {"image": "alpine"}, "container": {"image": 5}},
            container("other", inputs={"parameters": [{"value": "x"}]}, activeDeadlineSeconds=30),
        ],
        parallelism="two",
    )
    found = problems_of(wf)
    assert (
        "spec.templates[0].contianer",
        "unknown field `contianer` (did you mean `container`?)",
    ) in found
    assert (
        "spec.templates[0].container.image",
        "wrong type: expected a string, got integer 5 (quote it, or run with --strict=false)",
    ) in found
    assert ("spec.parallelism", 'wrong type: expected an integer, got string "two"') in found
    assert ("spec.templates[1].inputs.parameters[0].name", "missing required field `name`") in found


def test_entrypoint_must_exist() -> None:
    wf = workflow([container("a")])
    wf["spec"]["entrypoint"] = "mian"
    assert problems_of(wf) == [
        ("spec.entrypoint", "template `mian` not found in the workflow (have `a`)")
    ]
    del wf["spec"]["entrypoint"]
    assert problems_of(wf) == [("spec.entrypoint", "no entrypoint: name the template to run")]


def test_workflow_template_ref_supplies_entrypoint_templates_and_arguments() -> None:
    wf = workflow([], workflowTemplateRef={"name": "lib"})
    del wf["spec"]["entrypoint"], wf["spec"]["templates"]
    assert problems_of(wf) == []
    wf["spec"]["workflowTemplateRef"] = {"name": "nope"}
    assert problems_of(wf) == [
        ("spec.workflowTemplateRef", "WorkflowTemplate `nope` not found (have `lib`)")
    ]


def test_step_and_task_references_must_resolve() -> None:
    wf = workflow(
        [
            {
                "name": "main",
                "steps": [
                    [
                        {"name": "a", "template": "missing"},
                        {"name": "b", "templateRef": {"name": "lib", "template": "nope"}},
                        {"name": "c", "template": "leaf", "onExit": "gone"},
                        {"name": "d"},
                        {"name": "e", "template": "leaf", "inline": {"suspend": {}}},
                    ]
                ],
            },
            {"name": "graph", "dag": {"tasks": [
                {"name": "t", "templateRef": {"name": "lib", "template": "echo",
                                              "clusterScope": True}},
                {"name": "u", "template": "leaf", "hooks": {"exit": {"template": "gone"}}},
            ]}},
            container("leaf"),
        ],
        onExit="bye",
    )  # fmt: skip
    found = problems_of(wf)
    missing = "not found in the workflow (have `graph`, `leaf`, `main`)"
    steps, tasks = "spec.templates[0].steps[0]", "spec.templates[1].dag.tasks"
    assert found == [
        (f"{steps}[0].template", f"template `missing` {missing}"),
        (
            f"{steps}[1].templateRef",
            "template `nope` not found in WorkflowTemplate `lib` (it has `echo`, `main`)",
        ),
        (f"{steps}[2].onExit", f"template `gone` {missing}"),
        (f"{steps}[3]", "needs one of `template`, `templateRef` or `inline`"),
        (f"{steps}[4]", "has more than one of `template`, `inline`"),
        (
            f"{tasks}[0].templateRef",
            "ClusterWorkflowTemplate `lib` not found (have none);"
            " there is a WorkflowTemplate of that name: clusterScope: false?",
        ),
        (f"{tasks}[1].hooks.exit.template", f"template `gone` {missing}"),
        ("spec.onExit", f"template `bye` {missing}"),
    ]


def test_dag_dependencies_must_exist_and_not_cycle() -> None:
    wf = workflow(
        [
            {"name": "main", "dag": {"tasks": [
                {"name": "a", "template": "leaf", "depends": "c.Succeeded || nope"},
                {"name": "b", "template": "leaf", "dependencies": ["a", "ghost"]},
                {"name": "c", "template": "leaf", "depends": "b && !(a.Failed)"},
                {"name": "d", "template": "leaf", "depends": "a.Finished"},
                {"name": "e", "template": "leaf", "depends": "(a", "dependencies": ["a"]},
            ]}},
            container("leaf"),
        ]
    )  # fmt: skip
    tasks = "spec.templates[0].dag.tasks"
    found = problems_of(wf)
    known = "in template `main` (tasks: `a`, `b`, `c`, `d`, `e`)"
    assert found == [
        (f"{tasks}[0].depends", f"unknown task `nope` {known}"),
        (f"{tasks}[1].dependencies", f"unknown task `ghost` {known}"),
        (
            f"{tasks}[3].depends",
            "invalid depends 'a.Finished': unknown task result `.Finished` (one of AllFailed,"
            " AnySucceeded, Daemoned, Errored, Failed, Omitted, Skipped, Succeeded)",
        ),
        (f"{tasks}[4].depends", "invalid depends '(a': unbalanced `(`"),
        (f"{tasks}[4]", "use either `depends` or `dependencies`, not both"),
        (tasks, "cyclic dependency: a -> c -> b -> a"),
    ]


def test_depends_syntax_errors_name_their_column() -> None:
    wf = workflow(
        [
            {"name": "main", "dag": {"tasks": [
                {"name": "a", "template": "leaf"},
                {"name": "b", "template": "leaf", "depends": "a && $b"},
                {"name": "c", "template": "leaf", "depends": "a) || (b"},
                {"name": "d", "template": "leaf", "depends": "a & b"},
            ]}},
            container("leaf"),
        ]
    )  # fmt: skip
    tasks = "spec.templates[0].dag.tasks"
    assert problems_of(wf) == [
        (f"{tasks}[1].depends", "invalid depends 'a && $b': unexpected '$' at column 6"),
        (f"{tasks}[2].depends", "invalid depends 'a) || (b': unbalanced `)` at column 2"),
        (f"{tasks}[3].depends", "invalid depends 'a & b': unexpected '&' at column 3"),
    ]


def test_a_template_has_exactly_one_kind() -> None:
    wf = workflow(
        [
            {"name": "main", "container": {"image": "a"}, "script": {"image": "b", "source": "x"}},
            {"name": "empty", "inputs": {}},
            {"inputs": {}, "suspend": {}},
        ]
    )
    assert problems_of(wf) == [
        ("spec.templates[0]", "template `main` has more than one of: container, script"),
        (
            "spec.templates[1]",
            "template `empty` needs exactly one of: container, script, resource, steps, dag,"
            " suspend, containerSet, data, http, plugin",
        ),
        ("spec.templates[2]", "a template needs a `name`"),
    ]


def test_template_metrics_are_refused_where_argos_validation_refuses_them() -> None:
    metrics = {
        "prometheus": [
            {"name": "ok_{{inputs.parameters.x}}", "help": "h", "counter": {"value": "1"}},
            {"name": "bad-name", "help": "h", "labels": [{"key": "k-1", "value": "v"}],
             "counter": {"value": "1"}},
            {"name": "rt", "help": "h",
             "gauge": {"realtime": True, "value": "{{resourcesDuration.cpu}}"}},
        ]
    }  # fmt: skip
    inputs = {"parameters": [{"name": "x", "value": "1"}]}
    wf = workflow([container("main", metrics=metrics, inputs=inputs)])
    where = "spec.templates[0].metrics.prometheus"
    assert problems_of(wf) == [
        (
            f"{where}[1].name",
            "template `main` metric name 'bad-name' is invalid. Metric names must contain "
            "alphanumeric characters or '_'",
        ),
        (
            f"{where}[1].labels[0].key",
            "metric label 'k-1' is invalid: keys may only contain alphanumeric characters or '_'",
        ),
        (
            f"{where}[2].gauge",
            "template `main` metric 'rt' error: 'resourcesDuration.*' metrics cannot be used in "
            "real-time",
        ),
    ]


def test_names_are_unique() -> None:
    wf = workflow(
        [
            {"name": "main", "steps": [
                [{"name": "a", "template": "leaf"}, {"name": "b", "template": "leaf"}],
                [{"name": "a", "template": "leaf"}],
            ]},
            {"name": "graph", "dag": {"tasks": [
                {"name": "t", "template": "leaf"}, {"name": "t", "template": "leaf"},
            ]}},
            container("leaf"),
            container("leaf"),
        ]
    )  # fmt: skip
    assert problems_of(wf) == [
        ("spec.templates[0].steps[1][0].name", "duplicate step name `a` in template `main`"),
        ("spec.templates[1].dag.tasks[1].name", "duplicate task name `t` in template `graph`"),
        ("spec.templates[3].name", "duplicate template name `leaf`"),
    ]


def test_references_to_unknown_steps_and_tasks() -> None:
    wf = workflow(
        [
            {
                "name": "main",
                "steps": [[{"name": "a", "template": "leaf"}],
                          [{"name": "b", "template": "leaf", "when": "{{steps.z.status}} == x"}]],
                "outputs": {"parameters": [
                    {"name": "o", "valueFrom": {"parameter": "{{steps.a.outputs.result}}"}},
                    {"name": "e", "valueFrom": {"expression": "steps.a.outputs.result ?? steps.y"}},
                ]},
            },
            {
                "name": "graph",
                "dag": {"tasks": [
                    {"name": "t", "template": "leaf"},
                    {"name": "u", "template": "leaf", "arguments": {"parameters": [
                        {"name": "p",
                         "value": "{{=tasks.t.outputs.result + tasks['q'].outputs.result}}"},
                        {"name": "r", "value": "{{=inputs.parameters.tasks}}"},
                    ]}},
                ]},
            },
            container("leaf"),
        ]
    )  # fmt: skip
    assert problems_of(wf) == [
        (
            "spec.templates[0].steps[1][0].when",
            "unknown step `z` in template `main` (steps: `a`, `b`)",
        ),
        (
            "spec.templates[0].outputs.parameters[1].valueFrom.expression",
            "unknown step `y` in template `main` (steps: `a`, `b`)",
        ),
        (
            "spec.templates[1].dag.tasks[1].arguments.parameters[0].value",
            "unknown task `q` in template `graph` (tasks: `t`, `u`)",
        ),
    ]


def test_expressions_must_parse() -> None:
    wf = workflow(
        [
            {
                "name": "main",
                "retryStrategy": {"expression": "lastRetry.exitCode >"},
                "steps": [[
                    {"name": "a", "template": "leaf", "when": "{{workflow.name}} == (x"},
                    {"name": "b", "template": "leaf",
                     "when": "'{{workflow.name}}' =~ '^t' && 2 > 1"},
                    {"name": "c", "template": "leaf", "arguments": {"parameters": [
                        {"name": "p", "value": "pre {{=1 +}} post"},
                    ]}},
                ]],
            },
            container("leaf"),
        ]
    )  # fmt: skip
    assert problems_of(wf) == [
        (
            "spec.templates[0].retryStrategy.expression",
            "invalid expression 'lastRetry.exitCode >' (1:21): unexpected end of expression",
        ),
        (
            "spec.templates[0].steps[0][0].when",
            "Invalid 'when' expression '{{workflow.name}} == (x': Unbalanced parenthesis",
        ),
        (
            "spec.templates[0].steps[0][2].arguments.parameters[0].value",
            "invalid expression '1 +' (1:4): unexpected end of expression",
        ),
    ]


def test_entrypoint_parameters_must_be_supplied() -> None:
    main_template = {
        "name": "main",
        "inputs": {"parameters": [{"name": "x"}, {"name": "y", "default": "1"}, {"name": "z"}]},
        "container": {"image": "alpine"},
    }
    wf = workflow(
        [main_template], arguments={"parameters": [{"name": "z"}, {"name": "w", "value": "1"}]}
    )
    assert problems_of(wf) == [
        ("spec.arguments.parameters[0]", "argument `z` has no value: pass -p z=VALUE"),
        (
            "spec.arguments.parameters",
            "entrypoint `main` needs parameter `x`: add it to spec.arguments.parameters"
            " or pass -p x=VALUE",
        ),
    ]


def test_a_workflow_template_document_is_checked_on_its_own() -> None:
    doc = yaml.safe_load(LIB)
    assert lint_template_document(doc, store()) == []
    doc["spec"]["templates"][0]["steps"][0][0]["template"] = "ehco"
    doc["spec"]["templates"][1]["containr"] = {}
    assert lint_template_document(doc, store(), source="lib.yaml") == [
        Problem(
            "spec.templates[1].containr",
            "unknown field `containr` (did you mean `container`?)",
            "lib.yaml",
        ),
        Problem(
            "spec.templates[0].steps[0][0].template",
            "template `ehco` not found in the WorkflowTemplate `lib` (have `echo`, `main`)",
            "lib.yaml",
        ),
    ]


def test_vendored_schema_is_in_sync_with_argos() -> None:
    vendored = Path(trim.__file__).with_name("workflow.json").read_text()
    assert trim.render(json.loads(ARGO_SCHEMA.read_text())) == vendored, (
        "run: python -m argoexec.controller.workflow.schema.trim tests/fixtures/argo/schema.json"
    )


def test_the_examples_lint_clean() -> None:
    examples = ROOT / "examples" / "workflows"
    # Workflow files only (the directory also holds expected outcomes, EXPECTED.yaml); those
    # EXPECTED.yaml runs with --strict=false lint clean only that way.
    kinds = ("\nkind: Workflow\n", "\nkind: CronWorkflow\n")
    files = [f for f in sorted(examples.glob("*.yaml")) if any(k in f.read_text() for k in kinds)]
    runs = yaml.safe_load((examples / "EXPECTED.yaml").read_text())["runs"]
    lenient = {examples / r["file"] for r in runs if "--strict=false" in r.get("args", [])}
    assert files and lenient
    crons = 0
    for group, strict in ((sorted(set(files) - lenient), True), (sorted(lenient), False)):
        docs = load_documents(group, template_paths=[examples / "templates"], strict=strict)
        assert docs.problems == []
        for wf, source in zip(docs.workflows, docs.workflow_sources, strict=True):
            assert lint_workflow(wf, docs.templates, source=source) == []
        for cron, source in zip(docs.cron_workflows, docs.cron_sources, strict=True):
            assert lint_cron_workflow(cron, docs.templates, source=source) == []
        crons += len(docs.cron_workflows)
        for owner in docs.templates.owners():
            assert lint_template_document(owner.document, docs.templates) == []
    assert crons
    for file in lenient:  # each needs the flag
        assert load_documents([file]).problems


def write(path: Path, text: str) -> str:
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_cli_reports_ok_problems_and_unreadable_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "lib").mkdir()
    write(tmp_path / "lib" / "lib.yaml", LIB)
    good = write(
        tmp_path / "good.yaml",
        """\
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: g-}
        spec: {workflowTemplateRef: {name: lib}}
        """,
    )
    bad = write(
        tmp_path / "bad.yaml",
        """\
        apiVersion: argoproj.io/v1alpha1
        kind: Workflow
        metadata: {generateName: b-}
        spec:
          entrypoint: main
          templates:
            - name: main
              steps: [[{name: a, templateRef: {name: lib, template: eco}}]]
        """,
    )
    assert main(["lint", good, "--templates", str(tmp_path / "lib")]) == 0
    assert capsys.readouterr().out == f"{good}: ok\n"
    assert main(["lint", good, bad, "--templates", str(tmp_path / "lib")]) == 1
    assert capsys.readouterr().out == (
        f"{good}: ok\n"
        f"{bad}: spec.templates[0].steps[0][0].templateRef: template `eco` not found in"
        " WorkflowTemplate `lib` (it has `echo`, `main`)\n"
    )
    # Without --templates the reference is unknown.
    assert main(["lint", good]) == 1
    assert "WorkflowTemplate `lib` not found (have none)" in capsys.readouterr().out
    broken = write(tmp_path / "broken.yaml", "kind: [\n")
    assert main(["lint", broken]) == 1
    assert capsys.readouterr().out.startswith(f"{broken}:2:1: invalid YAML: ")
    # A WorkflowTemplate given as a FILE is linted too.
    lib_copy = write(tmp_path / "lib-copy.yaml", LIB.replace("template: echo", "template: nope"))
    assert main(["lint", lib_copy]) == 1
    assert "spec.templates[0].steps[0][0].template: template `nope` not found" in (
        capsys.readouterr().out
    )


def test_a_call_must_pass_every_required_input_of_its_template() -> None:
    needs = {
        "name": "needs",
        "inputs": {
            "parameters": [{"name": "who"}, {"name": "greeting", "default": "hi"}],
            "artifacts": [
                {"name": "data", "path": "/tmp/d"},
                {"name": "maybe", "path": "/tmp/m", "optional": True},
                {"name": "fixed", "path": "/tmp/f", "raw": {"data": "x"}},
            ],
        },
        "container": {"image": "alpine"},
    }
    main = {
        "name": "main",
        "steps": [
            [
                {"name": "bare", "template": "needs"},
                {
                    "name": "full",
                    "template": "needs",
                    "arguments": {
                        "parameters": [{"name": "who", "value": "x"}],
                        "artifacts": [{"name": "data", "raw": {"data": "y"}}],
                    },
                },
                {"name": "lib", "templateRef": {"name": "lib", "template": "main"}},
            ]
        ],
    }
    assert problems_of(workflow([main, needs])) == [
        (
            "spec.templates[0].steps[0][0].arguments",
            "template `needs` needs input parameter `who`: pass it in arguments.parameters",
        ),
        (
            "spec.templates[0].steps[0][0].arguments",
            "template `needs` needs input artifact `data`: pass it in arguments.artifacts",
        ),
        (
            "spec.templates[0].steps[0][2].arguments",
            "template `main` needs input parameter `who`: pass it in arguments.parameters",
        ),
    ]


def test_artifact_sub_paths_must_be_clean_relative_paths() -> None:
    wf = workflow(
        [
            {
                "name": "main",
                "steps": [[{
                    "name": "a",
                    "template": "use",
                    "arguments": {"artifacts": [
                        {"name": "in", "from": "{{workflow.outputs.artifacts.x}}",
                         "subPath": "../secret"},
                    ]},
                }]],
            },
            container("use", inputs={"parameters": [{"name": "p", "value": "x"}], "artifacts": [
                {"name": "in", "path": "/in", "subPath": "/abs"},
                {"name": "later", "path": "/l", "optional": True,
                 "subPath": "{{inputs.parameters.p}}"},  # checked once substituted
                {"name": "fine", "path": "/f", "optional": True, "subPath": "a/b"},
            ]}),
        ]
    )  # fmt: skip
    assert problems_of(wf) == [
        (
            "spec.templates[0].steps[0][0].arguments.artifacts[0].subPath",
            "subPath '../secret' contains a '..' segment: a subPath cannot leave the artifact",
        ),
        (
            "spec.templates[1].inputs.artifacts[0].subPath",
            "subPath '/abs' is absolute: give a path relative to the artifact's root",
        ),
    ]


def test_an_expression_nested_beyond_the_parser_is_a_problem_not_a_crash() -> None:
    deep = "(" * 5000 + "1" + ")" * 5000
    template = {"name": "main", "container": {"image": "alpine", "args": [f"{{{{={deep}}}}}"]}}
    [problem] = lint_workflow(workflow([template]), store())
    assert "nested too deeply" in problem.message
    assert "(10001 characters)" in problem.message  # named, not repeated whole


def test_lifecycle_hooks_need_an_expression_that_parses_and_names_known_steps() -> None:
    wf = workflow(
        [
            {"name": "main", "steps": [[{"name": "a", "template": "leaf", "hooks": {
                "exit": {"template": "leaf"},
                "running": {"template": "leaf"},
                "done": {"expression": "steps.a.status ==", "template": "leaf"},
                "other": {"expression": "steps.b.status == 'Running'", "template": "leaf"},
            }}]]},
            container("leaf"),
        ],
        hooks={"failed": {"template": "leaf", "expression": 'workflow.status == "Failed"'},
               "late": {"template": "gone"}},
    )  # fmt: skip
    found = problems_of(wf)
    hooks = "spec.templates[0].steps[0][0].hooks"
    assert (f"{hooks}.running", "needs an `expression` (every hook but `exit` does)") in found
    assert ("spec.hooks.late", "needs an `expression` (every hook but `exit` does)") in found
    assert any(path == f"{hooks}.done.expression" for path, _ in found), found
    assert any(
        path == f"{hooks}.other.expression" and "unknown step `b`" in message
        for path, message in found
    ), found
    assert not any(path.startswith(f"{hooks}.exit") for path, _ in found)
    assert not any(path.startswith("spec.hooks.failed") for path, _ in found)
