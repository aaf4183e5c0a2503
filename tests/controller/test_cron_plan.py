"""One scheduling pass over a CronWorkflow (`argoexec.controller.cron.plan`), at times the test
gives: which slot is due, what concurrencyPolicy, suspend, `when` and stopStrategy make of it,
the runs a restarted controller missed, the history limits, and `status` as Argo keeps it."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from argoexec.contract import ANNOTATION_SCHEDULED_TIME, LABEL_CRON_WORKFLOW_COMPLETED
from argoexec.controller.cron.plan import (
    Child,
    children_of,
    plan,
    submission_failed,
    submitted,
)
from argoexec.controller.cron.schedule import latest_slot, next_slot
from argoexec.controller.cron.ttl import expires_at

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC).timestamp()  # a Monday, 10:00 UTC


def cron(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "tick", "namespace": "default", "uid": "u-cron"},
        "spec": {
            "schedules": ["* * * * *"],
            "timezone": "UTC",
            "workflowSpec": {
                "entrypoint": "main",
                "templates": [{"name": "main", "container": {"image": "alpine"}}],
            },
        },
    }
    base["spec"].update(spec)
    return base


def created(workflow: dict[str, Any], uid: str = "u1") -> dict[str, Any]:
    out = copy.deepcopy(workflow)
    out["metadata"].update(uid=uid, namespace="default", resourceVersion="1")
    return out


def run_slot(document: dict[str, Any], now: float, considered: float | None, uid: str = "u1"):
    """A pass at `now`; the Workflow it asks for created; the cron as recorded then."""
    result = plan(document, [], now=now, considered=considered)
    assert result.create is not None and result.slot is not None
    return result, submitted(result.cron, created(result.create, uid), result.slot)


def test_a_slot_reached_since_the_last_pass_creates_its_workflow_named_after_its_unix_time():
    result = plan(cron(), [], now=T0 + 61, considered=T0 + 30)
    assert result.slot == T0 + 60
    assert result.create is not None
    assert result.create["metadata"]["name"] == f"tick-{int(T0) + 60}"
    assert result.create["metadata"]["annotations"][ANNOTATION_SCHEDULED_TIME] == (
        "2026-01-05T10:01:00Z"
    )
    assert result.create["metadata"]["ownerReferences"][0]["uid"] == "u-cron"
    assert result.wake_at == T0 + 120


def test_no_slot_between_two_passes_creates_nothing():
    result = plan(cron(), [], now=T0 + 50, considered=T0 + 1)
    assert result.create is None and result.considered == T0 + 50


def test_the_record_of_a_submission_lists_it_active_and_sets_last_scheduled_time():
    _, recorded = run_slot(cron(), T0 + 61, T0 + 30)
    status = recorded["status"]
    assert status["phase"] == "Active"
    assert status["lastScheduledTime"] == "2026-01-05T10:01:00Z"
    assert [ref["name"] for ref in status["active"]] == [f"tick-{int(T0) + 60}"]
    assert status["active"][0]["uid"] == "u1"


def test_several_schedules_the_latest_slot_of_any_is_run_once():
    document = cron(schedules=["*/2 * * * *", "*/3 * * * *"])
    result = plan(document, [], now=T0 + 6 * 60 + 5, considered=T0 + 3 * 60 + 30)
    assert result.slot == T0 + 6 * 60  # both fall at 10:06: one Workflow


def test_a_timezone_places_the_slots_on_its_wall_clock_across_a_change_of_time():
    zone = ZoneInfo("America/New_York")
    # Clocks go forward at 02:00 on 2026-03-08: a daily 02:30 falls at 03:00 that night.
    before = datetime(2026, 3, 8, 1, 0, tzinfo=zone).timestamp()
    slot = next_slot("30 2 * * *", zone, before)
    assert datetime.fromtimestamp(slot, zone).hour == 3
    assert (
        next_slot("30 2 * * *", zone, slot) == datetime(2026, 3, 9, 2, 30, tzinfo=zone).timestamp()
    )
    document = cron(schedules=["0 9 * * *"], timezone="Asia/Tokyo")
    at = datetime(2026, 1, 6, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()
    result = plan(document, [], now=at + 1, considered=at - 1)
    assert result.slot == at
    assert result.create["metadata"]["annotations"][ANNOTATION_SCHEDULED_TIME] == (
        "2026-01-06T09:00:00+09:00"
    )


def test_a_cron_tz_prefix_and_every_durations_are_understood():
    zone = ZoneInfo("UTC")
    tokyo_nine = datetime(2026, 1, 6, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()
    assert latest_slot("CRON_TZ=Asia/Tokyo 0 9 * * *", zone, tokyo_nine - 5, tokyo_nine + 5) == (
        tokyo_nine
    )
    assert latest_slot("@every 90s", zone, T0, T0 + 100) == (T0 // 90 + 1) * 90


@pytest.mark.parametrize("every", ["@every 0s", "@every 1ns", "@every -5s", "@every 1500ms"])
def test_an_every_duration_under_a_second_falls_every_whole_second_as_robfig_cron(every):
    zone = ZoneInfo("UTC")
    assert next_slot(every, zone, T0 + 0.25) == T0 + 1
    assert latest_slot(every, zone, T0, T0 + 2.5) == T0 + 2


@pytest.mark.parametrize(
    ("policy", "created_expected", "terminated"),
    [("Allow", True, []), ("Forbid", False, []), ("Replace", True, ["tick-1"])],
)
def test_concurrency_policy_with_a_run_still_active(policy, created_expected, terminated):
    document = cron(concurrencyPolicy=policy)
    document["status"] = {"active": [{"kind": "Workflow", "name": "tick-1", "uid": "a"}]}
    children = [Child(name="tick-1", uid="a", phase="Running")]
    result = plan(document, children, now=T0 + 61, considered=T0 + 30)
    assert (result.create is not None) is created_expected
    assert result.terminate == terminated


def test_an_invalid_concurrency_policy_is_a_spec_error_and_nothing_runs():
    result = plan(cron(concurrencyPolicy="Sometimes"), [], now=T0 + 61, considered=T0 + 30)
    assert result.create is None
    condition = result.cron["status"]["conditions"][0]
    assert condition["type"] == "SpecError" and "Sometimes" in condition["message"]


def test_suspend_skips_the_slot():
    result = plan(cron(suspend=True), [], now=T0 + 61, considered=T0 + 30)
    assert result.create is None
    assert result.considered == T0 + 61  # decided: resuming later does not run it late


def test_when_decides_with_the_crons_own_variables():
    document = cron(when="{{cronworkflow.succeeded}} < 2")
    document["status"] = {"succeeded": 1}
    assert plan(document, [], now=T0 + 61, considered=T0 + 30).create is not None
    document["status"] = {"succeeded": 2}
    assert plan(document, [], now=T0 + 61, considered=T0 + 30).create is None
    document = cron(when="{{= cronworkflow.name == 'tick' }}")
    assert plan(document, [], now=T0 + 61, considered=T0 + 30).create is not None


def test_a_when_that_fails_is_a_submission_error():
    result = plan(cron(when="{{cronworkflow.nope}} == 1"), [], now=T0 + 61, considered=T0 + 30)
    assert result.create is None
    condition = result.cron["status"]["conditions"][0]
    assert condition["type"] == "SubmissionError" and "cronworkflow.nope" in condition["message"]
    assert result.cron["status"]["failed"] == 1


def test_finished_runs_leave_active_and_are_counted_once():
    document = cron()
    document["status"] = {
        "active": [{"name": "tick-1", "uid": "a"}, {"name": "tick-2", "uid": "b"}],
        "succeeded": 4,
    }
    children = [
        Child(name="tick-1", uid="a", phase="Succeeded", finished_at=T0),
        Child(name="tick-2", uid="b", phase="Error", finished_at=T0),
    ]
    first = plan(document, children, now=T0 + 10, considered=T0)
    assert first.cron["status"]["active"] == []
    assert (first.cron["status"]["succeeded"], first.cron["status"]["failed"]) == (5, 1)
    second = plan(first.cron, children, now=T0 + 20, considered=T0 + 10)
    assert (second.cron["status"]["succeeded"], second.cron["status"]["failed"]) == (5, 1)


def test_an_unfinished_run_missing_from_active_is_added_and_a_gone_one_removed():
    document = cron()
    document["status"] = {"active": [{"name": "tick-9", "uid": "gone"}]}
    result = plan(document, [Child(name="tick-1", uid="a", phase="Running")], now=T0, considered=T0)
    assert [ref["name"] for ref in result.cron["status"]["active"]] == ["tick-1"]
    assert "failed" not in result.cron["status"]  # a deleted run is not counted


def test_the_stop_strategy_stops_the_cron_when_its_expression_holds():
    document = cron(stopStrategy={"expression": "cronworkflow.failed >= 2"})
    document["status"] = {"active": [{"name": "tick-2", "uid": "b"}], "failed": 1}
    children = [Child(name="tick-2", uid="b", phase="Failed", finished_at=T0)]
    result = plan(document, children, now=T0 + 61, considered=T0 + 30)
    assert result.cron["status"]["phase"] == "Stopped"
    assert result.cron["metadata"]["labels"][LABEL_CRON_WORKFLOW_COMPLETED] == "true"
    assert result.create is None
    later = plan(result.cron, [], now=T0 + 121, considered=T0 + 90)
    assert later.create is None


def test_history_limits_delete_the_oldest_finished_runs():
    document = cron(successfulJobsHistoryLimit=2)  # failed: Argo's default, 1
    children = [
        Child(name=f"ok-{i}", uid=f"s{i}", phase="Succeeded", finished_at=T0 + i) for i in range(4)
    ] + [
        Child(name="bad-0", uid="f0", phase="Failed", finished_at=T0),
        Child(name="bad-1", uid="f1", phase="Error", finished_at=T0 + 5),
        Child(name="running", uid="r", phase="Running"),
    ]
    result = plan(document, children, now=T0 + 10, considered=T0 + 10)
    assert sorted(result.delete) == ["bad-0", "ok-0", "ok-1"]


def test_a_restarted_controller_runs_the_last_missed_slot_within_the_starting_deadline():
    document = cron(startingDeadlineSeconds=120)
    document["status"] = {"lastScheduledTime": "2026-01-05T10:00:00Z"}
    # Down from 10:00:30 to 10:03:30: 10:01, 10:02 and 10:03 were missed; only 10:03 runs.
    result = plan(document, [], now=T0 + 210, considered=None)
    assert result.slot == T0 + 180
    document["spec"]["startingDeadlineSeconds"] = 20
    assert plan(document, [], now=T0 + 210, considered=None).create is None  # 30 s late


def test_without_a_starting_deadline_missed_slots_are_not_run():
    document = cron()
    document["status"] = {"lastScheduledTime": "2026-01-05T10:00:00Z"}
    assert plan(document, [], now=T0 + 210, considered=None).create is None


def test_a_restarted_controller_does_not_run_the_recorded_slot_again():
    document = cron(startingDeadlineSeconds=300)
    document["status"] = {"lastScheduledTime": "2026-01-05T10:00:00Z"}
    result, recorded = run_slot(document, T0 + 61, T0 + 30)
    # Restarted at once, in the same minute: the slot recorded is not missed.
    assert plan(recorded, [], now=T0 + 70, considered=None).create is None
    # Restarted after creating the Workflow but before recording it: the same name again
    # (which the store refuses), never a second run under another name.
    again = plan(result.cron, [], now=T0 + 70, considered=None)
    assert again.create is not None
    assert again.create["metadata"]["name"] == result.create["metadata"]["name"]


def test_a_failed_submission_is_a_condition_and_counts_as_failed():
    failed = submission_failed(cron(), "disk full")
    assert failed["status"]["conditions"] == [
        {
            "type": "SubmissionError",
            "status": "True",
            "message": "Failed to submit Workflow: disk full",
        }
    ]
    assert failed["status"]["failed"] == 1
    _, recorded = run_slot(failed, T0 + 61, T0 + 30)
    assert "conditions" not in recorded["status"]


def test_a_malformed_schedule_is_a_spec_error_and_nothing_runs():
    result = plan(cron(schedules=["61 * * * *"]), [], now=T0 + 61, considered=T0)
    assert result.create is None
    assert result.cron["status"]["conditions"][0]["type"] == "SpecError"


def test_children_are_the_workflows_labelled_with_the_crons_name():
    labels = {"workflows.argoproj.io/cron-workflow": "tick"}
    workflows = [
        {"metadata": {"name": "a", "uid": "1", "labels": labels},
         "status": {"phase": "Succeeded", "finishedAt": "2026-01-05T10:00:00Z"}},
        {"metadata": {"name": "b", "uid": "2", "labels": {}}},
    ]  # fmt: skip
    assert children_of("tick", workflows) == [
        Child(name="a", uid="1", phase="Succeeded", finished_at=T0)
    ]


@pytest.mark.parametrize(
    ("phase", "expected"),
    [("Succeeded", 10), ("Failed", 20), ("Error", 20), ("Running", None)],
)
def test_ttl_strategy_counts_from_finished_at_with_the_phases_own_seconds_first(phase, expected):
    workflow = {
        "spec": {"ttlStrategy": {"secondsAfterSuccess": 10, "secondsAfterCompletion": 20}},
        "status": {"phase": phase, "finishedAt": "2026-01-05T10:00:00Z"},
    }
    assert expires_at(workflow) == (None if expected is None else T0 + expected)
    assert expires_at({"status": workflow["status"]}) is None


def test_argos_cron_when_example_runs_only_six_minutes_after_the_last_run():
    # examples/cron-when.yaml: `now()` is the machine's time, so the test uses times far from it.
    when = (
        "{{= cronworkflow.lastScheduledTime == nil || "
        "(now() - cronworkflow.lastScheduledTime).Seconds() > 360 }}"
    )
    document = cron(when=when)
    assert plan(document, [], now=T0 + 61, considered=T0 + 30).create is not None
    document["status"] = {"lastScheduledTime": "2020-01-01T00:00:00Z"}
    assert plan(document, [], now=T0 + 61, considered=T0 + 30).create is not None
    document["status"] = {"lastScheduledTime": "2100-01-01T00:00:00Z"}
    assert plan(document, [], now=T0 + 61, considered=T0 + 30).create is None


def test_a_stop_strategy_that_does_not_parse_is_a_spec_error_naming_it():
    document = cron(stopStrategy={"expression": "cronworkflow.failed >="})
    result = plan(document, [], now=T0 + 61, considered=T0 + 30)
    assert result.create is None
    message = result.cron["status"]["conditions"][0]["message"]
    assert message.startswith("spec.stopStrategy.expression: invalid expression")
