"""DAG task dependencies: `dependencies` lists and `depends` expressions, and the graph checks.

`depends` is Argo's boolean language over task results: `A` alone means
`(A.Succeeded || A.Skipped || A.Daemoned)`; `A.Succeeded`, `.Failed`, `.Errored`, `.Skipped`,
`.Omitted`, `.Daemoned`, and for loop tasks `.AnySucceeded` / `.AllFailed`; combined with `&&`,
`||`, `!` and parentheses. A `dependencies` list is the `&&` of its bare names.

A pure module (no threads, no runtime): `argoexec lint` reads `depends` with the same tokens
(`depends_tokens`, `RESULTS`) and finds cycles with the same `find_cycle`, wording its own
messages.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from argoexec.controller.expr import ExpressionError, evaluate_when

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
_TOKEN = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_-]*)(?:\.([A-Za-z]+))?|(&&|\|\||!|\(|\))|(\s+)|(.)")


class DependsError(ValueError):
    pass


class DependsToken(NamedTuple):
    """One token of a `depends` expression: an operand (`task`, with its `.result` if any), an
    `operator` (`&&`, `||`, `!`, `(`, `)`), or an unexpected character (`junk`)."""

    position: int  # offset in the expression, from 0
    task: str = ""
    result: str | None = None
    operator: str = ""
    junk: str = ""


def depends_tokens(expression: str) -> Iterator[DependsToken]:
    """The tokens of ``expression`` in order, whitespace left out. Results are not checked
    against `RESULTS` and parentheses not matched: each caller words its own complaint."""
    for match in _TOKEN.finditer(expression):
        task, result, operator, space, junk = match.groups()
        if space is None:
            yield DependsToken(match.start(), task or "", result, operator or "", junk or "")


@functools.lru_cache(maxsize=4096)  # a DAG's expressions are read again on every pass
def _tokens(expression: str) -> tuple[tuple[str, str | None, str], ...]:
    """(task, property, operator) triples; one of task/operator is empty."""
    out: list[tuple[str, str | None, str]] = []
    for token in depends_tokens(expression):
        if token.junk:
            raise DependsError(f"depends {expression!r}: unexpected {token.junk!r}")
        if token.operator:
            out.append(("", None, token.operator))
            continue
        if token.result is not None and token.result not in RESULTS:
            raise DependsError(
                f"depends {expression!r}: unknown result {token.task}.{token.result} "
                f"(one of {', '.join(sorted(RESULTS))})"
            )
        out.append((token.task, token.result, ""))
    return tuple(out)


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
        return _truth(" ".join(parts))
    except ExpressionError as exc:
        raise DependsError(f"depends {source!r}: {exc}") from None


@functools.lru_cache(maxsize=4096)
def _truth(boolean: str) -> bool:
    """`true && (false || true)` evaluated (the same few on every pass)."""
    return evaluate_when(boolean)


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


def find_cycle(graph: Mapping[str, Iterable[str]]) -> list[str]:
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
