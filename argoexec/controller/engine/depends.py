"""DAG task dependencies: `dependencies` lists and `depends` expressions.

`depends` is Argo's boolean language over task results: `A` alone means
`(A.Succeeded || A.Skipped || A.Daemoned)`; `A.Succeeded`, `.Failed`, `.Errored`, `.Skipped`,
`.Omitted`, `.Daemoned`, and for loop tasks `.AnySucceeded` / `.AllFailed`; combined with `&&`,
`||`, `!` and parentheses. A `dependencies` list is the `&&` of its bare names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from argoexec.controller.expr import ExpressionError, evaluate_when
from argoexec.controller.workflow.lint_dag import RESULTS, find_cycle

_TOKEN = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_-]*)(?:\.([A-Za-z]+))?|(&&|\|\||!|\(|\)|\s+)|(.)")


class DependsError(ValueError):
    pass


def _tokens(expression: str) -> list[tuple[str, str | None, str]]:
    """(task, property, operator) triples; one of task/operator is empty."""
    out: list[tuple[str, str | None, str]] = []
    for match in _TOKEN.finditer(expression):
        task, prop, operator, junk = match.groups()
        if junk is not None:
            raise DependsError(f"depends {expression!r}: unexpected {junk!r}")
        if operator is not None:
            if operator.strip():
                out.append(("", None, operator))
            continue
        if prop is not None and prop not in RESULTS:
            raise DependsError(
                f"depends {expression!r}: unknown result {task}.{prop} "
                f"(one of {', '.join(sorted(RESULTS))})"
            )
        out.append((task, prop, ""))
    return out


def expression_of(task: Mapping[str, Any]) -> str:
    if task.get("depends"):
        return str(task["depends"])
    return " && ".join(str(d) for d in task.get("dependencies") or [])


def dependencies_of(task: Mapping[str, Any]) -> list[str]:
    """The task names `task` waits for, in first-mention order."""
    names: list[str] = []
    for name, _, operator in _tokens(expression_of(task)):
        if not operator and name not in names:
            names.append(name)
    return names


def evaluate(task: Mapping[str, Any], result: Callable[[str, str | None], bool]) -> bool:
    """Evaluate the task's dependency expression; `result(name, property)` answers one term."""
    source = expression_of(task)
    if not source.strip():
        return True
    parts: list[str] = []
    for name, prop, operator in _tokens(source):
        parts.append(operator if operator else ("true" if result(name, prop) else "false"))
    try:
        return evaluate_when(" ".join(parts))
    except ExpressionError as exc:
        raise DependsError(f"depends {source!r}: {exc}") from None


def check_graph(tasks: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Each task's dependencies; raises DependsError for unknown tasks and cycles."""
    tasks = list(tasks)
    names = {str(t.get("name")) for t in tasks}
    graph: dict[str, list[str]] = {}
    for task in tasks:
        deps = dependencies_of(task)
        for dep in deps:
            if dep not in names:
                raise DependsError(f"task {task.get('name')!r} depends on unknown task {dep!r}")
        graph[str(task.get("name"))] = deps
    cycle = find_cycle(graph)
    if cycle:
        raise DependsError(f"the DAG has a dependency cycle: {' -> '.join(cycle)}")
    return graph
