"""Runs are bounded and stoppable: the cap on a node's children (loop items, retry attempts),
stop requests during a loop's expansion, the cap on pods running at once (with the workflow's
and templates' `parallelism`), the cap on a node's output parameters, aborting (a second
interrupt) and the guard that turns an engine bug into a node error.

Pods here are `FakePods` (no processes): what is tested is the scheduling around them; but for
the cap `wait` itself applies to output parameters, on a real pod.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller.engine import LoopError, expand_sequence, expand_step
from argoexec.controller.engine.loops import LoopStoppedError
from argoexec.controller.engine.scope import Scope
from argoexec.controller.loop.runner import ABORT_MESSAGE, STOP_MESSAGE
from argoexec.controller.reconcile import walk as execute_module
from argoexec.controller.reconcile.context import CHILDREN_PER_PASS
from argoexec.controller.runtime.results import LocalResults, ResultError
from tests.controller.fake_pods import FakePods, fake_runner
from tests.controller.test_engine_run import Run, run_workflow
from tests.servers.procs import wait_until

POD = {"name": "pod", "container": {"image": "alpine", "command": ["true"]}}
ITEM_POD = {
    "name": "item",
    "inputs": {"parameters": [{"name": "i"}]},
    "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.i}}"]},
}
LOOP_ARGS = {"parameters": [{"name": "i", "value": "{{item}}"}]}
FINISHED = {"Succeeded", "Failed", "Error", "Skipped", "Omitted"}


def loop_spec(**loop: Any) -> dict[str, Any]:
    step = {"name": "loop", "template": "item", "arguments": LOOP_ARGS, **loop}
    return {"entrypoint": "main", "templates": [{"name": "main", "steps": [[step]]}, ITEM_POD]}


def assert_all_finished(run: Run) -> None:
    unfinished = [n["name"] for n in run.nodes.values() if n["phase"] not in FINISHED]
    assert not unfinished, run.explain()
    assert all(n.get("finishedAt") for n in run.nodes.values()), run.explain()


# --- the children of one node ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("loop", "kind", "count"),
    [
        ({"withSequence": {"count": str(10**12)}}, "withSequence", 10**12),
        ({"withSequence": {"start": "5", "end": "-5"}}, "withSequence", 11),
        ({"withItems": list(range(11))}, "withItems", 11),
        ({"withParam": json.dumps(list(range(11)))}, "withParam", 11),
    ],
)
def test_a_loop_over_the_children_cap_is_a_node_error_naming_the_loop_and_its_count(
    loop: dict[str, Any], kind: str, count: int
) -> None:
    pods = FakePods()
    run = Run(fake_runner(loop_spec(**loop), pods, max_children=10).run())

    node = run.node("wf[0].loop")
    assert node["phase"] == "Error", run.explain()
    assert node["message"] == (
        f"template 'main': steps[0][0] (loop).{kind}: {kind} expands to {count} items, more "
        "than the 10 children a node may have (raise it with --max-children or "
        "ARGOEXEC_MAX_CHILDREN; 0 = no cap)"
    )
    assert run.phase == "Failed"
    assert pods.started == []
    assert_all_finished(run)


def test_a_loop_at_the_cap_runs_and_zero_means_no_cap() -> None:
    at_cap = Run(fake_runner(loop_spec(withItems=[1, 2, 3]), FakePods(), max_children=3).run())
    no_cap = Run(fake_runner(loop_spec(withItems=[1, 2, 3]), FakePods(), max_children=0).run())

    assert at_cap.phase == "Succeeded", at_cap.explain()
    assert no_cap.phase == "Succeeded", no_cap.explain()
    assert len(at_cap.pods()) == len(no_cap.pods()) == 3


def test_a_huge_sequence_is_refused_before_its_numbers_exist() -> None:
    with pytest.raises(LoopError, match=f"withSequence expands to {10**18} items"):
        expand_sequence({"count": str(10**18)}, max_items=10000)
    with pytest.raises(LoopError, match="expands to 10001 items"):
        expand_sequence({"start": "-5000", "end": "5000"}, max_items=10000)
    assert len(expand_sequence({"start": "-4999", "end": "5000"}, max_items=10000)) == 10000


def test_the_expansion_asks_whether_to_stop_before_each_item() -> None:
    asked: list[int] = []

    def stopping() -> str | None:
        asked.append(1)
        return "Stopped with strategy 'Stop'" if len(asked) > 5 else None

    step = {"name": "s", "template": "t", "withSequence": {"count": str(10**9)}}
    with pytest.raises(LoopStoppedError, match="Stopped with strategy 'Stop'"):
        expand_step(step, Scope(), location="here", stopping=stopping)
    assert len(asked) == 6


def test_a_stop_request_ends_a_long_loop_expansion() -> None:
    pods = FakePods()
    spec = loop_spec(withParam=json.dumps([f"item-{i}" for i in range(200_000)]))
    runner: Any = None

    def stop_once_running(workflow: dict[str, Any]) -> None:
        if workflow["status"]["nodes"] and runner is not None:
            runner.interrupt()  # as the first Ctrl-C does

    runner = fake_runner(spec, pods, max_children=0)
    runner.on_change = stop_once_running
    run = Run(runner.run())

    assert run.phase == "Failed", run.explain()
    assert run.message == STOP_MESSAGE
    group = run.node("wf[0]")
    assert (group["phase"], group["message"]) == ("Failed", STOP_MESSAGE), run.explain()
    # A pass starts a bounded batch of children, so the stop is seen long before the end.
    assert 0 < len(pods.started) <= CHILDREN_PER_PASS
    assert_all_finished(run)


def test_retries_stop_at_the_children_cap() -> None:
    spec = {
        "entrypoint": "main",
        "templates": [{**POD, "name": "main", "retryStrategy": {"retryPolicy": "Always"}}],
    }
    pods = FakePods(exit_code=1)
    run = Run(fake_runner(spec, pods, max_children=4).run())

    assert run.phase == "Failed", run.explain()
    assert run.children("wf") == ["wf(0)", "wf(1)", "wf(2)", "wf(3)"]
    assert run.node("wf")["message"] == (
        "No more retries left: 4 attempts, the most children a node may have (raise it with "
        "--max-children or ARGOEXEC_MAX_CHILDREN; 0 = no cap)"
    )


# --- pods running at once ----------------------------------------------------------------------


def test_pods_beyond_the_cap_wait_pending_with_a_message() -> None:
    pods = FakePods(hold=True)
    snapshots: list[dict[str, Any]] = []
    runner = fake_runner(loop_spec(withItems=[1, 2, 3, 4, 5]), pods, max_pods=2)
    runner.on_change = snapshots.append
    thread = threading.Thread(target=lambda: snapshots.append(runner.run()), daemon=True)
    thread.start()
    try:
        pods.wait_running(2)
        wait_until(lambda: len(_pending_messages(runner.workflow())) == 3, 30, "3 pending pods")
        waiting = _pending_messages(runner.workflow())
    finally:
        pods.release()  # a failure above must not leave the run waiting for ever
    thread.join(timeout=60)

    run = Run(snapshots[-1])
    assert run.phase == "Succeeded", run.explain()
    assert pods.most_running == 2
    assert len(pods.started) == 5
    assert (
        waiting
        == [
            "Waiting for a pod slot: 2 pods already run, the most this run starts at once "
            "(--max-pods or ARGOEXEC_MAX_PODS; 0 = no cap)"
        ]
        * 3
    )
    assert all(not n.get("message") for n in run.nodes.values())


def _pending_messages(workflow: dict[str, Any]) -> list[str]:
    return [
        str(n.get("message"))
        for n in (workflow["status"].get("nodes") or {}).values()
        if n["type"] == "Pod" and n["phase"] == "Pending"
    ]


@pytest.mark.parametrize(
    ("where", "expected"),
    [("workflow", 1), ("template", 2)],
)
def test_the_workflow_and_template_parallelism_still_hold_under_the_cap(
    where: str, expected: int
) -> None:
    spec = loop_spec(withItems=[1, 2, 3, 4, 5])
    if where == "workflow":
        spec["parallelism"] = 1
    else:
        spec["templates"][0]["parallelism"] = 2
    pods = FakePods(hold=True)
    runner = fake_runner(spec, pods, max_pods=3)
    done: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: done.append(runner.run()), daemon=True)
    thread.start()
    try:
        pods.wait_running(expected)
    finally:
        pods.release()  # a failure above must not leave the run waiting for ever
    thread.join(timeout=60)

    assert Run(done[0]).phase == "Succeeded"
    assert pods.most_running == expected
    assert len(pods.started) == 5


def test_a_loop_starts_a_window_of_children_not_all_of_them() -> None:
    pods = FakePods(hold=True)
    runner = fake_runner(loop_spec(withSequence={"count": "300"}), pods, max_pods=2)
    done: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: done.append(runner.run()), daemon=True)
    thread.start()
    try:
        pods.wait_running(2)
        # The pass that started them may not be stored yet (writes are batched).
        wait_until(lambda: runner.workflow()["status"].get("nodes"), 30, "a stored status")
        created = len(runner.workflow()["status"]["nodes"])
    finally:
        pods.release()  # a failure above must not leave the run waiting for ever
    thread.join(timeout=60)

    # the Steps and StepGroup nodes, and at most a window (64) of the 300 children
    assert created <= 2 + 64
    run = Run(done[0])
    assert run.phase == "Succeeded", run.explain()
    assert len(run.pods()) == 300


# --- output parameters ---------------------------------------------------------------------------


def _parameter_spec(*names: str) -> dict[str, Any]:
    outputs = {"parameters": [{"name": n, "valueFrom": {"path": f"/{n}"}} for n in names]}
    return {"entrypoint": "main", "templates": [{**POD, "name": "main", "outputs": outputs}]}


def test_wait_refuses_output_parameters_over_the_cap_so_they_never_reach_the_controller(
    tmp_path: Path,
) -> None:
    script = "head -c 2000000 /dev/zero | tr '\\\\0' x > /tmp/big; echo small > /tmp/small"
    run = run_workflow(
        tmp_path,
        f"""
entrypoint: main
templates:
- name: main
  container: {{image: alpine, command: [sh, -c, "{script}"]}}
  outputs:
    parameters:
    - {{name: small, valueFrom: {{path: /tmp/small}}}}
    - {{name: big, valueFrom: {{path: /tmp/big}}}}
""",
    )

    node = run.node("wf")
    assert node["phase"] == "Error", run.explain()
    assert (
        "output parameter 'big': /tmp/big: the node's output parameters would hold more than "
        "1572864 bytes" in node["message"]
    )
    assert len(json.dumps(run.workflow)) < 100_000


def test_output_parameters_over_the_cap_make_the_node_an_error_in_the_controller_too() -> None:
    pods = FakePods()
    pods.outputs["wf"] = {
        "parameters": [{"name": "a", "value": "x" * 60}, {"name": "b", "value": "y" * 60}]
    }
    run = Run(fake_runner(_parameter_spec("a", "b"), pods, max_output_parameters_bytes=100).run())

    node = run.node("wf")
    assert node["phase"] == "Error"
    assert node["message"] == (
        "output parameter 'b': the node's output parameters hold more than 100 bytes (pass "
        "large values as artifacts, or raise the cap with ARGOEXEC_MAX_OUTPUT_PARAMETERS_BYTES;"
        " 0 = no cap)"
    )
    assert "outputs" not in node
    assert len(json.dumps(run.workflow)) < 10_000


def test_a_result_file_larger_than_the_cap_allows_is_refused_unread(tmp_path: Path) -> None:
    volume = tmp_path / "argoexec-result"
    volume.mkdir()
    with (volume / "result.json").open("wb") as file:
        file.truncate(64 * 1024 * 1024)  # sparse: reading it whole would cost 64 MiB
    results = LocalResults(lambda _pod, name: tmp_path / name, max_parameters_bytes=1000)

    with pytest.raises(ResultError, match="the executor's result is larger than 1311720 bytes"):
        results.read("pod")


def test_the_local_results_tell_wait_the_cap() -> None:
    pod = {"spec": {"containers": [{"name": "wait"}, {"name": "main"}]}}
    LocalResults(lambda _pod, name: Path(name), max_parameters_bytes=123).prepare(pod)

    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["ARGOEXEC_MAX_OUTPUT_PARAMETERS_BYTES"] == "123"


# --- stopping and aborting -----------------------------------------------------------------------


EXIT_STEPS = {
    "name": "bye",
    "steps": [[{"name": "one", "template": "pod"}, {"name": "two", "template": "pod"}]],
}


def test_a_stopped_workflow_runs_every_step_of_its_exit_handler() -> None:
    spec = {"entrypoint": "main", "onExit": "bye", "templates": [{**POD, "name": "main"}]}
    spec["templates"] += [EXIT_STEPS, POD]
    pods = FakePods(hold=True)
    runner = fake_runner(spec, pods)
    interrupter = threading.Thread(target=lambda: (pods.wait_running(1), runner.interrupt()))
    interrupter.start()
    releaser = threading.Thread(target=lambda: (pods.wait_running(2), pods.release()))
    releaser.start()
    run = Run(runner.run())

    assert run.phase == "Failed" and run.message == STOP_MESSAGE, run.explain()
    assert run.node("wf.onExit")["phase"] == "Succeeded", run.explain()
    assert sorted(run.children("wf.onExit[0]")) == ["wf.onExit[0].one", "wf.onExit[0].two"]
    assert_all_finished(run)


def test_a_second_interrupt_kills_the_exit_handlers_pods_and_leaves_every_node_finished() -> None:
    spec = {"entrypoint": "main", "onExit": "bye", "templates": [{**POD, "name": "main"}]}
    spec["templates"] += [EXIT_STEPS, POD]
    pods = FakePods(hold=True)
    runner = fake_runner(spec, pods)

    def interrupt_twice() -> None:
        pods.wait_running(1)
        runner.interrupt()  # stops main; the exit handler starts its two pods
        with pods.lock:
            pods.lock.wait_for(lambda: len(_exit_pods(pods.running)) == 2, timeout=30)
        runner.interrupt()

    threading.Thread(target=interrupt_twice, daemon=True).start()
    run = Run(runner.run())

    assert (run.phase, run.message) == ("Failed", ABORT_MESSAGE), run.explain()
    for name in ("wf.onExit[0].one", "wf.onExit[0].two"):
        assert (run.node(name)["phase"], run.node(name)["message"]) == ("Failed", ABORT_MESSAGE)
    assert run.node("wf.onExit")["phase"] == "Failed"
    assert_all_finished(run)
    assert len(_exit_pods(pods.started)) == 2
    assert sorted(pods.cleaned) == sorted(pods.started)  # every pod was cleaned up


def _exit_pods(names: Any) -> list[str]:
    return [name for name in names if "-pod-" in name]  # the pods of template `pod`


def test_an_interrupt_at_once_still_leaves_every_node_finished_and_every_pod_cleaned() -> None:
    pods = FakePods(hold=True)
    runner = fake_runner(loop_spec(withItems=[1, 2, 3]), pods, max_pods=1)

    def interrupt_main() -> None:
        pods.wait_running(1)
        # A real SIGINT, as a third Ctrl-C: KeyboardInterrupt in the main thread wherever it is,
        # even blocked in a join (a simulated one would wait for the join to end).
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_main, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    run = Run(runner.workflow())

    assert (run.phase, run.message) == ("Failed", ABORT_MESSAGE), run.explain()
    assert_all_finished(run)
    assert pods.started and sorted(pods.cleaned) == sorted(pods.started)


# --- the guard -------------------------------------------------------------------------------


def test_an_engine_bug_in_one_step_makes_it_an_error_and_the_run_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = execute_module.resolve_input_artifacts

    def buggy(template: dict[str, Any], args: Any) -> Any:
        if template.get("name") == "bad":
            raise AttributeError("'NoneType' object has no attribute 'get'")
        return real(template, args)

    monkeypatch.setattr(execute_module, "resolve_input_artifacts", buggy)
    tasks = [
        {"name": "a", "template": "bad"},
        {"name": "b", "template": "pod"},
        {"name": "c", "template": "pod", "depends": "b"},
    ]
    spec = {
        "entrypoint": "main",
        "templates": [{"name": "main", "dag": {"tasks": tasks}}, {**POD, "name": "bad"}, POD],
    }
    run = Run(fake_runner(spec, FakePods()).run())

    assert (run.phase, run.message) == ("Error", f"child '{run.node('wf.a')['id']}' failed")
    bad = run.node("wf.a")
    assert bad["phase"] == "Error"
    assert bad["message"] == (
        "the controller failed on this node: internal error (AttributeError), a bug of "
        "argoexec (--loglevel debug shows where)"
    )
    assert "NoneType" not in json.dumps(run.workflow)
    assert run.node("wf.b")["phase"] == run.node("wf.c")["phase"] == "Succeeded"
    assert not [r for r in caplog.records if r.exc_info and r.levelname != "DEBUG"]
