"""The state directory as a WorkflowStore: resourceVersions, conflicts, ordering, atomic
writes, cheap change tokens and wake-ups."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller.loop.local import RUN_FILE, LocalController, RunLock
from argoexec.controller.loop.seams import AlreadyExistsError, ConflictError, NotFoundError
from argoexec.controller.loop.state_store import DirectoryStore
from argoexec.controller.state import StateError, StateStore
from tests.tmpfs import fill, tmpfs

REPO = Path(__file__).resolve().parents[2]


def workflow(name: str = "hello", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "labels": {"team": "a"}},
        "spec": {"entrypoint": "main", **spec},
    }


# --- create / get ---------------------------------------------------------------------------


def test_a_created_workflow_reads_back_with_version_1_a_uid_and_a_creation_time(
    tmp_path: Path,
) -> None:
    store = DirectoryStore(tmp_path)
    created = store.create(workflow())
    meta = created["metadata"]
    assert meta["resourceVersion"] == "1"
    assert len(meta["uid"]) == 36 and meta["creationTimestamp"].endswith("Z")
    assert store.get("hello") == created
    assert created["spec"] == {"entrypoint": "main"}
    # The run directory is the old engine's layout: the CLI's list/get see it.
    assert StateStore(tmp_path).open("hello").read_workflow() == created


def test_create_keeps_a_given_uid_and_does_not_change_its_argument(tmp_path: Path) -> None:
    given = workflow()
    given["metadata"]["uid"] = "u-1"
    before = copy.deepcopy(given)
    created = DirectoryStore(tmp_path).create(given)
    assert created["metadata"]["uid"] == "u-1"
    assert given == before


def test_create_refuses_a_name_that_is_taken(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    store.create(workflow())
    with pytest.raises(AlreadyExistsError, match='workflow "hello" already exists'):
        store.create(workflow(entrypoint="other"))
    assert store.get("hello")["spec"] == {"entrypoint": "main"}


def test_a_taken_name_is_a_conflict_too(tmp_path: Path) -> None:
    # Callers that retry on ConflictError need not know the subclass.
    assert issubclass(AlreadyExistsError, ConflictError)


@pytest.mark.parametrize("name", ["Hello", "a/b", "..", "-x", "a_b", ".wake", "x" * 254])
def test_create_refuses_a_name_that_is_not_a_kubernetes_object_name(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(StateError, match="invalid workflow name"):
        DirectoryStore(tmp_path).create(workflow(name))
    assert not any(tmp_path.iterdir())


def test_create_refuses_an_object_that_already_has_a_resource_version(tmp_path: Path) -> None:
    wf = workflow()
    wf["metadata"]["resourceVersion"] = "7"
    with pytest.raises(StateError, match="resourceVersion should not be set"):
        DirectoryStore(tmp_path).create(wf)


def test_generate_name_gets_five_random_characters(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    wf = workflow()
    del wf["metadata"]["name"]
    wf["metadata"]["generateName"] = "hello-"
    names = {store.create(wf)["metadata"]["name"] for _ in range(3)}
    assert len(names) == 3
    for name in names:
        assert name.startswith("hello-") and len(name) == len("hello-") + 5
        assert store.get(name)["metadata"]["generateName"] == "hello-"


def test_files_created_with_a_workflow_are_there_when_it_is_listed(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    named = store.create(workflow("named"), files={"run.json": "{}\n"})
    generated = store.create({"metadata": {"generateName": "gen-"}}, files={"run.json": "[]\n"})

    for stored, text in ((named, "{}\n"), (generated, "[]\n")):
        assert (tmp_path / stored["metadata"]["name"] / "run.json").read_text() == text
    assert sorted(w["metadata"]["name"] for w in store.list()) == sorted(
        [named["metadata"]["name"], generated["metadata"]["name"]]
    )


def test_a_new_runs_lock_is_taken_before_any_controller_can_list_it(tmp_path: Path) -> None:
    # `argoexec run` takes the run's lock there: no `argoexec controller` claims it in between.
    store = DirectoryStore(tmp_path)
    seen: list[tuple[Path, list[str]]] = []

    def before_listed(path: Path) -> None:
        seen.append((path, [w["metadata"]["name"] for w in store.list()]))
        assert mine.take()

    mine = RunLock(tmp_path / "named")
    store.create(workflow("named"), files={RUN_FILE: "{}\n"}, before_listed=before_listed)
    assert seen == [(tmp_path / "named", [])]
    assert [w["metadata"]["name"] for w in store.list()] == ["named"]
    assert not LocalController(tmp_path).claim("named")  # held by `mine`
    mine.release()
    assert LocalController(tmp_path).claim("named")


def test_a_workflow_without_name_or_generate_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StateError, match=r"needs metadata\.name or metadata\.generateName"):
        DirectoryStore(tmp_path).create({"kind": "Workflow", "metadata": {}})


def test_get_of_an_unknown_or_invalid_name_is_not_found(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    for name in ("nope", "../etc", "UPPER"):
        with pytest.raises(NotFoundError, match=f'workflow "{name}" not found'):
            store.get(name)


# --- update ---------------------------------------------------------------------------------


def test_update_writes_the_next_version_and_returns_the_stored_object(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    wf = store.create(workflow())
    wf["spec"]["shutdown"] = "Stop"
    before = copy.deepcopy(wf)
    stored = store.update(wf)
    assert stored["metadata"]["resourceVersion"] == "2"
    assert stored["spec"]["shutdown"] == "Stop"
    assert wf == before  # the argument is not changed
    assert store.get("hello") == stored
    stored["status"] = {"phase": "Running"}
    assert store.update(stored)["metadata"]["resourceVersion"] == "3"


def test_an_update_from_a_stale_read_is_a_conflict_and_changes_nothing(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    first = store.create(workflow())
    second = copy.deepcopy(first)
    first["spec"]["suspend"] = True
    store.update(first)
    second["spec"]["shutdown"] = "Terminate"
    with pytest.raises(ConflictError, match=r"'hello' was modified \(resourceVersion 1, now 2\)"):
        store.update(second)
    now = store.get("hello")
    assert now["spec"] == {"entrypoint": "main", "suspend": True}
    assert now["metadata"]["resourceVersion"] == "2"


def test_update_keeps_the_stored_uid_and_creation_time(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    wf = store.create(workflow())
    uid, created = wf["metadata"]["uid"], wf["metadata"]["creationTimestamp"]
    wf["metadata"]["uid"] = "forged"
    del wf["metadata"]["creationTimestamp"]
    stored = store.update(wf)
    assert (stored["metadata"]["uid"], stored["metadata"]["creationTimestamp"]) == (uid, created)


def test_update_of_an_unknown_workflow_is_not_found(tmp_path: Path) -> None:
    wf = workflow("ghost")
    wf["metadata"]["resourceVersion"] = "1"
    with pytest.raises(NotFoundError, match='workflow "ghost" not found'):
        DirectoryStore(tmp_path).update(wf)


def test_update_needs_the_version_that_was_read(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    store.create(workflow())
    with pytest.raises(StateError, match=r"without metadata\.resourceVersion"):
        store.update(workflow())


def test_a_run_of_the_old_engine_reads_as_version_0_and_can_be_updated(tmp_path: Path) -> None:
    run = StateStore(tmp_path).create("old")
    run.write_workflow(workflow("old"))
    store = DirectoryStore(tmp_path)
    wf = store.get("old")
    assert wf["metadata"]["resourceVersion"] == "0"
    wf["spec"]["shutdown"] = "Stop"
    assert store.update(wf)["metadata"]["resourceVersion"] == "1"


def test_concurrent_updaters_of_one_version_exactly_one_wins(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    store.create(workflow())
    read = store.get("hello")
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def writer(i: int) -> None:
        mine = copy.deepcopy(read)
        mine["spec"]["writer"] = i
        barrier.wait()
        try:
            # Each its own store, as separate processes would be.
            DirectoryStore(tmp_path).update(mine)
            outcomes.append(f"won {i}")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(winners) == 1 and outcomes.count("conflict") == 7
    stored = store.get("hello")
    assert stored["metadata"]["resourceVersion"] == "2"
    assert winners[0] == f"won {stored['spec']['writer']}"


_INCREMENTER = """
import sys
from pathlib import Path
from argoexec.controller.loop.seams import ConflictError
from argoexec.controller.loop.state_store import DirectoryStore
store = DirectoryStore(Path(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    while True:
        wf = store.get("counter")
        wf["spec"]["count"] += 1
        try:
            store.update(wf)
            break
        except ConflictError:
            continue
"""


def test_processes_retrying_on_conflict_lose_no_update(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    store.create(workflow("counter", count=0))
    procs = [
        subprocess.Popen([sys.executable, "-c", _INCREMENTER, str(tmp_path), "25"], cwd=REPO)
        for _ in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    final = store.get("counter")
    assert final["spec"]["count"] == 75
    assert final["metadata"]["resourceVersion"] == "76"


def test_update_waits_for_another_writer_of_the_run(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    wf = store.create(workflow())
    run = StateStore(tmp_path).open("hello")
    held = threading.Event()

    def hold() -> None:
        with run.exclusive():
            held.set()
            time.sleep(0.2)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    started = time.monotonic()
    assert store.update(wf)["metadata"]["resourceVersion"] == "2"
    assert time.monotonic() - started >= 0.1
    holder.join()


def test_update_gives_up_when_the_run_stays_locked(tmp_path: Path) -> None:
    wf = DirectoryStore(tmp_path).create(workflow())
    with (
        StateStore(tmp_path).open("hello").exclusive(),
        pytest.raises(StateError, match="being changed by another process"),
    ):
        DirectoryStore(tmp_path, lock_wait=0.05).update(wf)


# --- Atomicity ------------------------------------------------------------------------------


def test_readers_never_see_a_half_written_workflow(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    big = workflow(payload="x" * 200_000)
    store.create(big)
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        reader = DirectoryStore(tmp_path)
        while not stop.is_set():
            try:
                wf = reader.get("hello")
                assert len(wf["spec"]["payload"]) == 200_000
                seen.append(int(wf["metadata"]["resourceVersion"]))
            except BaseException as exc:  # reported below
                errors.append(exc)
                return

    reader = threading.Thread(target=read)
    reader.start()
    wf = store.get("hello")
    for i in range(30):
        wf["spec"]["payload"] = str(i % 10) * 200_000
        wf = store.update(wf)
    stop.set()
    reader.join()
    assert errors == []
    assert seen and seen == sorted(seen)  # versions only move forward


def test_temporary_files_of_a_write_are_never_read_or_listed(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    store.create(workflow())
    run_dir = tmp_path / "hello"
    (run_dir / ".workflow.json.abc.tmp").write_text('{"half": ')
    assert store.get("hello")["metadata"]["resourceVersion"] == "1"
    assert [w["metadata"]["name"] for w in store.list()] == ["hello"]


def test_a_run_is_listed_only_once_its_workflow_is_recorded(tmp_path: Path) -> None:
    StateStore(tmp_path).create("starting")  # the old engine's run, before its first write
    store = DirectoryStore(tmp_path)
    assert store.list() == []
    assert store.versions() == {}
    with pytest.raises(NotFoundError, match="has not recorded its state yet"):
        store.get("starting")


def test_an_update_that_cannot_be_written_leaves_the_stored_version(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", size="512k") as small:
        store = DirectoryStore(small / "state")
        wf = store.create(workflow())
        filler = fill(small)
        wf["spec"]["payload"] = "x" * 100_000
        with pytest.raises(StateError, match="No space left on device"):
            store.update(wf)
        assert store.get("hello")["metadata"]["resourceVersion"] == "1"
        assert sorted(p.name for p in (small / "state" / "hello").iterdir()) == [
            "created", "pods", "workflow.json",
        ]  # fmt: skip
        filler.unlink()
        assert store.update(wf)["metadata"]["resourceVersion"] == "2"


# --- list -----------------------------------------------------------------------------------


def test_list_returns_every_workflow_oldest_first(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    for name in ("zeta", "alpha", "mid"):
        store.create(workflow(name))
    assert [w["metadata"]["name"] for w in store.list()] == ["zeta", "alpha", "mid"]
    assert DirectoryStore(tmp_path / "none").list() == []


def test_list_orders_runs_created_at_the_same_instant_by_name(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    for name in ("b", "a"):
        store.create(workflow(name))
        (tmp_path / name / "created").write_text("1000\n")
    assert [w["metadata"]["name"] for w in store.list()] == ["a", "b"]


def test_a_damaged_workflow_file_is_an_error_naming_it(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    store.create(workflow())
    (tmp_path / "hello" / "workflow.json").write_text("{not json")
    with pytest.raises(StateError, match=r"cannot read the state of workflow 'hello'"):
        store.list()


# --- Change tokens and wake-ups -------------------------------------------------------------


def test_the_version_token_moves_on_every_write_and_only_then(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    assert store.version("hello") is None
    wf = store.create(workflow())
    first = store.version("hello")
    assert first is not None
    store.get("hello")
    store.list()
    assert store.version("hello") == first
    store.update(wf)
    second = store.version("hello")
    assert second not in (None, first)
    store.create(workflow("other"))
    assert store.versions() == {"hello": second, "other": store.version("other")}


def test_the_token_sees_a_same_size_rewrite(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    wf = store.create(workflow(flag="a"))
    before = store.version("hello")
    wf["spec"]["flag"] = "b"  # same size, written within the same clock tick maybe
    store.update(wf)
    assert store.version("hello") != before


def test_wait_returns_when_another_store_writes(tmp_path: Path) -> None:
    watcher = DirectoryStore(tmp_path)
    watcher.subscribe()
    assert watcher.wait(0.01) is False
    writer = DirectoryStore(tmp_path)
    threading.Timer(0.1, lambda: writer.create(workflow())).start()
    started = time.monotonic()
    assert watcher.wait(10) is True
    assert time.monotonic() - started < 5
    assert watcher.wait(0.01) is False  # the wake-up was consumed
    watcher.close()


def test_a_write_between_subscribe_and_wait_is_not_lost(tmp_path: Path) -> None:
    watcher = DirectoryStore(tmp_path)
    watcher.subscribe()
    wf = DirectoryStore(tmp_path).create(workflow())
    DirectoryStore(tmp_path).update(wf)
    assert watcher.wait(0) is True
    assert watcher.wait(0) is False
    watcher.close()


def test_a_store_is_not_woken_by_its_own_writes(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    store.subscribe()
    store.create(workflow())
    assert store.wait(0.01) is False
    store.close()


def test_wake_ups_of_a_process_that_is_gone_are_removed(tmp_path: Path) -> None:
    wake = tmp_path / ".wake"
    wake.mkdir(parents=True)
    os.mkfifo(wake / "12345-dead")  # nobody reads it
    DirectoryStore(tmp_path).create(workflow())
    assert list(wake.iterdir()) == []
    assert [w["metadata"]["name"] for w in DirectoryStore(tmp_path).list()] == ["hello"]


def test_closing_a_store_removes_its_fifo(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    store.subscribe()
    assert len(list((tmp_path / ".wake").iterdir())) == 1
    store.close()
    assert list((tmp_path / ".wake").iterdir()) == []


def test_a_subscriber_in_another_process_is_woken(tmp_path: Path) -> None:
    script = (
        "import sys\nfrom pathlib import Path\n"
        "from argoexec.controller.loop.state_store import DirectoryStore\n"
        "s = DirectoryStore(Path(sys.argv[1])); s.subscribe(); print('ready', flush=True)\n"
        "print(s.wait(30), flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    DirectoryStore(tmp_path).create(workflow())
    assert proc.stdout.readline().strip() == "True"
    assert proc.wait(timeout=30) == 0
    json.dumps(DirectoryStore(tmp_path).list())  # still plain JSON
