"""The example workflows run end to end through ``argoexec run`` and match EXPECTED.yaml.

Each EXPECTED.yaml entry becomes one test (id: the file's stem, ``-2``, ``-3`` … for further
runs of the same file). The checks are evaluated here in the small language documented at the
top of EXPECTED.yaml. Bad workflows are refused before anything runs: a clear error naming the
place, and no run directory or pod left behind.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.cli import main
from argoexec.controller.state import StateStore

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "workflows"
EXPECTED = yaml.safe_load((EXAMPLES / "EXPECTED.yaml").read_text(encoding="utf-8"))["runs"]

# Entries known to fail because of an engine bug: run id -> reason (strict xfail, so a fix
# turns them into failures that ask for this entry to be removed).
ENGINE_BUGS: dict[str, str] = {}


def run_ids(runs: list[dict[str, Any]]) -> list[str]:
    """``hello-world``, ``parameters``, ``parameters-2``: the stem, numbered from the 2nd run."""
    seen: Counter[str] = Counter()
    ids = []
    for entry in runs:
        stem = Path(entry["file"]).stem
        seen[stem] += 1
        ids.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return ids


def cases() -> list[Any]:
    out = []
    for run_id, entry in zip(run_ids(EXPECTED), EXPECTED, strict=True):
        marks = []
        if run_id in ENGINE_BUGS:
            marks.append(pytest.mark.xfail(strict=True, reason=f"engine: {ENGINE_BUGS[run_id]}"))
        out.append(pytest.param(entry, id=run_id, marks=marks))
    return out


# --- running and reading a workflow -----------------------------------------------------------


class Run:
    """One finished ``argoexec run``: its exit code, the printed Workflow and the state dir."""

    def __init__(self, code: int, workflow: dict[str, Any], state: Path) -> None:
        self.code = code
        self.workflow = workflow
        self.state = state

    @property
    def name(self) -> str:
        return str(self.workflow["metadata"]["name"])

    @property
    def status(self) -> dict[str, Any]:
        return dict(self.workflow.get("status") or {})

    @property
    def nodes(self) -> dict[str, dict[str, Any]]:
        return dict(self.status.get("nodes") or {})

    def node(self, ref: str) -> dict[str, Any] | None:
        """The node whose status name is ``ref`` with ``WF`` standing for the workflow's name."""
        assert ref.startswith("WF"), f"node reference {ref!r} must start with WF"
        name = self.name + ref[2:]
        found = [n for n in self.nodes.values() if n.get("name") == name]
        assert len(found) <= 1, f"{len(found)} nodes are named {name!r}"
        return found[0] if found else None

    def log(self, node: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> str:
        """The node's main container log, read through ``argoexec logs``."""
        args = ["logs", self.name, "--node", str(node["id"]), "--state-dir", str(self.state)]
        code = main(args)
        out, err = capsys.readouterr()
        assert code == 0, f"argoexec logs {node['name']}: {err}"
        return out

    def metric(
        self, series: str, labels: dict[str, Any], capsys: pytest.CaptureFixture[str]
    ) -> Any:
        """The value of one series of ``argoexec get NAME -o metrics`` (``_MISSING`` if none),
        written as ``%g`` (``2.0`` reads ``2``)."""
        code = main(["get", self.name, "-o", "metrics", "--state-dir", str(self.state)])
        out, err = capsys.readouterr()
        assert code == 0, f"argoexec get -o metrics: {err}"
        return series_value(out, series, labels)

    def describe(self) -> str:
        rows = [
            f"  {n.get('name')}  {n.get('type')}  {n.get('phase')}  {n.get('message') or ''}"
            for n in sorted(self.nodes.values(), key=lambda n: str(n.get("name")))
        ]
        return f"{self.name}: {self.status.get('phase')} {self.status.get('message') or ''}\n" + (
            "\n".join(rows)
        )


def series_value(text: str, series: str, labels: dict[str, Any]) -> Any:
    """The value of the series with exactly those labels in Prometheus `text`, written as
    ``%g`` (``_MISSING`` if there is none)."""
    from prometheus_client.parser import text_string_to_metric_families

    want = {str(k): str(v) for k, v in labels.items()}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == series and sample.labels == want:
                return f"{sample.value:g}"
    return _MISSING


def run_workflow(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    state: Path,
    file: Path | str,
    *args: str,
) -> Run:
    """``argoexec run FILE ARGS -o json`` in-process from the repository root."""
    monkeypatch.chdir(REPO)
    code = main(["run", str(file), *args, "-o", "json", "--state-dir", str(state)])
    out, err = capsys.readouterr()
    try:
        workflow = json.loads(out)
    except json.JSONDecodeError:
        pytest.fail(f"argoexec run {file} printed no Workflow (exit {code}):\n{out}\n{err}")
    return Run(code, workflow, state)


# --- the check language of EXPECTED.yaml ------------------------------------------------------

_MISSING = object()


def lookup(obj: Any, path: str) -> Any:
    """A dotted path into ``obj``; on a list of named objects a segment selects by name (the
    ``value`` of a parameter, the whole object otherwise). ``_MISSING`` when absent."""
    parent_key = ""
    for segment in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(segment, _MISSING)
        elif isinstance(obj, list):
            named = [o for o in obj if isinstance(o, dict) and o.get("name") == segment]
            if not named:
                return _MISSING
            obj = named[0]
            if parent_key == "parameters":
                obj = obj.get("value", _MISSING)
        else:
            return _MISSING
        if obj is _MISSING:
            return _MISSING
        parent_key = segment
    return obj


def text(value: Any) -> str:
    """Values compare as text; JSON numbers as Argo writes them."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def check_value(value: Any, check: dict[str, Any], where: str) -> None:
    if "exists" in check:
        assert (value is not _MISSING) == bool(check["exists"]), f"{where}: exists is {value!r}"
        return
    assert value is not _MISSING, f"{where}: not present"
    if "equals" in check:
        assert text(value) == str(check["equals"]), f"{where}: {value!r} != {check['equals']!r}"
    elif "contains" in check:
        assert str(check["contains"]) in text(value), f"{where}: {value!r} lacks {check!r}"
    elif "one_of" in check:
        allowed = [str(v) for v in check["one_of"]]
        assert text(value) in allowed, f"{where}: {value!r} not one of {allowed}"
    else:
        raise AssertionError(f"{where}: no predicate in {check!r}")


def apply_check(run: Run, check: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    if "nodes_where" in check:
        want = {k: str(v) for k, v in check["nodes_where"].items()}
        matching = [
            n for n in run.nodes.values() if all(text(n.get(k)) == v for k, v in want.items())
        ]
        names = sorted(str(n.get("name")) for n in matching)
        assert len(matching) == check["count"], f"nodes where {want}: {names}"
        return
    if "metric" in check:
        where = f"metric {check['metric']}{check.get('labels') or ''}"
        check_value(run.metric(check["metric"], check.get("labels") or {}, capsys), check, where)
        return
    if "workflow" in check:
        where = f"status.{check['workflow']}"
        check_value(lookup(run.status, check["workflow"]), check, where)
        return
    ref = check["node"]
    node = run.node(ref)
    if "field" not in check and "exists" in check:
        assert (node is not None) == bool(check["exists"]), f"node {ref}: exists is {node}"
        return
    assert node is not None, f"no node {ref}"
    if "log_contains" in check:
        log = run.log(node, capsys)
        assert check["log_contains"] in log, f"{ref} log lacks {check['log_contains']!r}:\n{log}"
        return
    check_value(lookup(node, check["field"]), check, f"{ref} {check['field']}")


# --- the examples -----------------------------------------------------------------------------


def check_expected(run: Run, entry: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """The finished run matches its EXPECTED.yaml ``entry``: phase, exit code, nodes, checks."""
    summary = run.describe()
    assert run.status.get("phase") == entry["phase"], summary
    assert (run.code == 0) == (entry["phase"] == "Succeeded"), f"exit code {run.code}\n{summary}"
    if entry.get("nodes") is not None:
        assert len(run.nodes) == entry["nodes"], summary
    for check in entry.get("checks") or []:
        try:
            apply_check(run, check, capsys)
        except AssertionError as exc:
            raise AssertionError(f"{check}: {exc}\n{summary}") from None


def expand_args(args: list[str], request: pytest.FixtureRequest) -> list[str]:
    """An entry's arguments, `$ECHO_URL` replaced by the loopback echo server's URL (started
    only for the entries that name it)."""
    if not any("$ECHO_URL" in a for a in args):
        return list(args)
    url = request.getfixturevalue("echo_server").url
    return [a.replace("$ECHO_URL", url) for a in args]


@pytest.mark.parametrize("entry", cases())
def test_example(
    entry: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    args = expand_args(entry.get("args", []), request)
    run = run_workflow(capsys, monkeypatch, tmp_path, EXAMPLES / entry["file"], *args)
    check_expected(run, entry, capsys)


def test_every_example_has_an_expected_run() -> None:
    covered = {Path(e["file"]).name for e in EXPECTED}
    files = {p.name for p in EXAMPLES.glob("*.yaml")} - {"EXPECTED.yaml"}
    assert files - covered == set()
    assert covered - files == set(), "EXPECTED.yaml names files that do not exist"


def test_check_language_reads_one_metric_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = StateStore(tmp_path).create("wf-m")
    run_dir.write_metrics(
        "# HELP argo_workflows_c h\n# TYPE argo_workflows_c gauge\n"
        'argo_workflows_c{status="Failed"} 2.0\nargo_workflows_c{status="Succeeded"} 0.5\n'
    )
    run = Run(0, {"metadata": {"name": "wf-m"}, "status": {}}, tmp_path)
    apply_check(
        run, {"metric": "argo_workflows_c", "labels": {"status": "Failed"}, "equals": "2"}, capsys
    )
    apply_check(
        run,
        {"metric": "argo_workflows_c", "labels": {"status": "Succeeded"}, "equals": 0.5},
        capsys,
    )
    apply_check(run, {"metric": "argo_workflows_c", "exists": False}, capsys)  # labels differ
    with pytest.raises(AssertionError, match="not present"):
        apply_check(run, {"metric": "argo_workflows_nope", "equals": "1"}, capsys)
    with pytest.raises(AssertionError, match="'2' != 3"):
        apply_check(
            run, {"metric": "argo_workflows_c", "labels": {"status": "Failed"}, "equals": 3}, capsys
        )


def test_check_language_selects_named_parameters_and_artifacts() -> None:
    status = {
        "outputs": {
            "parameters": [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}],
            "artifacts": [{"name": "r", "path": "/tmp/r"}],
        }
    }
    assert lookup(status, "outputs.parameters.b") == "2"
    assert lookup(status, "outputs.artifacts.r") == {"name": "r", "path": "/tmp/r"}
    assert lookup(status, "outputs.parameters.c") is _MISSING
    assert lookup(status, "outputs.result") is _MISSING
    with pytest.raises(AssertionError):
        check_value("2", {"equals": "3"}, "x")
    with pytest.raises(AssertionError):
        check_value(_MISSING, {"exists": True}, "x")


def test_demo_runs_steps_a_nested_dag_and_artifacts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_workflow(capsys, monkeypatch, tmp_path, REPO / "examples" / "demo.yaml")
    summary = run.describe()
    assert run.code == 0, summary
    assert run.status["phase"] == "Succeeded", summary
    # WF, [0], prepare, [1], analyse (DAG), count-lines, count-chars, report, [2], show
    assert len(run.nodes) == 10, summary
    analyse = run.node("WF[1].analyse")
    assert analyse is not None and analyse["type"] == "DAG"
    show = run.node("WF[2].show")
    assert show is not None
    # "argo workflows on a laptop": 5 words, one a line; 4+9+2+1+6 letters + 5 newlines
    assert run.log(show, capsys).strip() == "report: 5 words, 27 bytes"


# --- refused workflows: an error naming the place, and nothing run ----------------------------

HEADER = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: bad-
spec:
  entrypoint: main
"""

ECHO = """\
    - name: echo
      container:
        image: alpine:3.20
        command: [echo, hi]
"""

BAD_WORKFLOWS: dict[str, tuple[str, list[str]]] = {
    "invalid-yaml": (
        HEADER + "  templates:\n    - name: main\n      container: {image: [alpine\n",
        ["invalid-yaml.yaml:10:", "invalid YAML"],
    ),
    "unknown-template": (
        HEADER
        + "  templates:\n    - name: main\n      steps:\n"
        + "        - - name: one\n            template: nowhere\n"
        + ECHO,
        ["unknown-template.yaml: spec.templates[0].steps[0][0].template", "`nowhere`"],
    ),
    "cyclic-dag": (
        HEADER
        + "  templates:\n    - name: main\n      dag:\n        tasks:\n"
        + "          - {name: a, template: echo, dependencies: [b]}\n"
        + "          - {name: b, template: echo, dependencies: [a]}\n"
        + ECHO,
        ["cyclic-dag.yaml: spec.templates[0].dag.tasks", "cyclic"],
    ),
    "bad-expression": (
        HEADER
        + "  templates:\n    - name: main\n      steps:\n"
        + "        - - name: one\n            template: echo\n"
        + '            when: "{{= 1 + }}"\n'
        + ECHO,
        ["bad-expression.yaml: spec.templates[0].steps[0][0].when", "'1 +'"],
    ),
    "missing-argument": (
        HEADER.replace("spec:\n", "spec:\n  arguments:\n    parameters: [{name: who}]\n")
        + "  templates:\n    - name: main\n      steps:\n"
        + "        - - name: one\n            template: echo\n"
        + ECHO,
        ["missing-argument.yaml: spec.arguments.parameters[0]", "-p who="],
    ),
    "missing-step-parameter": (
        HEADER
        + "  templates:\n    - name: main\n      steps:\n"
        + "        - - name: one\n            template: greet\n"
        + "    - name: greet\n      inputs:\n        parameters: [{name: who}]\n"
        + "      container: {image: 'alpine:3.20', command: [echo, '{{inputs.parameters.who}}']}\n",
        ["spec.templates[0].steps[0][0]", "who"],
    ),
    "artifact-sub-path-escape": (
        HEADER
        + "  templates:\n    - name: main\n      steps:\n"
        + "        - - name: one\n            template: read\n"
        + "            arguments:\n              artifacts:\n"
        + "                - {name: f, raw: {data: x}, subPath: ../../etc/passwd}\n"
        + "    - name: read\n      inputs:\n        artifacts: [{name: f, path: /tmp/f}]\n"
        + "      container: {image: 'alpine:3.20', command: [cat, /tmp/f]}\n",
        ["spec.templates[0].steps[0][0].arguments.artifacts[0].subPath", "'..' segment"],
    ),
}


def assert_nothing_ran(state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert not state.exists() or list(state.iterdir()) == [], sorted(state.rglob("*"))
    assert main(["list", "--state-dir", str(state)]) == 0
    assert capsys.readouterr().out == "No workflows found\n"


@pytest.mark.parametrize(
    "name",
    sorted(BAD_WORKFLOWS),
)
def test_a_bad_workflow_is_refused_naming_the_place_before_anything_runs(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, places = BAD_WORKFLOWS[name]
    file = tmp_path / f"{name}.yaml"
    file.write_text(source, encoding="utf-8")
    state = tmp_path / "state"
    code = main(["run", str(file), "-o", "json", "--state-dir", str(state)])
    out, err = capsys.readouterr()
    assert code != 0
    assert out == ""
    assert str(file) in err or file.name in err, err
    for place in places:
        assert place in err, err
    assert_nothing_ran(state, capsys)


def test_an_enum_violation_given_with_p_is_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    state = tmp_path / "state"
    file = "examples/workflows/parameters.yaml"
    enums = yaml.safe_load((REPO / file).read_text(encoding="utf-8"))["spec"]["arguments"]
    size = next(p for p in enums["parameters"] if p["name"] == "size")
    assert "huge" not in size["enum"]
    code = main(["run", file, "-p", "size=huge", "-o", "json", "--state-dir", str(state)])
    out, err = capsys.readouterr()
    assert code != 0
    assert out == ""
    assert "size" in err and "huge" in err, err
    assert "parameters.yaml: spec.arguments.parameters[1]" in err, err
    assert_nothing_ran(state, capsys)


# --- engine behaviours the examples do not reach ----------------------------------------------

FAIL_FAST_UNSET = """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: steps-failfast-
spec:
  entrypoint: main
  templates:
    - name: main
      parallelism: 1
      steps:
        - - name: item
            template: exit
            arguments: {parameters: [{name: code, value: "{{item}}"}]}
            withItems: ["1", "0", "0"]
    - name: exit
      inputs: {parameters: [{name: code}]}
      container: {image: "alpine:3.20", command: [sh, -c, "exit {{inputs.parameters.code}}"]}
"""


def test_a_steps_loop_without_fail_fast_runs_every_item_after_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "failfast.yaml"
    file.write_text(FAIL_FAST_UNSET, encoding="utf-8")
    run = run_workflow(capsys, monkeypatch, tmp_path / "state", file)
    summary = run.describe()
    assert run.status["phase"] == "Failed", summary
    phases = {
        i: (run.node(f"WF[0].item({i}:{code})") or {}).get("phase")
        for i, code in enumerate(["1", "0", "0"])
    }
    assert phases == {0: "Failed", 1: "Succeeded", 2: "Succeeded"}, summary
