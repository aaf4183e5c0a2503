"""``argoexec list|get|logs|resume|stop`` on runs in a state directory, through the CLI's main."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.cli import main
from argoexec.controller.render import find_nodes, pod_name_of
from argoexec.controller.runtime.volumes import PodDirs
from argoexec.controller.state import RunDir, StateStore
from tests.controller.test_render import dag_workflow, steps_workflow, suspended_workflow

REPO = Path(__file__).resolve().parents[2]


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def write_log(
    run: RunDir, workflow: dict[str, Any], node: str, text: str, ctr: str = "main"
) -> None:
    pod = pod_name_of(workflow, find_nodes(workflow, node)[0])
    assert pod is not None
    path = PodDirs(run.pods_dir / pod).log(ctr)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def state(tmp_path: Path) -> StateStore:
    """Three runs: a finished DAG, a steps workflow whose process died, a live suspended one."""
    store = StateStore(tmp_path / "state")
    dag = store.create("dag-xyz")
    dag.write_workflow(dag_workflow())
    dag.mark_owner(dead_pid())
    steps = store.create("steps-abc")
    wf = steps_workflow()
    steps.write_workflow(wf)
    steps.mark_owner(dead_pid())
    write_log(steps, wf, "hello1", "hello from 1\n")
    write_log(steps, wf, "hello2a", "a one\na two\n")
    write_log(steps, wf, "hello2b", "b failed\n")
    write_log(steps, wf, "hello2b", "wait says hi\n", ctr="wait")
    live = store.create("approval-k")
    live.write_workflow(approval_workflow())
    live.mark_owner(os.getpid())
    return store


def approval_workflow() -> dict[str, Any]:
    """A live suspended workflow whose node expects `answer` and `by` (valueFrom.supplied)."""
    wf = suspended_workflow()
    node = find_nodes(wf, "approve")[0]
    node["outputs"] = {
        "parameters": [
            {"name": "answer", "valueFrom": {"supplied": {}}},
            {"name": "by", "valueFrom": {"supplied": {}, "default": "me"}},
        ]
    }
    return wf


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- list -----------------------------------------------------------------------------------


def test_list_shows_runs_newest_first_and_marks_the_orphaned_one(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "list", "--state-dir", str(state.root))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE", "DURATION", "MESSAGE"]
    assert [line.split("  ")[0] for line in lines[1:]] == ["approval-k", "steps-abc", "dag-xyz"]
    assert re.match(r"approval-k +Running \(Suspended\) ", lines[1])
    assert re.match(r"steps-abc +Running \(orphaned\) ", lines[2])
    assert re.match(r"dag-xyz +Failed +\S+ +23s +child failed$", lines[3])


def test_list_finds_the_state_dir_in_the_environment(
    state: StateStore, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARGOEXEC_STATE_DIR", str(state.root))
    code, out, _ = run_cli(capsys, "list", "-o", "json")
    assert code == 0
    assert [wf["metadata"]["name"] for wf in json.loads(out)] == [
        "approval-k", "steps-abc", "dag-xyz",
    ]  # fmt: skip


def test_list_wide_adds_progress_and_parameters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = StateStore(tmp_path)
    wf = dag_workflow()
    wf["spec"]["arguments"] = {"parameters": [{"name": "who", "value": "me"}]}
    wf["status"]["progress"] = "1/2"
    store.create("dag-xyz").write_workflow(wf)
    code, out, _ = run_cli(capsys, "list", "--state-dir", str(tmp_path), "-o", "wide")
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == [
        "NAME",
        "STATUS",
        "AGE",
        "DURATION",
        "PROGRESS",
        "PARAMETERS",
        "MESSAGE",
    ]
    cells = re.split(r"  +", row)
    assert cells[:2] + cells[3:] == ["dag-xyz", "Failed", "23s", "1/2", "who=me", "child failed"]


def test_list_of_an_empty_state_dir_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "list", "--state-dir", str(tmp_path / "none")) == (
        0, "No workflows found\n", "",
    )  # fmt: skip


# --- get ------------------------------------------------------------------------------------


def test_get_prints_the_report_and_tree(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "get", "dag-xyz", "--state-dir", str(state.root))
    assert code == 0
    assert out.startswith("Name:                dag-xyz\nNamespace:           argo\n")
    assert (
        " └─✖ b             fail      dag-xyz-fail-469273033      3s        Error (exit code 2)\n"
        in out
    )
    assert "\x1b[" not in out  # not a terminal: no colour
    assert err == ""


def test_get_outputs_the_workflow_object_as_json_or_yaml(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(state.root)
    _, out, _ = run_cli(capsys, "get", "steps-abc", "--state-dir", root, "-o", "json")
    assert json.loads(out) == steps_workflow()
    _, out, _ = run_cli(capsys, "get", "steps-abc", "--state-dir", root, "-o", "yaml")
    assert yaml.safe_load(out) == steps_workflow()


def test_get_outputs_the_runs_metrics_in_the_prometheus_format(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "# HELP argo_workflows_m h\n# TYPE argo_workflows_m gauge\nargo_workflows_m 2.0\n"
    state.open("dag-xyz").write_metrics(text)
    root = str(state.root)
    code, out, err = run_cli(capsys, "get", "dag-xyz", "--state-dir", root, "-o", "metrics")
    assert (code, out, err) == (0, text, "")
    # a run that emitted no metrics prints none
    code, out, err = run_cli(capsys, "get", "steps-abc", "--state-dir", root, "-o", "metrics")
    assert (code, out, err) == (0, "", "")


def test_get_of_a_run_whose_process_died_says_so(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "get", "steps-abc", "--state-dir", str(state.root))
    assert code == 0
    assert "the process that ran steps-abc" in err and "is gone" in err


def test_get_of_an_unknown_workflow_names_the_known_ones(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "get", "nope", "--state-dir", str(state.root))
    assert code == 64
    assert out == ""
    assert "no workflow named 'nope'" in err
    assert "(known: approval-k, steps-abc, dag-xyz)" in err


# --- logs -----------------------------------------------------------------------------------


def test_logs_of_every_pod_are_prefixed_and_in_start_order(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "logs", "steps-abc", "--state-dir", str(state.root))
    assert code == 0
    assert out == ("hello1: hello from 1\nhello2a: a one\nhello2a: a two\nhello2b: b failed\n")


def test_logs_of_a_container_no_pod_has_name_the_containers_there_are(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(state.root)
    code, out, err = run_cli(capsys, "logs", "steps-abc", "-c", "nosuchctr", "--state-dir", root)
    assert (code, out) == (64, "")
    assert "no pod of workflow 'steps-abc' has a container 'nosuchctr'" in err
    assert "(containers with logs: main, wait)" in err
    # a container only some pods have is not an error: those pods' logs are printed
    code, out, _ = run_cli(capsys, "logs", "steps-abc", "-c", "wait", "--state-dir", root)
    assert (code, out) == (0, "hello2b: wait says hi\n")
    # nothing logged yet anywhere: nothing to print, and nothing to say it is wrong
    code, out, err = run_cli(capsys, "logs", "approval-k", "-c", "nosuchctr", "--state-dir", root)
    assert (code, out, err) == (0, "", "")


def test_logs_of_one_node_by_display_name_name_or_id(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(state.root)
    node = find_nodes(steps_workflow(), "hello2a")[0]
    for ref in ("hello2a", node["name"], node["id"]):
        assert run_cli(capsys, "logs", "steps-abc", "--node", ref, "--state-dir", root) == (
            0, "a one\na two\n", "",
        )  # fmt: skip
    code, out, _ = run_cli(
        capsys, "logs", "steps-abc", "--node", "hello2b", "-c", "wait", "--state-dir", root
    )
    assert (code, out) == (0, "wait says hi\n")


def test_logs_of_a_node_without_a_pod_or_a_log_are_clear_errors(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(state.root)
    code, _, err = run_cli(capsys, "logs", "steps-abc", "--node", "steps-abc", "--state-dir", root)
    assert code == 64
    assert "is a Steps node and has no pod" in err
    code, _, err = run_cli(capsys, "logs", "steps-abc", "--node", "loop(0:a)", "--state-dir", root)
    assert code == 64
    assert "no log of container 'main' for node 'loop(0:a)'" in err
    assert "(containers with logs: none)" in err
    code, _, err = run_cli(
        capsys, "logs", "steps-abc", "--node", "hello2b", "-c", "init", "--state-dir", root
    )
    assert "(containers with logs: main, wait)" in err
    code, _, err = run_cli(capsys, "logs", "steps-abc", "--node", "ghost", "--state-dir", root)
    assert code == 64
    assert "workflow 'steps-abc' has no node 'ghost'" in err


# --- resume and stop ------------------------------------------------------------------------


def _stored_node(state: StateStore, workflow: str, display: str) -> dict[str, Any]:
    nodes = state.open(workflow).read_workflow()["status"]["nodes"].values()
    return next(n for n in nodes if n.get("displayName") == display)


def test_resume_of_a_suspended_node_marks_it_succeeded_in_the_stored_workflow(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(state.root)
    code, out, _ = run_cli(capsys, "resume", "approval-k", "--node", "approve", "--state-dir", root)
    assert (code, out) == (0, "workflow approval-k resumed\n")
    node = _stored_node(state, "approval-k", "approve")
    assert node["phase"] == "Succeeded" and node["finishedAt"]


def test_resume_without_a_node_resumes_everything(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "resume", "approval-k", "--state-dir", str(state.root))[0] == 0
    nodes = state.open("approval-k").read_workflow()["status"]["nodes"].values()
    assert all(n["phase"] != "Running" for n in nodes if n["type"] == "Suspend")


def test_resume_with_values_sets_them_on_the_node_then_resumes_it(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["resume", "approval-k", "--node", "approve", "-p", "answer=yes", "-p", "by=me=too"]
    assert run_cli(capsys, *argv, "--state-dir", str(state.root))[0] == 0
    node = _stored_node(state, "approval-k", "approve")
    values = {p["name"]: p.get("value") for p in node["outputs"]["parameters"]}
    assert values == {"answer": "yes", "by": "me=too"}
    assert node["phase"] == "Succeeded"
    code, _, err = run_cli(capsys, "resume", "approval-k", "-p", "novalue", "--state-dir", "x")
    assert code == 2
    assert "-p 'novalue': expected NAME=VALUE" in err


@pytest.mark.parametrize("node", [["--node", "approve"], []])
def test_resume_refuses_a_value_the_node_does_not_expect_and_changes_nothing(
    state: StateStore, capsys: pytest.CaptureFixture[str], node: list[str]
) -> None:
    before = state.open("approval-k").read_workflow()
    argv = ["resume", "approval-k", *node, "-p", "answer=yes", "-p", "nosuch=1"]
    code, out, err = run_cli(capsys, *argv, "--state-dir", str(state.root))
    assert (code, out) == (2, "")
    assert "node is not expecting output parameter 'nosuch'" in err  # Argo's words
    assert "suspended node 'approve' of workflow 'approval-k' expects answer, by" in err
    assert state.open("approval-k").read_workflow() == before


def test_resume_with_values_but_no_suspended_node_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = StateStore(tmp_path)
    run = store.create("steps-live")
    wf = steps_workflow()
    wf["status"]["phase"] = "Running"
    run.write_workflow(wf)
    run.mark_owner(os.getpid())
    code, _, err = run_cli(
        capsys, "resume", "steps-live", "-p", "a=1", "--state-dir", str(tmp_path)
    )
    assert code == 2
    assert "workflow 'steps-live' has no suspended node to take -p a" in err
    assert run.read_workflow() == wf


def test_resume_of_a_node_that_is_not_suspended_is_refused(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    before = state.open("approval-k").read_workflow()
    code, _, err = run_cli(
        capsys, "resume", "approval-k", "--node", "approval-k", "--state-dir", str(state.root)
    )
    assert code == 64
    assert "node 'approval-k' of workflow 'approval-k' is not suspended (Steps, Running)" in err
    assert state.open("approval-k").read_workflow() == before


_STOPPER = """
import sys
from argoexec.cli import main
sys.exit(main(["stop", "approval-k", "--message", "enough", "--state-dir", sys.argv[1]]))
"""


def test_stop_from_another_process_changes_the_running_workflow(state: StateStore) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _STOPPER, str(state.root)],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "workflow approval-k stopped\n"
    assert state.open("approval-k").read_workflow()["spec"]["shutdown"] == "Stop"


@pytest.mark.parametrize("command", ["stop", "resume"])
def test_stop_and_resume_refuse_a_run_that_is_not_running(
    state: StateStore, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    root = str(state.root)
    code, _, err = run_cli(capsys, command, "dag-xyz", "--state-dir", root)
    assert code == 64
    assert "workflow 'dag-xyz' is not running: it has finished (Failed)" in err
    code, _, err = run_cli(capsys, command, "steps-abc", "--state-dir", root)
    assert code == 0, err
    if command == "resume":  # changed; a controller goes on with it (nobody drives it now)
        assert "no controller drives workflow steps-abc" in err
    else:  # a run of an older argoexec whose process is gone is finished by the stop itself
        assert state.open("steps-abc").read_workflow()["status"]["phase"] == "Failed"


def test_delete_removes_a_finished_run_and_refuses_one_a_process_drives(
    state: StateStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "delete", "dag-xyz", "--state-dir", str(state.root))
    assert (code, out) == (0, "workflow dag-xyz deleted\n")
    assert not (state.root / "dag-xyz").exists()
    assert [r.name for r in state.runs()] == ["approval-k", "steps-abc"]
    code, _, err = run_cli(capsys, "delete", "approval-k", "--state-dir", str(state.root))
    assert code == 64
    assert "workflow 'approval-k' is being driven by a live process" in err
    assert (state.root / "approval-k").is_dir()
    code, _, err = run_cli(capsys, "delete", "dag-xyz", "--state-dir", str(state.root))
    assert code == 64 and "no workflow named 'dag-xyz'" in err


def test_the_local_commands_never_import_the_kubernetes_client(state: StateStore) -> None:
    code = (
        "import sys; from argoexec.cli import main; "
        f"main(['list', '--state-dir', {str(state.root)!r}]); "
        f"main(['get', 'dag-xyz', '--state-dir', {str(state.root)!r}]); "
        "print(sorted(m for m in sys.modules if m.startswith(('kubernetes', "
        "'argoexec.controller.cluster'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
