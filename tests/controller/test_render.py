"""``argo get``'s report and tree, ``argo list``'s rows, and the live progress of a run.

The Workflow objects are written by hand the way Argo's controller shapes them: pods of a step
sit under its StepGroup, every node of a template carries that template's node as
``boundaryID``, and ``children`` of a step point at the next step group.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from argoexec.controller.pod.naming import node_id
from argoexec.controller.progress import Progress
from argoexec.controller.render import (
    age,
    find_nodes,
    list_row,
    long_duration,
    one_unit,
    pod_name_of,
    pod_nodes,
    render_tree,
    render_workflow,
    short_duration,
)

NOW = datetime(2026, 12, 4, 1, 10, 0, tzinfo=UTC)
T0 = "2026-12-04T01:00:00Z"


def at(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"2026-12-04T01:{minutes:02d}:{secs:02d}Z"


class Builder:
    """Nodes keyed by Argo's node ids, named as Argo names them."""

    def __init__(self, workflow: str) -> None:
        self.workflow = workflow
        self.nodes: dict[str, dict[str, Any]] = {}

    def id(self, name: str) -> str:
        return node_id(self.workflow, name)

    def add(
        self,
        name: str,
        kind: str,
        *,
        display: str | None = None,
        template: str | None = None,
        boundary: str | None = None,
        children: tuple[str, ...] = (),
        phase: str = "Succeeded",
        start: int | None = 0,
        end: int | None = 3,
        message: str = "",
        **extra: Any,
    ) -> dict[str, Any]:
        node: dict[str, Any] = {
            "id": self.id(name),
            "name": name,
            "displayName": display if display is not None else name.rsplit(".", 1)[-1],
            "type": kind,
            "phase": phase,
        }
        if template:
            node["templateName"] = template
        if boundary:
            node["boundaryID"] = self.id(boundary)
        if children:
            node["children"] = [self.id(c) for c in children]
        if start is not None:
            node["startedAt"] = at(start)
        if end is not None:
            node["finishedAt"] = at(end)
        if message:
            node["message"] = message
        node.update(extra)
        self.nodes[node["id"]] = node
        return node

    def workflow_object(self, phase: str, **status: Any) -> dict[str, Any]:
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"name": self.workflow, "namespace": "argo", "creationTimestamp": T0},
            "spec": {"entrypoint": "main"},
            "status": {"phase": phase, "startedAt": T0, "nodes": self.nodes, **status},
        }


def steps_workflow(name: str = "steps-abc") -> dict[str, Any]:
    """hello1; then hello2a ∥ hello2b (failed); then a loop over three items, one running."""
    b = Builder(name)
    b.add(name, "Steps", template="main", children=(f"{name}[0]",), end=None, phase="Running")
    b.add(f"{name}[0]", "StepGroup", display="[0]", template="main", boundary=name,
          children=(f"{name}[0].hello1",))  # fmt: skip
    b.add(f"{name}[0].hello1", "Pod", template="whalesay", boundary=name,
          children=(f"{name}[1]",))  # fmt: skip
    b.add(f"{name}[1]", "StepGroup", display="[1]", template="main", boundary=name, start=4,
          end=70, children=(f"{name}[1].hello2a", f"{name}[1].hello2b"))  # fmt: skip
    b.add(f"{name}[1].hello2b", "Pod", template="whalesay", boundary=name, start=4, end=9,
          phase="Failed", message="Error (exit code 1)")  # fmt: skip
    b.add(f"{name}[1].hello2a", "Pod", template="whalesay", boundary=name, start=4, end=70)
    loop = [f"{name}[2].loop({i}:{item})" for i, item in ((0, "a"), (1, "b"), (10, "k"))]
    b.add(f"{name}[2]", "StepGroup", display="[2]", template="main", boundary=name, start=71,
          end=None, phase="Running", children=tuple(reversed(loop)))  # fmt: skip
    for item in loop:
        b.add(item, "Pod", template="loop", boundary=name, start=71, end=72)
    b.nodes[b.id(loop[2])].update(phase="Running")
    del b.nodes[b.id(loop[2])]["finishedAt"]
    return b.workflow_object("Running")


STEPS_TREE = """\
STEP               TEMPLATE  PODNAME                        DURATION  MESSAGE
 ● steps-abc       main
 ├───✔ hello1      whalesay  steps-abc-whalesay-3488355582  3s
 ├─┬─✔ hello2a     whalesay  steps-abc-whalesay-1322215231  1m6s
 │ └─✖ hello2b     whalesay  steps-abc-whalesay-1338992850  5s        Error (exit code 1)
 └─┬─✔ loop(0:a)   loop      steps-abc-loop-1069974875      1s
   ├─✔ loop(1:b)   loop      steps-abc-loop-781017593       1s
   └─● loop(10:k)  loop      steps-abc-loop-2902260248      8m49s
"""


def dag_workflow(name: str = "dag-xyz") -> dict[str, Any]:
    """a; b (fails) after a; c after b (omitted); d skipped by its `when`; then an exit handler."""
    b = Builder(name)
    b.add(name, "DAG", template="main", phase="Failed", end=20, message="child failed",
          children=(f"{name}.a",))  # fmt: skip
    b.add(f"{name}.a", "Pod", template="echo", boundary=name, children=(f"{name}.b",))
    b.add(f"{name}.b", "Pod", template="fail", boundary=name, start=5, end=8, phase="Failed",
          message="Error (exit code 2)", children=(f"{name}.c",))  # fmt: skip
    b.add(f"{name}.c", "Skipped", template="echo", boundary=name, start=9, end=9,
          phase="Omitted", message="omitted: depends condition not met")  # fmt: skip
    b.add(f"{name}.d", "Skipped", template="echo", boundary=name, start=1, end=1,
          phase="Skipped", message="when 'false' evaluated false")  # fmt: skip
    b.add(f"{name}.onExit", "Pod", display=f"{name}.onExit", template="cleanup", start=21, end=23)
    wf = b.workflow_object("Failed", finishedAt=at(23), message="child failed")
    return wf


def retry_workflow(name: str = "retry-q") -> dict[str, Any]:
    """A step retried once (two attempts under a Retry node) and one that passed first time."""
    b = Builder(name)
    b.add(name, "Steps", template="main", children=(f"{name}[0]",), end=30)
    b.add(f"{name}[0]", "StepGroup", display="[0]", template="main", boundary=name,
          children=(f"{name}[0].flaky", f"{name}[0].steady"), end=30)  # fmt: skip
    b.add(f"{name}[0].flaky", "Retry", template="flaky", boundary=name, end=30,
          children=(f"{name}[0].flaky(0)", f"{name}[0].flaky(1)"))  # fmt: skip
    b.add(f"{name}[0].flaky(0)", "Pod", template="flaky", boundary=name, end=10,
          phase="Failed", message="Error (exit code 1)")  # fmt: skip
    b.add(f"{name}[0].flaky(1)", "Pod", template="flaky", boundary=name, start=12, end=30)
    b.add(f"{name}[0].steady", "Retry", template="steady", boundary=name, start=1, end=4,
          children=(f"{name}[0].steady(0)",))  # fmt: skip
    b.add(f"{name}[0].steady(0)", "Pod", template="steady", boundary=name, start=1, end=4)
    return b.workflow_object("Succeeded", finishedAt=at(30))


def suspended_workflow(name: str = "approval-k") -> dict[str, Any]:
    b = Builder(name)
    b.add(name, "Steps", template="main", phase="Running", end=None,
          children=(f"{name}[0]",))  # fmt: skip
    b.add(f"{name}[0]", "StepGroup", display="[0]", template="main", boundary=name,
          phase="Running", end=None, children=(f"{name}[0].approve",))  # fmt: skip
    b.add(f"{name}[0].approve", "Suspend", template="approve", boundary=name, phase="Running",
          end=None)  # fmt: skip
    return b.workflow_object("Running")


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


# --- Durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.9, "0s"), (59, "59s"), (120, "2m"), (123, "2m3s"), (3600, "1h"),
     (3660, "1h1m"), (3723, "1h2m3s"), (-5, "0s")],
)  # fmt: skip
def test_short_durations_read_like_argo_get(seconds: float, text: str) -> None:
    assert short_duration(seconds) == text


def test_the_header_duration_has_two_units_as_in_argo_get() -> None:
    assert long_duration(0) == "0 seconds"
    assert long_duration(1) == "1 second"
    assert long_duration(60) == "1 minute 0 seconds"
    assert long_duration(65) == "1 minute 5 seconds"
    assert long_duration(3 * 3600 + 61) == "3 hours 1 minute"
    assert long_duration(2 * 86400 + 7200 + 59) == "2 days 2 hours"


def test_ages_and_relative_times_keep_only_the_largest_unit() -> None:
    assert [age(s) for s in (0, 59, 60, 3599, 3600, 3 * 86400 + 5)] == [
        "0s", "59s", "1m", "59m", "1h", "3d",
    ]  # fmt: skip
    assert [one_unit(s) for s in (1, 2, 61, 5 * 3600 + 7, 8 * 86400)] == [
        "1 second", "2 seconds", "1 minute", "5 hours", "1 week",
    ]  # fmt: skip


# --- The tree -------------------------------------------------------------------------------


def test_steps_hang_off_their_group_and_a_loop_is_ordered_by_index() -> None:
    assert render_tree(steps_workflow(), now=NOW) == STEPS_TREE


def test_a_running_pod_counts_its_duration_up_to_now() -> None:
    later = datetime(2026, 12, 4, 2, 11, 11, tzinfo=UTC)
    line = next(x for x in render_tree(steps_workflow(), now=later).splitlines() if "10:k" in x)
    assert line.split()[-1] == "1h10m"


def test_a_dag_hides_omitted_tasks_and_shows_skipped_and_failed_ones() -> None:
    tree = render_tree(dag_workflow(), now=NOW)
    assert tree == (
        "STEP               TEMPLATE  PODNAME                     DURATION  MESSAGE\n"
        " ✖ dag-xyz         main                                            child failed\n"
        " ├─✔ a             echo      dag-xyz-echo-418940176      3s\n"
        " ├─○ d             echo                                            "
        "when 'false' evaluated false\n"
        " └─✖ b             fail      dag-xyz-fail-469273033      3s        Error (exit code 2)\n"
        "\n"
        " ✔ dag-xyz.onExit  cleanup   dag-xyz-cleanup-3425694444  2s\n"
    )
    assert "omitted" not in tree


def test_a_retried_step_shows_its_attempts_and_a_single_attempt_stands_alone() -> None:
    tree = render_tree(retry_workflow(), now=NOW)
    header, *lines = tree.splitlines()
    rows = [line[: header.index("TEMPLATE")].rstrip() for line in lines]
    assert rows == [
        " ✔ retry-q",
        " └─┬─✔ flaky",
        "   │ ├─✖ flaky(0)",
        "   │ └─✔ flaky(1)",
        "   └─✔ steady(0)",
    ]


def test_an_active_suspend_node_shows_the_pause_icon_and_the_workflow_is_suspended() -> None:
    text = render_workflow(suspended_workflow(), now=NOW)
    assert re.search(r"^Status: +Running \(Suspended\)$", text, re.M)
    assert " └───ǁ approve  approve" in text
    node = next(iter(find_nodes(suspended_workflow(), "approve")))
    assert pod_name_of(suspended_workflow(), node) is None


def test_there_is_no_tree_before_the_root_node_exists() -> None:
    wf = Builder("early").workflow_object("Pending")
    text = render_workflow(wf, now=NOW)
    assert "STEP" not in text
    assert re.search(r"^Status: +Pending$", text, re.M)


def test_colour_wraps_only_the_icons_and_keeps_the_columns() -> None:
    plain = render_tree(steps_workflow(), now=NOW)
    coloured = render_tree(steps_workflow(), now=NOW, color=True)
    assert "\x1b[32m✔\x1b[0m" in coloured and "\x1b[31m✖\x1b[0m" in coloured
    assert strip_ansi(coloured) == plain


def test_a_template_ref_is_shown_as_template_and_names_the_pod_by_its_template() -> None:
    b = Builder("ref-wf")
    b.add("ref-wf", "Steps", templateRef={"name": "lib", "template": "main"},
          children=("ref-wf[0]",))  # fmt: skip
    b.add("ref-wf[0]", "StepGroup", display="[0]", boundary="ref-wf",
          children=("ref-wf[0].x",))  # fmt: skip
    b.add("ref-wf[0].x", "Pod", boundary="ref-wf", templateRef={"name": "lib", "template": "say"})
    tree = render_tree(b.workflow_object("Succeeded"), now=NOW)
    pod = f"ref-wf-say-{b.id('ref-wf[0].x').rsplit('-', 1)[1]}"
    assert tree.splitlines()[1:] == [" ✔ ref-wf  lib/main", f" └───✔ x   lib/say   {pod}  3s"]


def test_the_v1_pod_name_format_names_pods_by_node_id() -> None:
    wf = steps_workflow()
    wf["metadata"]["annotations"] = {"workflows.argoproj.io/pod-name-format": "v1"}
    node = find_nodes(wf, "hello1")[0]
    assert pod_name_of(wf, node) == node["id"]


# --- The report -----------------------------------------------------------------------------


def test_the_header_reports_times_parameters_and_outputs() -> None:
    wf = dag_workflow()
    wf["spec"]["arguments"] = {"parameters": [{"name": "who", "value": "world"}, {"name": "x"}]}
    wf["status"]["outputs"] = {
        "parameters": [{"name": "answer", "value": "42"}],
        "artifacts": [{"name": "report", "s3": {"bucket": "b", "key": "r/report.tgz"}}],
    }
    header = render_workflow(wf, now=NOW).split("\n\n")[0]
    assert header == (
        "Name:                dag-xyz\n"
        "Namespace:           argo\n"
        "Status:              Failed\n"
        "Message:             child failed\n"
        "Created:             Fri Dec 04 01:00:00 +0000 (10 minutes ago)\n"
        "Started:             Fri Dec 04 01:00:00 +0000 (10 minutes ago)\n"
        "Finished:            Fri Dec 04 01:00:23 +0000 (9 minutes ago)\n"
        "Duration:            23 seconds\n"
        "Parameters:\n"
        "  who:               world\n"
        "Output Parameters:\n"
        "  answer:            42\n"
        "Output Artifacts:\n"
        "  report:            s3://b/r/report.tgz"
    )


def test_a_stopped_workflow_says_how_it_was_shut_down() -> None:
    wf = dag_workflow()
    wf["spec"]["shutdown"] = "Stop"
    assert "Status:              Failed (Stop)\n" in render_workflow(wf, now=NOW)


def test_list_rows_give_age_duration_and_the_orphaned_state() -> None:
    assert list_row(dag_workflow(), NOW) == ["dag-xyz", "Failed", "10m", "23s", "child failed"]
    assert list_row(steps_workflow(), NOW) == ["steps-abc", "Running", "10m", "10m", ""]
    assert list_row(steps_workflow(), NOW, orphaned=True)[1:4] == ["Running (orphaned)", "10m", ""]


def test_nodes_are_found_by_id_name_or_display_name() -> None:
    wf = steps_workflow()
    by_display = find_nodes(wf, "hello2a")
    assert [n["name"] for n in by_display] == ["steps-abc[1].hello2a"]
    assert find_nodes(wf, "steps-abc[1].hello2a") == by_display
    assert find_nodes(wf, by_display[0]["id"]) == by_display
    assert find_nodes(wf, "nope") == []
    assert [n["displayName"] for n in pod_nodes(wf)] == [
        "hello1", "hello2a", "hello2b", "loop(0:a)", "loop(1:b)", "loop(10:k)",
    ]  # fmt: skip


# --- Live progress --------------------------------------------------------------------------


def test_without_a_terminal_each_phase_change_is_one_line() -> None:
    out = io.StringIO()
    progress = Progress(out, is_tty=False, now=lambda: NOW)
    wf = suspended_workflow()
    progress.update(wf)
    assert out.getvalue() == (
        "2026-12-04T01:00:00Z  approval-k  Running\n"
        "2026-12-04T01:00:00Z  approval-k[0].approve  Running\n"
    )
    progress.update(wf)
    assert out.getvalue().count("\n") == 2  # nothing changed, nothing printed
    node = find_nodes(wf, "approve")[0]
    node.update(phase="Failed", finishedAt=at(42), message="Stopped with strategy 'Stop'")
    progress.update(wf)
    progress.close()
    assert out.getvalue().splitlines()[2:] == [
        "2026-12-04T01:00:42Z  approval-k[0].approve  Failed  Stopped with strategy 'Stop'"
    ]


class FakeClock:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


class FakeTimers:
    """Deferred draws, run when the test says so."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[float, Any]] = []
        self.cancelled = 0

    def __call__(self, delay: float, action: Any) -> Any:
        self.scheduled.append((delay, action))

        def cancel() -> None:
            self.cancelled += 1

        return cancel


def test_on_a_terminal_the_report_is_redrawn_in_place_at_most_ten_times_a_second() -> None:
    out, clock, timers = io.StringIO(), FakeClock(), FakeTimers()
    progress = Progress(
        out, is_tty=True, color=False, clock=clock, now=lambda: NOW, schedule=timers
    )
    wf = suspended_workflow()
    progress.update(wf)
    first = out.getvalue()
    assert first == render_workflow(wf, now=NOW)
    clock.value += 0.0625
    wf["status"]["phase"] = "Succeeded"
    progress.update(wf)
    progress.update(wf)
    assert out.getvalue() == first  # too soon: deferred, once
    [(delay, draw)] = timers.scheduled
    assert delay == pytest.approx(0.0375)
    draw()
    second = out.getvalue()[len(first) :]
    assert second == f"\x1b[{first.count(chr(10))}F\x1b[J" + render_workflow(wf, now=NOW)
    assert "Status:              Succeeded" in second
    clock.value += 0.125
    wf["status"]["message"] = "done"
    progress.update(wf)  # due: drawn at once
    third = out.getvalue().rsplit("\x1b[J", 1)[1]
    assert third == render_workflow(wf, now=NOW)
    assert "Message:             done\n" in third
    assert len(timers.scheduled) == 1


def test_close_draws_the_last_state_and_cancels_the_deferred_draw() -> None:
    out, clock, timers = io.StringIO(), FakeClock(), FakeTimers()
    progress = Progress(out, is_tty=True, clock=clock, now=lambda: NOW, schedule=timers)
    wf = suspended_workflow()
    progress.update(wf)
    wf["status"].update(phase="Failed", message="Stopped with strategy 'Stop'")
    progress.update(wf)
    assert "Stopped with strategy" not in out.getvalue()
    progress.close()
    assert timers.cancelled == 1
    assert strip_ansi(out.getvalue()).endswith(strip_ansi(render_workflow(wf, now=NOW)))
    assert "Message:             Stopped with strategy 'Stop'" in out.getvalue()


def test_a_small_terminal_gets_clipped_lines_so_the_redraw_stays_in_place() -> None:
    out = io.StringIO()
    progress = Progress(out, is_tty=True, color=True, width=20, height=8, now=lambda: NOW)
    progress.update(steps_workflow())
    progress.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 7
    assert all(len(strip_ansi(line)) <= 20 for line in lines)
    full = render_workflow(steps_workflow(), now=NOW).count("\n")
    assert lines[-1] == f"... {full - 6} more lines"


def test_workflow_lifecycle_hooks_are_trees_of_their_own_before_the_exit_handler() -> None:
    wf = dag_workflow()
    b = Builder("dag-xyz")
    for name in ("dag-xyz.hooks.zeta", "dag-xyz.hooks.alpha"):
        b.add(name, "Pod", display=name, template="note", start=2, end=4)
    wf["status"]["nodes"].update(b.nodes)
    rows = [line.split()[1] for line in render_tree(wf, now=NOW).splitlines() if "dag-xyz." in line]
    assert rows == ["dag-xyz.hooks.alpha", "dag-xyz.hooks.zeta", "dag-xyz.onExit"]
