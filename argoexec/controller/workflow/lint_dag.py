"""DAG checks for ``argoexec lint``: ``depends`` syntax, unknown dependencies, cycles."""

from __future__ import annotations

import re
from typing import Any

from argoexec.controller.workflow.problems import Problem, join

# Argo's task results usable in `depends` (`task.Succeeded`); a bare name means
# "(Succeeded || Skipped || Daemoned)".
RESULTS = frozenset(
    {
        "Succeeded",
        "Failed",
        "Errored",
        "Skipped",
        "Omitted",
        "Daemoned",
        "AnySucceeded",
        "AllFailed",
    }
)
_OPERAND = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_-]*)(?:\.([A-Za-z]+))?")
_OPERATORS = re.compile(r"&&|\|\||!|\(|\)|\s+")


def depends_names(text: str) -> tuple[list[str], str]:
    """The task names a ``depends`` expression uses, and a syntax complaint (or ``""``)."""
    names: list[str] = []
    position, depth = 0, 0
    while position < len(text):
        operator = _OPERATORS.match(text, position)
        if operator:
            depth += {"(": 1, ")": -1}.get(operator.group(), 0)
            if depth < 0:
                return names, f"unbalanced `)` at column {position + 1}"
            position = operator.end()
            continue
        operand = _OPERAND.match(text, position)
        if operand is None:
            return names, f"unexpected {text[position]!r} at column {position + 1}"
        result = operand.group(2)
        if result is not None and result not in RESULTS:
            allowed = ", ".join(sorted(RESULTS))
            return names, f"unknown task result `.{result}` (one of {allowed})"
        names.append(operand.group(1))
        position = operand.end()
    return names, "unbalanced `(`" if depth else ""


def task_dependencies(task: dict[str, Any], path: str, problems: list[Problem]) -> list[str]:
    """The names ``task`` depends on, reporting a bad ``depends``/``dependencies`` field."""
    found: list[str] = []
    dependencies = task.get("dependencies")
    if isinstance(dependencies, list):
        found += [name for name in dependencies if isinstance(name, str)]
    depends = task.get("depends")
    if isinstance(depends, str) and depends.strip():
        names, complaint = depends_names(depends)
        if complaint:
            problems.append(
                Problem(join(path, "depends"), f"invalid depends {depends!r}: {complaint}")
            )
        found += names
    if dependencies and depends:
        problems.append(Problem(path, "use either `depends` or `dependencies`, not both"))
    return found


def find_cycle(graph: dict[str, list[str]]) -> list[str]:
    """One dependency cycle as ``[a, b, a]``, or ``[]``; ``graph`` maps a task to its
    dependencies (unknown names are ignored)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(name: str) -> list[str]:
        state[name] = 1
        stack.append(name)
        for dependency in graph.get(name, []):
            if dependency not in graph:
                continue
            if state.get(dependency) == 1:
                return [*stack[stack.index(dependency) :], dependency]
            if dependency not in state:
                cycle = visit(dependency)
                if cycle:
                    return cycle
        stack.pop()
        state[name] = 2
        return []

    for name in graph:
        if name not in state:
            cycle = visit(name)
            if cycle:
                return cycle
    return []
