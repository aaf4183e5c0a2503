"""``argoexec lint`` and ``argoexec run`` with ``--strict`` (Argo's CLI flag, true by default).

Strict, unknown fields and field names in another case refuse the document, each named with its
YAML path; ``--strict=false`` drops or renames them with a warning on stderr and runs the
document as Argo's controller would run what ``argo submit --strict=false`` created.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from argoexec.cli import main
from argoexec.controller.sandbox import find_bubblewrap
from tests.servers.procs import require

WORKFLOW = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: lenient-
  label: {team: data}
spec:
  Entrypoint: main
  entrypoint: main
  arguments:
    parameters:
      - {name: n, value: 3}
      - {name: big, value: 1.0e+21}
      - {name: enabled, value: true}
  templates:
    - name: main
      steps:
        - - name: call
            templateRef: {name: lib, template: echo}
            arguments:
              Parameters:
                - {name: msg, value: "{{workflow.parameters.n}} {{workflow.parameters.big}}"}
                - {name: flag, value: "{{workflow.parameters.enabled}}"}
"""
TEMPLATE = """\
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: lib}
spec:
  templates:
    - name: echo
      inputs:
        parameters: [{name: msg}, {name: flag}]
      container:
        image: alpine:3.20
        command: [sh, -c, 'echo "$MSG $FLAG"']
        colour: red
        Env:
          - {name: MSG, value: "{{inputs.parameters.msg}}"}
          - {name: FLAG, value: "{{inputs.parameters.flag}}", valueFormat: text}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return write(tmp_path / "wf.yaml", WORKFLOW), write(tmp_path / "lib" / "lib.yaml", TEMPLATE)


STRICT_PROBLEMS = [
    "wf.yaml: metadata.label: unknown field `label` (did you mean `labels`?)",
    "wf.yaml: spec.Entrypoint: unknown field `Entrypoint` (field names are case-sensitive:"
    " `entrypoint`)",
    "lib.yaml: spec.templates[0].container.colour: unknown field `colour`",
    "lib.yaml: spec.templates[0].container.Env: unknown field `Env` (field names are"
    " case-sensitive: `env`)",
]
LENIENT_WARNINGS = [
    "wf.yaml: metadata.label: warning: unknown field `label` dropped (did you mean `labels`?)",
    "wf.yaml: spec.Entrypoint: warning: `Entrypoint` read as `entrypoint`",
    "wf.yaml: spec.entrypoint: warning: `Entrypoint`, `entrypoint` all set `entrypoint`, in this"
    " order: `entrypoint` wins",
    "wf.yaml: spec.templates[0].steps[0][0].arguments.Parameters: warning: `Parameters` read as"
    " `parameters`",
    "lib.yaml: spec.templates[0].container.colour: warning: unknown field `colour` dropped",
    "lib.yaml: spec.templates[0].container.Env: warning: `Env` read as `env`",
    "lib.yaml: spec.templates[0].container.Env[1].valueFormat: warning: unknown field"
    " `valueFormat` dropped (did you mean `valueFrom`?)",
]


def lines_naming(text: str, names: tuple[str, ...]) -> list[str]:
    """The lines of ``text`` about the given files, each shortened to start at the file name."""
    found = []
    for line in text.splitlines():
        for name in names:
            at = line.find(f"/{name}: ")
            if at >= 0:
                found.append(line[at + 1 :])
    return found


@pytest.mark.parametrize("flag", ["--strict=false", "--strict=0", "--strict=f", "--strict=F",
                                  "--strict=FALSE", "--strict=False"])  # fmt: skip
def test_lint_with_strict_false_warns_and_passes(
    flag: str, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    wf, lib = files
    assert main(["lint", str(wf), str(lib), flag]) == 0
    out, err = capsys.readouterr()
    assert out == f"{wf}: ok\n{lib}: ok\n"
    assert lines_naming(err, ("wf.yaml", "lib.yaml")) == [
        # the WorkflowTemplate is read first (its file is a template source for the workflow)
        *[w for w in LENIENT_WARNINGS if w.startswith("wf.yaml")],
        *[w for w in LENIENT_WARNINGS if w.startswith("lib.yaml")],
    ]


@pytest.mark.parametrize("flag", [None, "--strict", "--strict=true", "--strict=1", "--strict=t",
                                  "--strict=T", "--strict=TRUE", "--strict=True"])  # fmt: skip
def test_lint_is_strict_by_default_and_names_every_unknown_field(
    flag: str | None, files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    wf, lib = files
    assert main(["lint", str(wf), str(lib), *([flag] if flag else [])]) == 1
    out, err = capsys.readouterr()
    assert lines_naming(out, ("wf.yaml", "lib.yaml")) == STRICT_PROBLEMS
    assert "--strict=false" in err


def test_a_value_the_bool_flag_does_not_take_is_a_usage_error(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    wf, _ = files
    assert main(["lint", str(wf), "--strict=no"]) == 2
    assert "argument --strict: invalid value 'no'" in capsys.readouterr().err
    # As Argo's CLI (pflag), a bool flag never takes the next word: `--strict false` would
    # lint a file named `false`; it is refused, naming the spelling that works.
    assert main(["lint", "--strict", "false", str(wf)]) == 2
    assert "--strict false: a bool flag takes its value after `=` (--strict=false)" in (
        capsys.readouterr().err
    )
    assert main(["run", str(wf), "--strict", "0"]) == 2
    assert "(--strict=0)" in capsys.readouterr().err


def test_run_refuses_unknown_fields_by_default_naming_each_and_runs_nothing(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wf, lib = files
    state = tmp_path / "state"
    code = main(["run", str(wf), "--templates", str(lib.parent), "--state-dir", str(state)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = lines_naming(err, ("wf.yaml", "lib.yaml"))
    assert [line for line in lines if ": warning: " not in line][:4] == STRICT_PROBLEMS
    # inside a step Argo decodes leniently even when strict: a warning, not a refusal
    assert (
        "wf.yaml: spec.templates[0].steps[0][0].arguments.Parameters: warning: `Parameters` read"
        " as `parameters` (Argo reads what is inside a step leniently, even with --strict)"
    ) in lines
    assert "4 problem(s); nothing was run (with --strict=false" in err
    assert not state.exists() or list(state.iterdir()) == []


def test_run_with_strict_false_runs_the_decoded_workflow_and_stores_it(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    wf, lib = files
    state = tmp_path / "state"
    argv = ["run", str(wf), "--templates", str(lib.parent), "--state-dir", str(state)]
    code = main([*argv, "--strict=false", "-o", "json"])
    out, err = capsys.readouterr()
    final = json.loads(out)
    assert code == 0, err
    assert lines_naming(err, ("wf.yaml", "lib.yaml")) == LENIENT_WARNINGS
    # What Argo would store: no unknown fields, canonical names, parameter values as text.
    assert final["metadata"].get("label") is None
    spec = final["spec"]
    assert "Entrypoint" not in spec and spec["entrypoint"] == "main"
    assert spec["arguments"]["parameters"] == [
        {"name": "n", "value": "3"},
        {"name": "big", "value": "1000000000000000000000"},
        {"name": "enabled", "value": "true"},
    ]
    call = next(n for n in final["status"]["nodes"].values() if n["displayName"] == "call")
    assert call["phase"] == "Succeeded"
    assert call["outputs"]["result"] == "3 1000000000000000000000 true"
    # `argoexec get` reads the same stored document
    assert main(["get", final["metadata"]["name"], "-o", "json", "--state-dir", str(state)]) == 0
    assert json.loads(capsys.readouterr().out)["spec"] == spec
