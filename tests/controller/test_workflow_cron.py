"""CronWorkflow documents: `argoexec lint` checks them as Argo's ValidateCronWorkflow does
(schedules as robfig/cron's ParseStandard reads them, the timezone, the embedded workflowSpec
under `spec.workflowSpec`), and `argoexec run` runs one instance now, as
`argo submit --from cronwf/NAME`: the Workflow Argo builds, with the `scheduled-time`
annotation `{{workflow.scheduledTime}}` reads."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.cli import main
from argoexec.controller.sandbox import find_bubblewrap
from argoexec.controller.workflow.cron import (
    schedule_problem,
    timezone_problem,
    workflow_from_cron,
)
from argoexec.controller.workflow.lint import lint_cron_workflow
from argoexec.controller.workflow.store import TemplateStore
from tests.controller.test_engine_run import run_workflow
from tests.servers.procs import require

CRON = """
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata:
  name: nightly
  namespace: reports
  labels: {workflows.argoproj.io/controller-instanceid: blue, other: not-copied}
spec:
  schedules: ["30 2 * * *", "@hourly"]
  timezone: Europe/Paris
  workflowMetadata:
    labels: {team: data}
    annotations: {purpose: demo}
  workflowSpec:
    entrypoint: report
    arguments: {parameters: [{name: who, value: cron}]}
    templates:
    - name: report
      inputs: {parameters: [{name: who, value: "{{workflow.parameters.who}}"}]}
      container:
        image: alpine
        command: [sh, -c, 'echo "{{inputs.parameters.who}} at {{workflow.scheduledTime}}"']
"""


def cron(text: str = CRON) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


@pytest.mark.parametrize(
    "schedule",
    [
        "*/5 * * * *",
        "0 0 * * MON-FRI",
        "0 9 1,15 jan,Jul *",
        "0 0 ? * *",
        "5-55/10 2 * * 0",
        "@hourly",
        "@midnight",
        "@every 90m",
        "CRON_TZ=Asia/Tokyo 0 8 * * *",
    ],
)
def test_schedules_robfig_cron_accepts(schedule: str) -> None:
    assert schedule_problem(schedule) is None


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ("", "empty spec string"),
        ("* * * * * *", "expected exactly 5 fields, found 6"),  # croniter: seconds
        ("* * * *", "expected exactly 5 fields, found 4"),
        ("0 0 L * *", "bad day of month field 'L'"),  # croniter: last day
        ("0 0 15W * *", "bad day of month field '15W'"),
        ("0 0 * * 1#2", "bad day of week field '1#2'"),
        ("H * * * *", "bad minute field 'H'"),  # croniter: hashed
        ("0 0 * FOO *", "unknown name 'FOO'"),
        ("61 * * * *", "out of range"),
        ("@reboot", "unrecognized descriptor: @reboot"),
        ("@every soon", "failed to parse duration"),
        ("CRON_TZ=Nowhere/Land 0 * * * *", "unknown time zone 'Nowhere/Land'"),
    ],
)
def test_schedules_robfig_cron_refuses(schedule: str, reason: str) -> None:
    problem = schedule_problem(schedule)
    assert problem is not None and reason in problem, problem


def test_timezones_are_iana_names() -> None:
    assert timezone_problem("America/New_York") is None
    assert timezone_problem("UTC") is None
    assert timezone_problem("Mars/Olympus") == "unknown time zone 'Mars/Olympus'"


def test_the_workflow_of_a_cron_is_the_one_argo_submit_from_builds() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    workflow = workflow_from_cron(cron(), now)

    assert workflow["kind"] == "Workflow"
    assert workflow["spec"] == cron()["spec"]["workflowSpec"]
    meta = workflow["metadata"]
    assert meta["generateName"] == "nightly-"
    assert "name" not in meta
    assert meta["namespace"] == "reports"
    assert meta["labels"] == {
        "workflows.argoproj.io/controller-instanceid": "blue",
        "workflows.argoproj.io/cron-workflow": "nightly",
        "team": "data",
    }
    assert meta["annotations"] == {
        "workflows.argoproj.io/scheduled-time": "2026-01-02T03:04:05Z",
        "purpose": "demo",
    }
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "CronWorkflow",
            "name": "nightly",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def test_lint_checks_the_cron_fields_and_the_workflow_spec_under_its_path() -> None:
    bad = cron()
    spec = bad["spec"]
    spec["schedule"] = "* * * * *"  # removed in Argo v4
    spec["schedules"] = ["0 0 L * *", "@hourly"]
    spec["timezone"] = "Mars/Olympus"
    spec["concurrencyPolicy"] = "Sometimes"
    spec["startingDeadlineSeconds"] = -1
    spec["workflowSpec"]["entrypoint"] = "reprot"
    bad["metadata"]["name"] = "n" * 53

    problems = {(p.path, p.message) for p in lint_cron_workflow(bad, TemplateStore())}
    paths = {path for path, _ in problems}
    assert paths == {
        "metadata.name",
        "spec.schedule",
        "spec.schedules[0]",
        "spec.timezone",
        "spec.concurrencyPolicy",
        "spec.startingDeadlineSeconds",
        "spec.workflowSpec.entrypoint",
    }, problems
    assert ("spec.timezone", "unknown time zone 'Mars/Olympus'") in problems
    assert any("did you mean `schedules`" in message for path, message in problems)
    assert any(
        path == "spec.workflowSpec.entrypoint" and "`reprot` not found" in message
        for path, message in problems
    )


def test_a_good_cron_lints_clean_and_its_schedules_are_required() -> None:
    assert lint_cron_workflow(cron(), TemplateStore()) == []
    unscheduled = cron()
    del unscheduled["spec"]["schedules"]
    problems = lint_cron_workflow(unscheduled, TemplateStore())
    assert [(p.path, p.message) for p in problems] == [
        ("spec.schedules", "missing required field `schedules`")
    ]
    unscheduled["spec"]["schedules"] = []
    problems = lint_cron_workflow(unscheduled, TemplateStore())
    assert [(p.path, p.message) for p in problems] == [
        ("spec.schedules", "must have at least one schedule (it would never run)")
    ]


def test_run_of_a_cron_runs_one_instance_now_with_argos_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    source = tmp_path / "cron.yaml"
    source.write_text(CRON)
    before = datetime.now(UTC).replace(microsecond=0)
    code = main(["run", str(source), "-p", "who=me", "-o", "json", "--state-dir", str(tmp_path)])
    after = datetime.now(UTC)
    out, err = capsys.readouterr()
    assert code == 0, err
    workflow = json.loads(out)
    meta = workflow["metadata"]
    assert re.fullmatch(r"nightly-[a-z0-9]{5}", meta["name"])
    assert meta["namespace"] == "reports"
    assert meta["labels"]["workflows.argoproj.io/cron-workflow"] == "nightly"
    assert meta["labels"]["team"] == "data"
    scheduled = meta["annotations"]["workflows.argoproj.io/scheduled-time"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)", scheduled)
    assert before <= datetime.fromisoformat(scheduled.replace("Z", "+00:00")) <= after
    root = workflow["status"]["nodes"][meta["name"]]
    assert root["outputs"]["result"] == f"me at {scheduled}"
    assert workflow["spec"]["arguments"]["parameters"] == [{"name": "who", "value": "me"}]


def test_run_refuses_a_cron_lint_finds_wrong_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "cron.yaml"
    source.write_text(CRON.replace('"@hourly"', '"@reboot"'))
    code = main(["run", str(source), "--state-dir", str(tmp_path / "state")])
    err = capsys.readouterr().err
    assert code == 2
    assert "spec.schedules[1]: cron schedule '@reboot' is malformed" in err
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").iterdir())


def test_scheduled_time_exists_only_when_the_annotation_is_set(tmp_path: Path) -> None:
    spec = """
entrypoint: show
templates:
- name: show
  container: {image: alpine, command: [echo, "{{workflow.scheduledTime}}"]}
"""
    scheduled = run_workflow(
        tmp_path / "cron",
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {
                "name": "wf",
                "annotations": {"workflows.argoproj.io/scheduled-time": "2026-01-02T03:04:05Z"},
            },
            "spec": yaml.safe_load(spec),
        },
    )
    assert scheduled.result("wf") == "2026-01-02T03:04:05Z", scheduled.explain()

    plain = run_workflow(tmp_path / "plain", spec)
    assert plain.node("wf")["phase"] == "Error"
    assert "workflow.scheduledTime is not defined" in plain.node("wf")["message"]


def test_the_lint_command_reports_a_crons_problems_with_their_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(CRON)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        CRON.replace("Europe/Paris", "Europe/Atlantis").replace("report\n", "reprot\n", 1)
    )
    code = main(["lint", str(good), str(bad)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert f"{good}: ok" in out
    assert f"{bad}: spec.timezone: unknown time zone 'Europe/Atlantis'" in out
    assert any(
        line.startswith(f"{bad}: spec.workflowSpec.entrypoint: template `reprot`") for line in out
    )
