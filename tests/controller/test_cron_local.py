"""CronWorkflows on this machine: `argoexec cron create` stores one in the state directory,
`argoexec controller`'s scheduler (here with an injected clock: no minute is waited for) creates
its runs, which the controller drives; history limits and `ttlStrategy` remove finished runs;
a restarted scheduler runs a missed slot once, never twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from argoexec.cli import main
from argoexec.controller.loop.cron_local import LocalCrons, LocalScheduler
from argoexec.controller.loop.local import LocalController
from argoexec.controller.loop.state_store import DirectoryStore
from argoexec.controller.sandbox import find_bubblewrap
from tests.servers.procs import require, wait_until

REPO = Path(__file__).resolve().parents[2]

T0 = datetime(2026, 1, 5, 10, 0, 30, tzinfo=UTC).timestamp()
MINUTE = datetime(2026, 1, 5, 10, 1, tzinfo=UTC).timestamp()

CRON = """
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: tick}
spec:
  schedules: ["* * * * *"]
  timezone: UTC
  successfulJobsHistoryLimit: 1
  workflowSpec:
    entrypoint: main
    arguments: {parameters: [{name: who, value: cron}]}
    templates:
    - name: main
      container:
        image: alpine
        command: [sh, -c, 'echo "{{workflow.parameters.who}} at {{workflow.scheduledTime}}"']
"""


@pytest.fixture(autouse=True)
def _bwrap() -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def create(tmp_path: Path, text: str = CRON) -> Path:
    state = tmp_path / "state"
    source = tmp_path / "cron.yaml"
    source.write_text(text)
    assert main(["cron", "create", str(source), "--state-dir", str(state)]) == 0
    return state


def drive(state: Path) -> None:
    LocalController(state).drive(None, until_done=True)


def stored(state: Path, name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((state / name / "workflow.json").read_text())
    return loaded


def test_a_created_cron_runs_at_its_slot_and_its_status_follows_the_run(tmp_path: Path) -> None:
    state = create(tmp_path)
    clock = Clock(T0)
    scheduler = LocalScheduler(state, clock=clock)
    scheduler.tick()  # first look: nothing is due yet
    assert DirectoryStore(state).list() == []
    clock.now = MINUTE + 2
    scheduler.tick()
    name = f"tick-{int(MINUTE)}"
    cron = LocalCrons(state).get("tick")
    assert cron["status"]["lastScheduledTime"] == "2026-01-05T10:01:00Z"
    assert [ref["name"] for ref in cron["status"]["active"]] == [name]
    drive(state)
    run = stored(state, name)
    assert run["status"]["phase"] == "Succeeded"
    assert run["metadata"]["labels"]["workflows.argoproj.io/cron-workflow"] == "tick"
    logs = list((state / name / "pods").rglob("main.log"))
    assert logs and logs[0].read_text() == "cron at 2026-01-05T10:01:00Z\n"
    clock.now += 1
    scheduler.tick()
    cron = LocalCrons(state).get("tick")
    assert cron["status"]["active"] == [] and cron["status"]["succeeded"] == 1


def test_the_history_limit_removes_the_older_successful_run(tmp_path: Path) -> None:
    state = create(tmp_path)
    clock = Clock(T0)
    scheduler = LocalScheduler(state, clock=clock)
    scheduler.tick()
    for minute in (MINUTE, MINUTE + 60):
        clock.now = minute + 1
        scheduler.tick()
        drive(state)
    clock.now += 1
    scheduler.tick()
    names = [wf["metadata"]["name"] for wf in DirectoryStore(state).list()]
    assert names == [f"tick-{int(MINUTE) + 60}"]
    assert LocalCrons(state).get("tick")["status"]["succeeded"] == 2


def test_a_restarted_scheduler_runs_one_missed_slot_within_the_deadline_and_never_twice(
    tmp_path: Path,
) -> None:
    state = create(
        tmp_path, CRON.replace("timezone: UTC", "timezone: UTC\n  startingDeadlineSeconds: 100")
    )
    crons = LocalCrons(state)
    cron = crons.get("tick")
    cron["status"] = {"lastScheduledTime": "2026-01-05T10:00:00Z"}
    crons.put(cron)
    # Down from 10:00 to 10:03:20: 10:01, 10:02 and 10:03 were missed; only 10:03 runs.
    LocalScheduler(state, clock=Clock(MINUTE + 140)).tick()
    assert [wf["metadata"]["name"] for wf in DirectoryStore(state).list()] == [
        f"tick-{int(MINUTE) + 120}"
    ]
    # Killed before recording it, and restarted: the same slot's name, refused by the store.
    crons.put(cron)
    LocalScheduler(state, clock=Clock(MINUTE + 150)).tick()
    assert len(DirectoryStore(state).list()) == 1
    LocalScheduler(state, clock=Clock(MINUTE + 150)).tick()  # recorded now: not missed
    assert len(DirectoryStore(state).list()) == 1


def two_slots_with_the_first_run_active(tmp_path: Path, policy: str) -> Path:
    """A cron of `policy` ticked at two slots; the first slot's run is never driven, so it
    is still active at the second."""
    state = create(
        tmp_path, CRON.replace("timezone: UTC", f"timezone: UTC\n  concurrencyPolicy: {policy}")
    )
    clock = Clock(T0)
    scheduler = LocalScheduler(state, clock=clock)
    for now in (T0, MINUTE + 1, MINUTE + 61):
        clock.now = now
        scheduler.tick()
    return state


def test_forbid_skips_the_slot_while_a_run_is_active(tmp_path: Path) -> None:
    state = two_slots_with_the_first_run_active(tmp_path, "Forbid")
    assert len(DirectoryStore(state).list()) == 1


def test_ttl_strategy_removes_a_finished_run_once_its_time_is_over(tmp_path: Path) -> None:
    state = tmp_path / "state"
    source = tmp_path / "wf.yaml"
    source.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: brief}\n"
        "spec:\n  entrypoint: main\n  ttlStrategy: {secondsAfterCompletion: 60}\n"
        '  templates:\n  - name: main\n    container: {image: alpine, command: ["true"]}\n'
    )
    assert main(["run", str(source), "--state-dir", str(state)]) == 0
    finished = stored(state, "brief")["status"]["finishedAt"]
    at = datetime.fromisoformat(finished.replace("Z", "+00:00")).timestamp()
    LocalScheduler(state, clock=Clock(at + 59)).tick()
    assert (state / "brief").exists()
    LocalScheduler(state, clock=Clock(at + 61)).tick()
    assert not (state / "brief").exists()


def test_cron_commands_list_suspend_resume_get_and_delete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = create(tmp_path)
    again = tmp_path / "cron.yaml"
    assert main(["cron", "create", str(again), "--state-dir", str(state)]) != 0
    assert "already exists" in capsys.readouterr().err
    assert main(["cron", "suspend", "tick", "--state-dir", str(state)]) == 0
    assert capsys.readouterr().out == "cronworkflow tick suspended\n"
    assert LocalCrons(state).get("tick")["spec"]["suspend"] is True
    assert main(["cron", "list", "--state-dir", str(state)]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split()[0] == "NAME"
    assert listing[1].split()[0] == "tick" and listing[1].split()[-1] == "true"
    assert main(["cron", "resume", "tick", "--state-dir", str(state)]) == 0
    assert main(["cron", "get", "tick", "--state-dir", str(state)]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1])["spec"]["suspend"] is False
    assert main(["cron", "delete", "tick", "--state-dir", str(state)]) == 0
    assert LocalCrons(state).names() == []


def test_cron_list_shows_an_every_0s_schedule_next_second_and_a_far_one_in_days(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = create(tmp_path, CRON.replace('"* * * * *"', '"@every 0s"'))
    capsys.readouterr()
    assert main(["cron", "list", "--state-dir", str(state)]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[2] in ("0s", "1s")
    far = tmp_path / "far"
    far.mkdir()
    state = create(far, CRON.replace('"* * * * *"', '"@every 1000000h"'))
    capsys.readouterr()
    assert main(["cron", "list", "--state-dir", str(state)]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[2].endswith("d")


def test_a_cron_that_does_not_lint_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "bad.yaml"
    source.write_text(CRON.replace('"* * * * *"', '"61 * * * *"'))
    assert main(["cron", "create", str(source), "--state-dir", str(tmp_path / "s")]) != 0
    assert "61 * * * *" in capsys.readouterr().err


EVERY_SECOND = """
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata: {name: often}
spec:
  schedules: ["@every 1s"]
  concurrencyPolicy: Forbid
  stopStrategy: {expression: "cronworkflow.succeeded >= 2"}
  workflowSpec:
    entrypoint: main
    templates:
    - name: main
      container: {image: alpine, command: [sh, -c, "echo hello"]}
"""


def test_the_controller_schedules_a_cron_dir_until_its_stop_strategy_stops_it(
    tmp_path: Path,
) -> None:
    crons = tmp_path / "crons"
    crons.mkdir()
    (crons / "often.yaml").write_text(EVERY_SECOND)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "HOME": os.environ["HOME"]}
    argv = [sys.executable, "-m", "argoexec", "controller", "--state-dir", "state"]
    controller = subprocess.Popen(
        [*argv, "--cron-dir", str(crons)], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    state = tmp_path / "state"

    def stopped() -> bool:
        return LocalCrons(state).get("often").get("status", {}).get("phase") == "Stopped"

    try:
        wait_until(stopped, 60, "the CronWorkflow stopped by its stopStrategy")
    finally:
        controller.send_signal(signal.SIGTERM)
        _, err = controller.communicate(timeout=60)
    status = LocalCrons(state).get("often")["status"]
    assert status["succeeded"] == 2 and status["active"] == [], err
    runs = DirectoryStore(state).list()
    assert [wf["status"]["phase"] for wf in runs] == ["Succeeded", "Succeeded"]
    # Forbid: never two at once, so the second started after the first had finished.
    first, second = runs
    assert second["status"]["startedAt"] >= first["status"]["finishedAt"]


def test_replace_terminates_the_active_run_and_starts_the_new_one(tmp_path: Path) -> None:
    state = two_slots_with_the_first_run_active(tmp_path, "Replace")
    first, second = (f"tick-{int(MINUTE)}", f"tick-{int(MINUTE) + 60}")
    assert stored(state, first)["spec"]["shutdown"] == "Terminate"
    assert "shutdown" not in stored(state, second)["spec"]


def test_a_run_that_cannot_be_created_is_a_submission_error_counted_as_failed(
    tmp_path: Path,
) -> None:
    state = create(tmp_path)
    (state / ".cronworkflows" / "tick.run.json").unlink()
    clock = Clock(T0)
    scheduler = LocalScheduler(state, clock=clock)
    scheduler.tick()
    clock.now = MINUTE + 1
    scheduler.tick()
    status = LocalCrons(state).get("tick")["status"]
    assert status["failed"] == 1
    (condition,) = status["conditions"]
    assert condition["type"] == "SubmissionError"
    assert condition["message"].startswith("Failed to submit Workflow: cannot read the options")
    assert DirectoryStore(state).list() == []


def test_a_cron_document_that_cannot_be_read_is_said_once_and_the_others_still_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = create(tmp_path)
    (state / ".cronworkflows" / "broken.json").write_text("{not json")
    clock = Clock(T0)
    scheduler = LocalScheduler(state, clock=clock)
    scheduler.tick()
    clock.now = MINUTE + 1
    scheduler.tick()
    assert [wf["metadata"]["name"] for wf in DirectoryStore(state).list()] == [
        f"tick-{int(MINUTE)}"
    ]
    said = [r.getMessage() for r in caplog.records if "broken" in r.getMessage()]
    assert len(said) == 1 and "cannot read CronWorkflow" in said[0]


def test_a_run_its_ttl_removes_has_its_on_deletion_artifacts_deleted_first(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    source = tmp_path / "wf.yaml"
    source.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: brief}\n"
        "spec:\n  entrypoint: main\n  ttlStrategy: {secondsAfterSuccess: 0}\n"
        "  artifactGC: {strategy: OnWorkflowDeletion}\n"
        "  templates:\n  - name: main\n    container:\n      image: alpine\n"
        '      command: [sh, -c, "echo m > /tmp/m"]\n'
        "    outputs: {artifacts: [{name: m, path: /tmp/m}]}\n"
    )
    assert main(["run", str(source), "--state-dir", str(state)]) == 0
    assert [p for p in (state / "artifacts").rglob("*") if p.is_file()]
    LocalScheduler(state, clock=Clock(time.time() + 1)).tick()
    assert not (state / "brief").exists()
    assert not [p for p in (state / "artifacts").rglob("*") if p.is_file()]
