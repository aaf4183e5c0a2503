"""Malformed documents: a corpus made from one valid Workflow by replacing each node of its tree,
in turn, with null, an empty mapping, an empty list, an empty string, 0, true, -1, a long string
and a string no name may hold. Whatever ``argoexec lint`` and ``argoexec run`` make of each, no
internal error reaches the user: lint exits 0 or 1 and names the file in every problem, and a
value of the wrong type is named by its place (a value of the right type may break what refers
to it instead: a renamed parameter is reported where it is used); run refuses exactly what lint
refuses (exit 2, the same problems, nothing run, no state written) and hands the rest to the
engine. The engine's own run is replaced here (it is tested elsewhere): this is about what
reaches it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.cli import main
from argoexec.controller.loop.runner import WorkflowRunner
from argoexec.controller.workflow.problems import join

BASE = yaml.safe_load(
    """\
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: corpus-
  labels: {team: data}
  annotations: {note: plain}
spec:
  entrypoint: main
  onExit: bye
  parallelism: 2
  activeDeadlineSeconds: 600
  arguments:
    parameters:
      - {name: greeting, value: hello}
  templates:
    - name: main
      parallelism: 1
      steps:
        - - name: hello
            template: say
            arguments:
              parameters: [{name: text, value: "{{workflow.parameters.greeting}}"}]
        - - name: loop
            template: say
            withItems: [a, b]
            when: "{{steps.hello.outputs.result}} != x"
            arguments:
              parameters: [{name: text, value: "{{item}}"}]
    - name: flow
      dag:
        tasks:
          - name: first
            template: say
            arguments: {parameters: [{name: text, value: one}]}
          - name: second
            depends: first
            template: say
            withSequence: {count: "2"}
            arguments:
              parameters: [{name: text, value: "{{tasks.first.outputs.result}}"}]
    - name: say
      inputs:
        parameters: [{name: text}]
      outputs:
        parameters: [{name: out, valueFrom: {path: /tmp/out}}]
      retryStrategy: {limit: 1}
      container:
        image: alpine:3.20
        command: [sh, -c]
        args: ["echo {{inputs.parameters.text}} | tee /tmp/out"]
    - name: bye
      script:
        image: alpine:3.20
        command: [sh]
        source: echo bye
"""
)
REPLACEMENTS: list[Any] = [None, {}, [], "", 0, True, -1, "x" * 300, "../../a b é"]
# Words of Python's own errors: none may reach a user.
INTERNAL = (
    "Traceback",
    "object has no attribute",
    "NoneType",
    "not subscriptable",
    "is not iterable",
    "unhashable",
    "argument of type",
    "unsupported operand",
    "object is not callable",
    "index out of range",
    "KeyError",
    "TypeError",
    "AttributeError",
    "ValueError",
    "RecursionError",
    "dictionary update sequence",
    "referenced before assignment",
)


def node_paths(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every node of the tree, the root first."""
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from node_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from node_paths(value, (*path, index))


def replaced(path: tuple[str | int, ...], value: Any) -> Any:
    if not path:
        return copy.deepcopy(value)
    document = copy.deepcopy(BASE)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = copy.deepcopy(value)
    return document


def yaml_path(path: tuple[str | int, ...]) -> str:
    text = ""
    for key in path:
        text = join(text, key)
    return text


def wrong_type(path: tuple[str | int, ...], value: Any) -> bool:
    """Whether ``value`` (not null) has another JSON type than what it replaces."""
    original: Any = BASE
    for key in path:
        original = original[key]
    kinds = (bool, int, str, dict, list)
    kind = next((k for k in kinds if isinstance(value, k)), None)
    return value is not None and not isinstance(original, kind or type(None))


def related(reported: str, mutated: str) -> bool:
    """Whether ``reported`` is the mutated place, one of its ancestors or inside it."""

    def within(inner: str, outer: str) -> bool:
        return inner == outer or not outer or inner.startswith((outer + ".", outer + "["))

    return within(reported, mutated) or within(mutated, reported)


@pytest.fixture
def engine_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`WorkflowRunner.run` replaced: what reaches the engine is recorded, nothing runs."""
    calls: list[str] = []

    def run(self: WorkflowRunner) -> dict[str, Any]:
        calls.append(self.name)
        return {**self.submitted, "status": {"phase": "Succeeded", "nodes": {}}}

    monkeypatch.setattr(WorkflowRunner, "run", run)
    return calls


PATHS = list(node_paths(BASE))


@pytest.mark.parametrize("path", PATHS, ids=[yaml_path(p) or "<document>" for p in PATHS])
def test_every_node_replaced_by_a_wrong_value_is_refused_or_run_never_an_internal_error(
    path: tuple[str | int, ...],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    engine_calls: list[str],
) -> None:
    failures: list[str] = []
    for number, value in enumerate(REPLACEMENTS):
        document = replaced(path, value)
        if document == BASE:
            continue
        file = tmp_path / f"case{number}.yaml"
        file.write_text("" if document is None else yaml.safe_dump(document, sort_keys=False))
        case = f"{yaml_path(path) or '<document>'} = {json.dumps(value)[:20]}"
        mutated = yaml_path(path) if wrong_type(path, value) else None
        failures += check_case(file, mutated, case, tmp_path / f"state{number}", capsys)
        failures += [] if len(engine_calls) <= 1 else [f"{case}: the engine ran twice"]
        engine_calls.clear()
    assert not failures, "\n".join(failures)


def shown(line: str, stderr: str) -> bool:
    """Whether ``line`` is on ``stderr``: as it is, or quoted in a log line's message."""
    return line in stderr or json.dumps(line)[1:-1] in stderr


def check_case(
    file: Path, mutated: str | None, case: str, state: Path, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    lint_code = main(["lint", str(file)])
    lint = capsys.readouterr()
    run_code = main(["run", str(file), "--no-sandbox", "-o", "json", "--state-dir", str(state)])
    run = capsys.readouterr()
    failures = []
    for name, text in (("lint", lint.out + lint.err), ("run", run.out + run.err)):
        leaked = [word for word in INTERNAL if word in text]
        if leaked:
            failures.append(f"{case}: {name} shows {leaked}:\n{text}")
    if lint_code not in (0, 1):
        failures.append(f"{case}: lint exited {lint_code}:\n{lint.out}{lint.err}")
    if lint_code == 1:
        lines = lint.out.splitlines()
        # A problem of the document as a whole (its kind, its type) is at "document N".
        paths = [line.split(": ")[1] if line.count(": ") >= 2 else "" for line in lines]
        paths = ["" if path.startswith("document ") else path for path in paths]
        if not all(line.startswith(f"{file}") for line in lines):
            failures.append(f"{case}: a problem does not name the file:\n{lint.out}")
        if mutated is not None and not any(related(p, mutated) for p in paths):
            failures.append(f"{case}: no problem names {mutated!r}:\n{lint.out}")
        if run_code != 2 or not all(shown(line, run.err) for line in lines):
            failures.append(f"{case}: lint refused, run exited {run_code}:\n{run.err}")
        if state.exists() and any(state.iterdir()):
            failures.append(f"{case}: a refused run left {sorted(state.iterdir())}")
    elif run_code not in (0, 2):
        failures.append(f"{case}: lint accepted, run exited {run_code}:\n{run.err}")
    return failures
