"""DAG dependency expressions (`depends`, `dependencies`) and cycle detection."""

from __future__ import annotations

import pytest

from argoexec.controller.engine.depends import (
    DependsError,
    check_graph,
    dependencies_of,
    evaluate,
)

PHASES = {
    "A": "Succeeded",
    "B": "Failed",
    "C": "Skipped",
    "D": "Error",
    "E": "Omitted",
    "task-with-dash": "Failed",
}


def result(name: str, prop: str | None) -> bool:
    phase = PHASES[name]
    if prop is None:
        return phase in ("Succeeded", "Skipped")
    return {"Errored": "Error"}.get(prop, prop) == phase


@pytest.mark.parametrize(
    ("depends", "expected"),
    [
        ("A", True),
        ("A && C", True),
        ("A && B", False),
        ("B.Failed", True),
        ("B.Succeeded || B.Skipped", False),
        ("D.Errored && E.Omitted", True),
        ("!(B.Failed) || A.Succeeded", True),
        ("(A.Succeeded || B.Succeeded) && !C.Succeeded", True),
        ("task-with-dash.Succeeded", False),
    ],
)
def test_depends_expressions_follow_argo_semantics(depends: str, expected: bool) -> None:
    assert evaluate({"name": "x", "depends": depends}, result) is expected


def test_a_dependencies_list_is_the_and_of_its_names() -> None:
    task = {"name": "x", "dependencies": ["A", "B"]}
    assert dependencies_of(task) == ["A", "B"]
    assert evaluate(task, result) is False
    assert evaluate({"name": "x", "dependencies": ["A", "C"]}, result) is True


def test_unknown_results_and_junk_are_errors_naming_the_expression() -> None:
    with pytest.raises(DependsError, match=r"unknown result A\.Finished"):
        dependencies_of({"name": "x", "depends": "A.Finished"})
    with pytest.raises(DependsError, match=r"unexpected '\$'"):
        dependencies_of({"name": "x", "depends": "A && $B"})


def test_graph_checks_name_unknown_tasks_and_cycles() -> None:
    tasks = [
        {"name": "a", "depends": "c"},
        {"name": "b", "dependencies": ["a"]},
        {"name": "c", "depends": "b.Succeeded"},
    ]
    with pytest.raises(DependsError, match=r"cycle: a -> c -> b -> a"):
        check_graph(tasks)
    with pytest.raises(DependsError, match=r"'b' depends on unknown task 'zz'"):
        check_graph([{"name": "b", "depends": "zz"}])
    graph = check_graph([{"name": "a"}, {"name": "b", "depends": "a.Failed"}])
    assert graph == {"a": [], "b": ["a"]}
