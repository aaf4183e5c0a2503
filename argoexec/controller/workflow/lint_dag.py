"""DAG checks for ``argoexec lint``: ``depends`` syntax and the dependencies a task names, in
lint's words. The tokens, the results and cycle detection are the engine's
(``argoexec.controller.engine.depends``)."""

from __future__ import annotations

from typing import Any

from argoexec.controller.engine.depends import RESULTS, depends_tokens
from argoexec.controller.workflow.problems import Problem, join


def depends_names(text: str) -> tuple[list[str], str]:
    """The task names a ``depends`` expression uses, and a syntax complaint (or ``""``)."""
    names: list[str] = []
    depth = 0
    for token in depends_tokens(text):
        if token.junk:
            return names, f"unexpected {token.junk!r} at column {token.position + 1}"
        if token.operator:
            depth += {"(": 1, ")": -1}.get(token.operator, 0)
            if depth < 0:
                return names, f"unbalanced `)` at column {token.position + 1}"
            continue
        if token.result is not None and token.result not in RESULTS:
            allowed = ", ".join(sorted(RESULTS))
            return names, f"unknown task result `.{token.result}` (one of {allowed})"
        names.append(token.task)
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
