"""A substitution or expression that fails while the run goes on makes its node an Error and the
run goes on by Argo's rules: it never ends the controller, kills a scheduling thread or leaves
a node unfinished. A corpus of bad values is tried in every place the engine substitutes or
evaluates something at run time (the documents bypass lint, which refuses some of them first).

Pods are `FakePods`: a place that fails must fail before a pod would run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.controller.fake_pods import FakePods, fake_runner
from tests.controller.test_engine_run import Run

DEEP = "(" * 3000 + "1" + ")" * 3000
# Each expression also goes in plain form into the fields that take an expression.
CORPUS = [
    "1 +",  # does not parse
    "nosuch.x",  # an unknown name
    "1 % 0",  # fails while evaluated
    "nil",  # no value
    DEEP,  # too deep for the parser and the evaluator
    "-" * 5000 + "1",  # as deep, another way
    "0..1000000000000000",  # more memory than there is
    "0..9223372036854775807",  # a range too long for the machine
    "jsonpath('{', '$')",  # a helper that fails
]
SUSPEND = {"suspend": {"duration": "0"}}
LEAF = {"name": "leaf", "inputs": {"parameters": [{"name": "m", "value": "x"}]}, **SUSPEND}
BYE = {"name": "bye", "inputs": {"parameters": [{"name": "m"}]}, **SUSPEND}
FINISHED = {"Succeeded", "Failed", "Error", "Skipped", "Omitted"}


def workflow(main: dict[str, Any], *more: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"entrypoint": "main", "templates": [{"name": "main", **main}, *more, LEAF], **spec}


def steps(**step: Any) -> dict[str, Any]:
    return {"steps": [[{"name": "a", "template": "leaf", **step}]]}


def dag(**task: Any) -> dict[str, Any]:
    tasks = [{"name": "a", "template": "leaf", **task}, {"name": "b", "template": "leaf"}]
    return {"dag": {"tasks": tasks}}


def own(**template: Any) -> dict[str, Any]:
    """Step `a` calls template `own`, made of `template`."""
    return {"name": "own", **template}


def args(value: str) -> dict[str, Any]:
    return {"parameters": [{"name": "m", "value": value}]}


# place -> (the workflow with the bad tag, or expression, `x` in it; the node that errors)
PLACES: dict[str, tuple[Any, str]] = {
    "step when": (lambda t, e: workflow(steps(when=t)), "wf[0].a"),
    "step withParam": (lambda t, e: workflow(steps(withParam=t)), "wf[0].a"),
    "step withItems": (lambda t, e: workflow(steps(withItems=[t])), "wf[0].a"),
    "step withSequence": (lambda t, e: workflow(steps(withSequence={"count": t})), "wf[0].a"),
    "step arguments": (lambda t, e: workflow(steps(arguments=args(t))), "wf[0].a"),
    "task when": (lambda t, e: workflow(dag(when=t)), "wf.a"),
    "task withParam": (lambda t, e: workflow(dag(withParam=t)), "wf.a"),
    "task arguments": (lambda t, e: workflow(dag(arguments=args(t))), "wf.a"),
    "input value": (
        lambda t, e: workflow(
            steps(template="own"),
            own(
                inputs={"parameters": [{"name": "m", "value": t}]},
                container={"image": "alpine", "command": ["echo", "{{inputs.parameters.m}}"]},
            ),
        ),
        "wf[0].a",
    ),
    "input valueFrom.expression": (
        lambda t, e: workflow(
            steps(template="own"),
            own(inputs={"parameters": [{"name": "m", "valueFrom": {"expression": e}}]}, **SUSPEND),
        ),
        "wf[0].a",
    ),
    "container args": (
        lambda t, e: workflow(
            steps(template="own"), own(container={"image": "a", "command": ["echo", t]})
        ),
        "wf[0].a",
    ),
    "timeout": (lambda t, e: workflow(steps(template="own"), own(timeout=t, **SUSPEND)), "wf[0].a"),
    "suspend duration": (
        lambda t, e: workflow(steps(template="own"), own(suspend={"duration": t})),
        "wf[0].a",
    ),
    "retryStrategy": (
        lambda t, e: workflow(
            steps(template="own"),
            own(retryStrategy={"limit": t, "backoff": {"factor": t}}, **SUSPEND),
        ),
        "wf[0].a",
    ),
    "retryStrategy.expression": (
        lambda t, e: workflow(
            steps(template="own"),
            own(retryStrategy={"limit": 2, "expression": e}, suspend={"duration": "bad"}),
        ),
        "wf[0].a",
    ),
    "artifact fromExpression": (
        lambda t, e: workflow(
            steps(template="own", arguments={"artifacts": [{"name": "x", "fromExpression": e}]}),
            own(inputs={"artifacts": [{"name": "x", "path": "/tmp/x"}]}, **SUSPEND),
        ),
        "wf[0].a",
    ),
    "artifact subPath": (
        lambda t, e: workflow(
            steps(
                template="own",
                arguments={"artifacts": [{"name": "x", "raw": {"data": "hi"}, "subPath": t}]},
            ),
            own(inputs={"artifacts": [{"name": "x", "path": "/tmp/x"}]}, **SUSPEND),
        ),
        "wf[0].a",
    ),
    "steps output parameter": (
        lambda t, e: workflow(
            {**steps(), "outputs": {"parameters": [{"name": "o", "valueFrom": {"parameter": t}}]}}
        ),
        "wf",
    ),
    "steps output expression": (
        lambda t, e: workflow(
            {**steps(), "outputs": {"parameters": [{"name": "o", "valueFrom": {"expression": e}}]}}
        ),
        "wf",
    ),
    "steps output value": (
        lambda t, e: workflow({**steps(), "outputs": {"parameters": [{"name": "o", "value": t}]}}),
        "wf",
    ),
    "steps output artifact": (
        lambda t, e: workflow(
            {**steps(), "outputs": {"artifacts": [{"name": "o", "fromExpression": e}]}}
        ),
        "wf",
    ),
    "dag output parameter": (
        lambda t, e: workflow(
            {**dag(), "outputs": {"parameters": [{"name": "o", "valueFrom": {"parameter": t}}]}}
        ),
        "wf",
    ),
    "workflow exit handler arguments": (
        lambda t, e: workflow(
            steps(), BYE, hooks={"exit": {"template": "bye", "arguments": args(t)}}
        ),
        "wf.onExit",
    ),
    "workflow onExit with the workflow's arguments": (
        lambda t, e: workflow(
            steps(), BYE, onExit="bye", arguments={"parameters": [{"name": "m", "value": t}]}
        ),
        "wf.onExit",
    ),
    "task exit handler arguments": (
        lambda t, e: workflow(dag(hooks={"exit": {"template": "bye", "arguments": args(t)}}), BYE),
        "wf.a.onExit",
    ),
    "step exit handler arguments": (
        lambda t, e: workflow(
            steps(hooks={"exit": {"template": "bye", "arguments": args(t)}}), BYE
        ),
        "wf[0].a.onExit",
    ),
}


def cases() -> Iterator[Any]:
    for place, (make, node) in PLACES.items():
        yield pytest.param(make, node, id=place)


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Exceptions that ended a thread of the run (each would print a traceback)."""
    seen: list[str] = []
    monkeypatch.setattr(
        threading, "excepthook", lambda a: seen.append(f"{a.exc_type.__name__}: {a.exc_value}")
    )
    return seen


@pytest.mark.parametrize(("make", "node_name"), list(cases()))
def test_a_bad_expression_makes_its_node_an_error_and_the_run_goes_on(
    make: Any, node_name: str, thread_errors: list[str]
) -> None:
    for expression in CORPUS:
        pods = FakePods()
        run = Run(fake_runner(make("{{=" + expression + "}}", expression), pods).run())

        node = run.node(node_name)
        assert node["phase"] == "Error", f"{expression[:30]!r}\n{run.explain()}"
        message = str(node["message"])
        assert expression[:20] in message, f"{expression[:30]!r}: {message[:300]}"
        assert "Traceback" not in message and "internal error" not in message
        assert run.phase in ("Failed", "Error"), run.explain()
        unfinished = [n["name"] for n in run.nodes.values() if n["phase"] not in FINISHED]
        assert not unfinished, run.explain()
        assert pods.started == []
    assert thread_errors == []


def test_an_unknown_variable_in_a_place_is_an_error_too(thread_errors: list[str]) -> None:
    make, node_name = PLACES["step arguments"]
    run = Run(fake_runner(make("{{nosuch}}", "nosuch"), FakePods()).run())

    assert run.node(node_name)["phase"] == "Error"
    assert "nosuch is not defined" in run.node(node_name)["message"]
    assert thread_errors == []


def test_a_bad_metric_expression_is_left_out_and_the_node_succeeds(
    thread_errors: list[str],
) -> None:
    metric = {"name": "m", "help": "h", "gauge": {"value": "{{=" + DEEP + "}}"}}
    spec = workflow(steps(template="own"), own(metrics={"prometheus": [metric]}, **SUSPEND))
    run = Run(fake_runner(spec, FakePods()).run())

    assert run.phase == "Succeeded", run.explain()
    conditions = [c for c in run.status.get("conditions") or [] if c["type"] != "Completed"]
    assert [c["type"] for c in conditions] == ["MetricsError"]
    assert "nested too deeply" in conditions[0]["message"]
    assert thread_errors == []


@pytest.mark.parametrize("limit", ["1e999", "nan"])
def test_a_retry_limit_that_is_no_number_of_retries_is_an_error(
    limit: str, thread_errors: list[str]
) -> None:
    spec = workflow(steps(template="own"), own(retryStrategy={"limit": limit}, **SUSPEND))
    run = Run(fake_runner(spec, FakePods()).run())

    node = run.node("wf[0].a")
    assert (node["phase"], node["message"]) == (
        "Error",
        f"retryStrategy: limit '{limit}' is not a number of retries",
    )
    assert thread_errors == []


def test_a_backoff_beyond_any_clock_is_capped_not_a_crash(thread_errors: list[str]) -> None:
    backoff = {"duration": "1", "factor": "1e308", "cap": "0.01"}
    retry = {"limit": 3, "retryPolicy": "Always", "backoff": backoff}
    container = {"image": "alpine", "command": ["false"]}
    spec = workflow(steps(template="own"), own(retryStrategy=retry, container=container))
    run = Run(fake_runner(spec, FakePods(exit_code=1)).run())

    node = run.node("wf[0].a")
    assert (node["phase"], node["message"]) == ("Failed", "No more retries left"), run.explain()
    assert len(run.children("wf[0].a")) == 4
    assert thread_errors == []
