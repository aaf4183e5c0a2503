"""The local pod backend: pods run under supervisors of their own and outlive the controller
that created them; any controller process on the same root observes, signals and deletes them.
Real sandboxed pods (bubblewrap); the creating or signalling side runs in another process where
that is the point."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller.loop.local_pods import SUPERVISOR_LOST, LocalPods
from argoexec.controller.loop.podfiles import Listener, Manifest, PodFiles, ring
from argoexec.controller.loop.podhost import FORK, SPAWN, RuntimeSettings, write_pod
from argoexec.controller.loop.seams import PodObservation
from argoexec.controller.processes import kill_session, pid_alive, same_process
from argoexec.controller.sandbox import find_bubblewrap
from tests.controller.runtime_pods import EXECUTOR_IMAGE, argo_pod, plain_pod
from tests.servers.procs import require, wait_until

WORKFLOW = "wf"
SETTINGS = RuntimeSettings(executor_image=EXECUTOR_IMAGE)
TIMEOUT = 120.0

_CREATE = """
import json, sys, time
from pathlib import Path
from argoexec.controller.loop.local_pods import LocalPods
from argoexec.controller.loop.podhost import RuntimeSettings, start_method
pods = LocalPods(Path(sys.argv[1]), settings=RuntimeSettings(executor_image=sys.argv[2]))
pods.create(json.loads(sys.stdin.readline()), {})
print("created", start_method(), flush=True)
time.sleep(600)
"""
# A supervisor in its last moments: it holds the pod's lock (having looked for a deletion and
# found none) until it exits, without cleaning anything up.
_EXITING = """
import os, sys, time
from pathlib import Path
from argoexec.controller.loop.podfiles import PodFiles
files = PodFiles(Path(sys.argv[1]))
files.lock(wait=True)
files.record_supervisor(os.getpid())
files.exiting.touch()
print("exiting", flush=True)
sys.stdin.readline()
"""
_SIGNAL = """
import sys
from pathlib import Path
from argoexec.controller.loop.local_pods import LocalPods
LocalPods(Path(sys.argv[1])).signal(sys.argv[2], sys.argv[3], int(sys.argv[4]))
"""


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    root = tmp_path / "pods"
    yield root
    # A failed test must not leave supervisors (and their sandboxes) behind.
    for pod in root.iterdir() if root.is_dir() else []:
        files = PodFiles(pod / "supervisor")
        supervisor = files.supervisor()
        if supervisor is not None and same_process(*supervisor):
            os.kill(supervisor[0], signal.SIGKILL)
        for line in (p.read_text() for p in (pod / "processes").glob("*")):
            words = line.split()
            if words:
                kill_session(int(words[0]), words[1] if len(words) > 1 else None)


def backend(root: Path, **options: Any) -> LocalPods:
    return LocalPods(root, **{"settings": SETTINGS, **options})


def labelled(pod: dict[str, Any], node_id: str) -> dict[str, Any]:
    meta = pod["metadata"]
    meta["labels"] = {"workflows.argoproj.io/workflow": WORKFLOW}
    meta["annotations"] = {
        "workflows.argoproj.io/node-id": node_id,
        "workflows.argoproj.io/node-name": f"{WORKFLOW}.{node_id}",
    }
    return pod


def argo(pods: LocalPods, name: str, script: str) -> dict[str, Any]:
    """Argo's pod (init, wait, emissary-run main) as the backend runs it: its result channel
    comes from `adapt`, not from the test helper's own volume."""
    pod = labelled(argo_pod(name, script), name)
    spec = pod["spec"]
    spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "result"]
    wait = spec["containers"][0]
    wait["volumeMounts"] = [m for m in wait["volumeMounts"] if m["name"] != "result"]
    wait["env"] = [e for e in wait["env"] if e["name"] != "ARGOEXEC_RESULT_FILE"]
    return pods.adapt(pod)


def gated(pod: dict[str, Any], gate: Path, container: str = "main") -> dict[str, Any]:
    """Mount ``gate`` (a host directory) at /gate in ``container``."""
    gate.mkdir(exist_ok=True)
    pod["spec"].setdefault("volumes", []).append({"name": "gate", "hostPath": {"path": str(gate)}})
    for ctr in pod["spec"]["containers"]:
        if ctr["name"] == container:
            ctr.setdefault("volumeMounts", []).append({"name": "gate", "mountPath": "/gate"})
    return pod


def observed(
    pods: LocalPods, node_id: str, check: Callable[[PodObservation], bool], what: str
) -> PodObservation:
    """The pod's observation once ``check`` holds, waiting on the backend's changes."""
    found: list[PodObservation] = []

    def holds() -> bool:
        current = pods.observe(WORKFLOW).get(node_id)
        if current is not None and check(current):
            found.append(current)
            return True
        pods.wait(1.0)
        return False

    wait_until(holds, timeout=TIMEOUT, what=what)
    return found[0]


def finished(pods: LocalPods, node_id: str) -> PodObservation:
    return observed(pods, node_id, lambda o: o.completed, f"pod {node_id} to finish")


def running(pods: LocalPods, node_id: str, container: str = "main") -> PodObservation:
    return observed(
        pods,
        node_id,
        lambda o: o.status.container(container).running,
        f"{container} of {node_id} to run",
    )


def supervisor_of(root: Path, pod: str) -> tuple[int, str | None]:
    found = PodFiles(root / pod / "supervisor").supervisor()
    assert found is not None
    return found


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rfind(")") + 2 :].split()[1])


# --- across controllers ------------------------------------------------------------------------


def test_a_pod_created_by_one_backend_is_observed_to_finish_by_another(root: Path) -> None:
    first = backend(root)
    first.create(argo(first, "wf-hello", "echo hello"), {})
    pid, _ = supervisor_of(root, "wf-hello")
    # Detached: neither this process's child nor in its session.
    assert pid != os.getpid() and parent_of(pid) != os.getpid()
    assert os.getsid(pid) != os.getsid(0)
    assert Path(f"/proc/{pid}/comm").read_text() == "argoexec-pod\n"

    second = backend(root)
    seen = finished(second, "wf-hello")

    assert seen.pod_name == "wf-hello" and seen.node_id == "wf-hello"
    assert seen.status.phase == "Succeeded", second.logs("wf-hello", "wait")
    assert [c.exit_code for c in seen.status.containers] == [0, 0]
    assert seen.status.container("init").exit_code == 0
    assert seen.result is not None and seen.result.outputs is not None
    assert seen.result.outputs.result == "hello"
    assert seen.result_error == ""
    assert second.observe("other-workflow") == {}
    assert first.observe(WORKFLOW)["wf-hello"] == seen


def test_a_pod_finishes_after_the_process_that_created_it_was_killed(
    root: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    pods = backend(root)
    script = "until [ -f /gate/open ]; do sleep 0.1; done; echo on"
    pod = gated(argo(pods, "wf-orphan", script), gate)
    creator = subprocess.Popen(
        [sys.executable, "-c", _CREATE, str(root), EXECUTOR_IMAGE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert creator.stdin is not None and creator.stdout is not None
        creator.stdin.write(json.dumps(pod) + "\n")
        creator.stdin.flush()
        assert creator.stdout.readline().split() == ["created", FORK]
        running(pods, "wf-orphan")
    finally:
        creator.kill()  # SIGKILL: no chance to clean anything up
        creator.wait(timeout=TIMEOUT)

    assert not pods.observe(WORKFLOW)["wf-orphan"].completed  # still running without it
    assert same_process(*supervisor_of(root, "wf-orphan"))
    (gate / "open").touch()
    seen = finished(pods, "wf-orphan")

    assert seen.status.phase == "Succeeded", pods.logs("wf-orphan", "wait")
    assert seen.result is not None and seen.result.outputs is not None
    assert seen.result.outputs.result == "on"


def test_creating_a_pod_twice_starts_it_once(root: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    pods = backend(root)
    pod = gated(labelled(plain_pod("p-once", {"main": "echo ran >> /gate/runs"}), "p-once"), runs)
    pods.create(pod, {})
    supervisor = supervisor_of(root, "p-once")
    pods.create(pod, {})
    changed = labelled(plain_pod("p-once", {"main": "echo other >> /gate/runs"}), "p-once")
    backend(root).create(gated(changed, runs), {})

    assert finished(pods, "p-once").status.phase == "Succeeded"
    assert supervisor_of(root, "p-once") == supervisor
    assert (runs / "runs").read_text() == "ran\n"


def claimed_not_started(root: Path, pod: dict[str, Any]) -> PodFiles:
    """The pod as a creator killed between writing it and starting its supervisor left it."""
    name = pod["metadata"]["name"]
    files = PodFiles(root / name / "supervisor")
    files.root.mkdir(parents=True)
    write_pod(files, pod, {})
    assert files.claim(Manifest(name, WORKFLOW, name, f"{WORKFLOW}.{name}", time.time()))
    return files


def test_a_pod_whose_creator_died_before_starting_it_is_started_once_by_an_observer(
    root: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    pod = gated(labelled(plain_pod("p-adopt", {"main": "echo ran >> /gate/runs"}), "p-adopt"), runs)
    claimed_not_started(root, pod)
    first, second = backend(root), backend(root)

    first.observe(WORKFLOW)
    second.observe(WORKFLOW)
    supervisor = supervisor_of(root, "p-adopt")

    assert finished(second, "p-adopt").status.phase == "Succeeded"
    assert finished(first, "p-adopt").status.phase == "Succeeded"
    assert supervisor_of(root, "p-adopt") == supervisor
    assert (runs / "runs").read_text() == "ran\n"


def test_a_pod_whose_creator_still_starts_it_is_left_to_its_creator(root: Path) -> None:
    files = claimed_not_started(root, labelled(plain_pod("p-busy", {"main": "true"}), "p-busy"))
    lock = files.lock(wait=False)  # the creator's, while it starts the supervisor
    assert lock is not None
    try:
        seen = backend(root).observe(WORKFLOW)["p-busy"]
        assert (seen.completed, files.supervisor()) == (False, None)
    finally:
        os.close(lock)
    assert finished(backend(root), "p-busy").status.phase == "Succeeded"


def test_a_spawned_supervisor_runs_the_pod_as_a_forked_one_does(root: Path) -> None:
    # What a controller with threads gets (fork is for one-thread processes; the creator of
    # the orphaned pod above forks).
    pods = backend(root, start_method=SPAWN)
    pods.create(labelled(plain_pod("p-spawn", {"main": "echo $HOSTNAME"}), "p-spawn"), {})
    pid, _ = supervisor_of(root, "p-spawn")
    assert parent_of(pid) != os.getpid() and os.getsid(pid) != os.getsid(0)

    seen = finished(pods, "p-spawn")

    assert seen.status.phase == "Succeeded", (root / "p-spawn" / "supervisor" / "log").read_text()
    assert pods.logs("p-spawn", "main") == "p-spawn\n"


# --- signal, delete, loss ----------------------------------------------------------------------


def test_a_signal_from_another_process_reaches_the_emissary_in_the_container(root: Path) -> None:
    pods = backend(root)
    pods.create(argo(pods, "wf-kill", "echo started; sleep 60"), {})
    stdout = pods.runtime.volume_path("wf-kill", "var-run-argo") / "ctr" / "main" / "stdout"
    wait_until(
        lambda: stdout.exists() and "started" in stdout.read_text(),
        timeout=TIMEOUT,
        what="main to start its command",
    )

    subprocess.run(
        [sys.executable, "-c", _SIGNAL, str(root), "wf-kill", "main", "15"],
        check=True,
        timeout=TIMEOUT,
    )
    seen = finished(pods, "wf-kill")

    assert seen.status.phase == "Failed"
    assert seen.status.container("main").exit_code == 143
    assert seen.status.container("wait").exit_code == 0
    assert seen.result is not None and seen.result.outputs is not None
    assert seen.result.outputs.result == "started"
    log = (root / "wf-kill" / "supervisor" / "log").read_text()
    assert "/var/run/argo/argoexec kill 15 1 in main" in log


def test_a_burst_of_signals_to_a_supervisor_leaves_it_working(root: Path, tmp_path: Path) -> None:
    # Signal handlers interrupt the supervisor anywhere, one another too: one that took a lock
    # (an Event's) could wait for itself forever, and the pod would never end.
    gate = tmp_path / "gate"
    pods = backend(root)
    script = "until [ -f /gate/open ]; do sleep 0.1; done; echo on"
    pods.create(gated(argo(pods, "wf-burst", script), gate), {})
    running(pods, "wf-burst")
    pid, _ = supervisor_of(root, "wf-burst")
    for _ in range(100_000):
        os.kill(pid, signal.SIGUSR1)

    (gate / "open").touch()
    seen = finished(pods, "wf-burst")

    assert seen.status.phase == "Succeeded"
    pods.delete("wf-burst")  # SIGTERM, handled the same way
    wait_until(lambda: not same_process(pid, None), TIMEOUT, "its supervisor to end")
    assert sorted(p.name for p in (root / "wf-burst").iterdir()) == ["logs"]


def test_signalling_a_pod_that_has_ended_does_nothing(root: Path) -> None:
    pods = backend(root)
    pods.create(labelled(plain_pod("p-ended", {"main": "true"}), "p-ended"), {})
    finished(pods, "p-ended")

    pods.signal("p-ended", "main", 15)
    pods.signal("p-absent", "main", 15)

    assert not (root / "p-ended" / "supervisor" / "requests").exists()


def test_delete_terminates_a_running_pod_and_removes_all_but_its_logs(root: Path) -> None:
    pods = backend(root)
    script = "trap 'echo bye; exit 0' TERM; echo up; while true; do sleep 0.1; done"
    pod = labelled(plain_pod("p-del", {"main": script}), "p-del")
    pods.create(pod, {})
    running(pods, "p-del")
    supervisor = supervisor_of(root, "p-del")

    pods.delete("p-del")

    assert "p-del" not in pods.observe(WORKFLOW)
    wait_until(
        lambda: sorted(p.name for p in (root / "p-del").iterdir()) == ["logs"],
        timeout=TIMEOUT,
        what="the deleted pod's files to be removed",
    )
    wait_until(lambda: not same_process(*supervisor), timeout=TIMEOUT, what="its supervisor to end")
    assert pods.logs("p-del", "main") == "up\nbye\n"  # SIGTERM, not SIGKILL
    pods.delete("p-del")  # again: nothing left to do
    assert "p-del" not in backend(root).observe(WORKFLOW)

    # The name is free again: a new pod of that name runs.
    pods.create(labelled(plain_pod("p-del", {"main": "echo again"}), "p-del"), {})
    assert finished(pods, "p-del").status.phase == "Succeeded"
    assert pods.logs("p-del", "main") == "again\n"


def test_deleting_a_finished_pod_removes_all_but_its_logs_at_once(root: Path) -> None:
    pods = backend(root)
    pods.create(labelled(plain_pod("p-done", {"main": "echo done"}), "p-done"), {})
    finished(pods, "p-done")
    wait_until(
        lambda: not same_process(*supervisor_of(root, "p-done")),
        timeout=TIMEOUT,
        what="the supervisor to end",
    )

    pods.delete("p-done")

    assert sorted(p.name for p in (root / "p-done").iterdir()) == ["logs"]
    assert pods.observe(WORKFLOW) == {}


def waits_for(lock: Path) -> bool:
    """Whether a process waits for the flock on ``lock`` (/proc/locks: "-> FLOCK ... dev:ino")."""
    inode = f":{lock.stat().st_ino}"
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 6 and fields[1] == "->" and fields[6].endswith(inode):
            return True
    return False


def test_a_pod_deleted_while_its_supervisor_exits_is_cleaned_up_once_it_is_gone(
    root: Path,
) -> None:
    pods = backend(root)
    pods.create(labelled(plain_pod("p-late", {"main": "echo done"}), "p-late"), {})
    finished(pods, "p-late")
    files = PodFiles(root / "p-late" / "supervisor")
    wait_until(lambda: not same_process(*supervisor_of(root, "p-late")), TIMEOUT, "its end")
    # As if the supervisor were still exiting, past its last look for a deletion.
    exiting = subprocess.Popen(
        [sys.executable, "-c", _EXITING, str(files.root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert exiting.stdin is not None and exiting.stdout is not None
        assert exiting.stdout.readline() == "exiting\n"
        deleting = threading.Thread(target=pods.delete, args=("p-late",))
        deleting.start()
        wait_until(lambda: waits_for(files.lock_file), TIMEOUT, "delete to wait for the lock")
        exiting.stdin.write("\n")  # it exits
        exiting.stdin.flush()
        deleting.join(TIMEOUT)
        assert not deleting.is_alive()
    finally:
        exiting.kill()
        exiting.wait(timeout=TIMEOUT)

    assert exiting.returncode == 0  # it was not sent SIGTERM: its exit was waited for
    assert sorted(p.name for p in (root / "p-late").iterdir()) == ["logs"]


def test_a_pod_whose_supervisor_was_killed_is_observed_failed_and_says_why(root: Path) -> None:
    pods = backend(root)
    pods.create(labelled(plain_pod("p-lost", {"main": "sleep 60"}), "p-lost"), {})
    running(pods, "p-lost")
    pid, _ = supervisor_of(root, "p-lost")
    [container] = [int(p.read_text().split()[0]) for p in (root / "p-lost" / "processes").iterdir()]

    pods.wait(0)  # what was said so far
    pods.observe(WORKFLOW)
    assert not pods.wait(0)

    os.kill(pid, signal.SIGKILL)
    assert pods.wait(TIMEOUT)  # no supervisor says so: the backend notices by itself
    seen = finished(pods, "p-lost")

    assert seen.status.phase == "Failed"
    assert seen.status.reason == SUPERVISOR_LOST
    assert seen.status.message == (
        f"the pod's supervisor (pid {pid}) is gone: it was killed, or the machine restarted, "
        "before the pod ended; its containers were stopped"
    )
    assert seen.status.container("main").exit_code == 137
    wait_until(lambda: not pid_alive(container), timeout=TIMEOUT, what="the container to end")
    assert backend(root).observe(WORKFLOW)["p-lost"].status.message == seen.status.message


def test_a_main_container_that_ends_without_its_exit_code_stops_the_pod(root: Path) -> None:
    pods = backend(root)
    pod = argo(pods, "wf-lost-main", "true")
    main = pod["spec"]["containers"][1]
    main["command"], main["args"] = ["sh", "-c", "echo no emissary >&2; exit 3"], []

    pods.create(pod, {})
    seen = finished(pods, "wf-lost-main")

    assert seen.status.phase == "Failed"
    assert "main: Error (exit code 3)" in seen.status.message
    assert seen.status.container("wait").terminated


def test_unsandboxed_containers_are_signalled_and_stopped_when_their_supervisor_is_lost(
    root: Path,
) -> None:
    # Unsandboxed, a container is a session of its own on the host: it does not die with its
    # supervisor, the backend ends it when it finds the supervisor gone.
    pods = backend(root, settings=RuntimeSettings(sandbox=False))
    trapped = "trap 'exit 7' TERM; while true; do sleep 0.1; done"
    pods.create(labelled(plain_pod("p-host-sig", {"main": trapped}), "p-host-sig"), {})
    pods.create(labelled(plain_pod("p-host-lost", {"main": "sleep 600"}), "p-host-lost"), {})
    running(pods, "p-host-sig")
    running(pods, "p-host-lost")

    pods.signal("p-host-sig", "main", 15)
    [container] = [
        int(p.read_text().split()[0]) for p in (root / "p-host-lost" / "processes").iterdir()
    ]
    os.kill(supervisor_of(root, "p-host-lost")[0], signal.SIGKILL)

    assert finished(pods, "p-host-sig").status.container("main").exit_code == 7
    lost = finished(pods, "p-host-lost")
    assert (lost.status.phase, lost.status.reason) == ("Failed", SUPERVISOR_LOST)
    wait_until(lambda: not pid_alive(container), timeout=TIMEOUT, what="the container to end")


# --- results -----------------------------------------------------------------------------------


def reporting(name: str, script: str) -> dict[str, Any]:
    """A pod without `wait`: its main reports (as a resource template's does)."""
    return labelled(plain_pod(name, {"main": script}, volumes=[]), name)


def test_the_reported_result_is_observed_once_the_pod_ended(root: Path) -> None:
    pods = backend(root)
    document = {"phase": "Succeeded", "outputs": {"result": "42", "parameters": []}}
    script = f"echo '{json.dumps(document)}' > $ARGOEXEC_RESULT_FILE"
    pods.create(pods.adapt(reporting("p-res", script)), {})

    seen = finished(pods, "p-res")

    assert seen.result is not None and seen.result.outputs is not None
    assert (seen.result.phase, seen.result.outputs.result) == ("Succeeded", "42")
    assert seen.result_error == ""


def test_a_result_larger_than_allowed_is_an_error_of_the_observation(root: Path) -> None:
    pods = backend(root, max_parameters_bytes=10)
    script = "head -c 3000000 /dev/zero > $ARGOEXEC_RESULT_FILE"
    pod = pods.adapt(reporting("p-big", script))
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["ARGOEXEC_MAX_OUTPUT_PARAMETERS_BYTES"] == "10"
    pods.create(pod, {})

    seen = finished(pods, "p-big")

    assert seen.status.phase == "Succeeded"
    assert seen.result is None
    assert seen.result_error.startswith("the executor's result is larger than 1310730 bytes")


# --- waiting for changes -----------------------------------------------------------------------


def test_wait_wakes_when_a_supervisor_records_a_change(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = tmp_path / "gate"
    pods = backend(root)
    script = "until [ -f /gate/open ]; do sleep 0.1; done"
    pods.create(gated(labelled(plain_pod("p-ring", {"main": script}), "p-ring"), gate), {})
    running(pods, "p-ring")
    while pods.wait(0.2):  # the ring of the status just read may still be on its way
        pass
    # Only the FIFO can tell now: the backend does not look at the pod's files by itself.
    monkeypatch.setattr(pods, "_changed_unannounced", lambda: False)

    (gate / "open").touch()

    assert pods.wait(TIMEOUT)
    assert pods.observe(WORKFLOW)["p-ring"].status.container("main").terminated


def test_a_ring_wakes_the_listener_and_is_consumed(tmp_path: Path) -> None:
    ring(tmp_path)  # nobody listens yet: nothing happens
    listener = Listener(tmp_path)
    try:
        assert not listener.wait(0)
        ring(tmp_path)
        ring(tmp_path)
        assert listener.wait(TIMEOUT)
        assert not listener.wait(0)
    finally:
        listener.close()
    ring(tmp_path)  # the listener is gone again
