"""The run state directory: runs, the Workflow file, the owner process and the requests other
processes leave for it."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from argoexec.config import controller_state_dir
from argoexec.controller.state import StateError, StateStore
from tests.tmpfs import fill, tmpfs

REPO = Path(__file__).resolve().parents[2]


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# --- Where the state lives ------------------------------------------------------------------


def test_the_state_dir_comes_from_argoexec_state_dir_then_xdg_then_home() -> None:
    env = {"HOME": "/home/u", "XDG_STATE_HOME": "/xdg", "ARGOEXEC_STATE_DIR": "/s"}
    assert controller_state_dir(env) == Path("/s")
    del env["ARGOEXEC_STATE_DIR"]
    assert controller_state_dir(env) == Path("/xdg/argoexec")
    env["XDG_STATE_HOME"] = "relative/not/allowed"
    assert controller_state_dir(env) == Path("/home/u/.local/state/argoexec")
    assert controller_state_dir({"HOME": "/h", "XDG_STATE_HOME": ""}) == Path(
        "/h/.local/state/argoexec"
    )


# --- Runs -----------------------------------------------------------------------------------


def test_a_created_run_can_be_opened_and_has_a_pods_dir(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    run = store.create("hello-abc")
    assert run.path == tmp_path / "state" / "hello-abc"
    assert run.pods_dir.is_dir()
    opened = store.open("hello-abc")
    assert (opened.name, opened.path) == (run.name, run.path)


def test_a_run_is_created_with_its_owner_or_not_at_all(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    run = store.create("hello-abc", owner=os.getpid())
    assert run.owner_pid() == os.getpid() and run.owner_alive()
    with tmpfs(tmp_path / "small", size="64k") as small:
        store = StateStore(small / "state")
        store.root.mkdir()
        fill(small)
        with pytest.raises(StateError) as failed:
            store.create("full-abc", owner=os.getpid())
        assert str(failed.value).startswith(
            f"cannot create the run directory {small}/state/full-abc"
        )
        assert str(failed.value).endswith("No space left on device")
        assert list(store.root.iterdir()) == []


def test_a_workflow_that_cannot_be_written_leaves_the_last_one_whole(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", size="64k") as small:
        run = StateStore(small / "state").create("wf-abc")
        run.write_workflow({"status": {"phase": "Running"}})
        filler = fill(small)
        with pytest.raises(
            StateError, match=r"cannot write .*/wf-abc/workflow.json: No space left"
        ):
            run.write_workflow({"status": {"phase": "Succeeded"}, "big": "x" * 100_000})
        assert run.read_workflow() == {"status": {"phase": "Running"}}
        assert sorted(p.name for p in run.path.iterdir()) == [
            "created", "pods", "workflow.json",
        ]  # fmt: skip
        filler.unlink()
        run.write_workflow({"status": {"phase": "Succeeded"}})
        assert run.read_workflow() == {"status": {"phase": "Succeeded"}}


def test_creating_a_run_twice_fails(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.create("hello-abc")
    with pytest.raises(StateError, match="a workflow named 'hello-abc' already exists"):
        store.create("hello-abc")


def test_opening_an_unknown_run_names_the_known_ones(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    with pytest.raises(StateError, match=r"no workflow named 'x' in .* \(known: none\)"):
        store.open("x")
    store.create("a")
    store.create("b")
    with pytest.raises(StateError, match=r"\(known: b, a\)"):
        store.open("x")


@pytest.mark.parametrize("name", ["..", "a/b", "Upper", "-lead", "", "a..b", "x" * 254])
def test_names_that_are_not_kubernetes_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(StateError, match="invalid workflow name"):
        StateStore(tmp_path / "s").create(name)
    assert not (tmp_path / "s").exists() or list((tmp_path / "s").iterdir()) == []


def test_runs_are_listed_newest_first_and_stray_directories_are_ignored(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    assert store.runs() == []
    for name in ("b-run", "a-run", "c-run"):
        store.create(name)
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "file").write_text("x")
    assert [r.name for r in store.runs()] == ["c-run", "a-run", "b-run"]


# --- The Workflow file ----------------------------------------------------------------------


def test_the_workflow_reads_back_as_written(tmp_path: Path) -> None:
    run = StateStore(tmp_path).create("wf")
    with pytest.raises(StateError, match="workflow 'wf' has no state yet"):
        run.read_workflow()
    workflow = {"metadata": {"name": "wf"}, "status": {"phase": "Running", "nodes": {}}}
    run.write_workflow(workflow)
    assert run.read_workflow() == workflow
    assert sorted(p.name for p in run.path.iterdir()) == [
        "created", "pods", "workflow.json",
    ]  # fmt: skip


def test_a_damaged_workflow_file_is_a_clear_error(tmp_path: Path) -> None:
    run = StateStore(tmp_path).create("wf")
    (run.path / "workflow.json").write_text('{"metadata": ')
    with pytest.raises(StateError, match="cannot read the state of workflow 'wf'"):
        run.read_workflow()
    (run.path / "workflow.json").write_text("[]")
    with pytest.raises(StateError, match="is not an object"):
        run.read_workflow()


def test_a_reader_never_sees_a_half_written_workflow(tmp_path: Path) -> None:
    run = StateStore(tmp_path).create("wf")
    run.write_workflow({"n": 0, "pad": ""})
    done = threading.Event()
    seen: list[int] = []

    def read() -> None:
        while not done.is_set():
            seen.append(run.read_workflow()["n"])  # raises on a partial file

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(1, 300):
            run.write_workflow({"n": n, "pad": "x" * (n * 97 % 20000)})
    finally:
        done.set()
        reader.join()
    assert seen == sorted(seen)
    assert run.read_workflow()["n"] == 299


# --- The owner process ----------------------------------------------------------------------


def test_the_owner_is_alive_while_its_process_is(tmp_path: Path) -> None:
    run = StateStore(tmp_path).create("wf")
    assert not run.owner_alive()  # never marked
    run.mark_owner(os.getpid())
    assert run.owner_alive()
    assert run.owner_pid() == os.getpid()


def test_the_owner_is_gone_once_its_process_has_exited(tmp_path: Path) -> None:
    run = StateStore(tmp_path).create("wf")
    pid = dead_pid()
    run.mark_owner(pid)
    assert not run.owner_alive()


def test_an_exited_but_unreaped_owner_counts_as_gone(tmp_path: Path) -> None:
    run = StateStore(tmp_path).create("wf")
    proc = subprocess.Popen(["true"])
    run.mark_owner(proc.pid)
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, still a zombie
    try:
        assert not run.owner_alive()
    finally:
        proc.wait()


def test_a_reused_pid_is_not_taken_for_the_owner(tmp_path: Path) -> None:
    if not Path(f"/proc/{os.getpid()}/stat").exists():
        pytest.skip("needs /proc")
    run = StateStore(tmp_path).create("wf")
    run.mark_owner(os.getpid())
    pid, ticks = (run.path / "owner").read_text().split()
    # The same pid, but a process that started at another time: not our owner.
    (run.path / "owner").write_text(f"{pid} {int(ticks) + 1}\n")
    assert not run.owner_alive()


# --- Requests -------------------------------------------------------------------------------
