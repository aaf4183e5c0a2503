"""The local runtime runs Argo-shaped pods as real sandboxed processes (bubblewrap)."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from argoexec.controller.runtime import LocalRuntime
from argoexec.controller.sandbox import find_bubblewrap
from argoexec.lifecycle import Stop
from tests.controller.runtime_pods import (
    EXECUTOR_IMAGE,
    Background,
    argo_pod,
    plain_pod,
    result_document,
)
from tests.servers.procs import require, wait_until


@pytest.fixture
def runtime(tmp_path: Path) -> LocalRuntime:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    return LocalRuntime(tmp_path / "pods", executor_image=EXECUTOR_IMAGE)


def test_a_container_template_pod_succeeds_and_wait_reports_the_result(
    runtime: LocalRuntime,
) -> None:
    result = runtime.run_pod(argo_pod("wf-step-1", "echo hello"))

    assert result.phase == "Succeeded", (result.to_k8s(), runtime.logs("wf-step-1", "wait"))
    status = result.to_k8s()
    assert [c["name"] for c in status["initContainerStatuses"]] == ["init"]
    assert [c["name"] for c in status["containerStatuses"]] == ["wait", "main"]
    main = status["containerStatuses"][1]["state"]["terminated"]
    assert main["exitCode"] == 0
    assert main["reason"] == "Completed"
    assert main["startedAt"] <= main["finishedAt"]
    doc = result_document(runtime, "wf-step-1")
    assert doc["outputs"]["result"] == "hello"
    assert doc["metadata"]["labels"]["workflows.argoproj.io/report-outputs-completed"] == "true"
    assert "hello" in runtime.logs("wf-step-1", "main")


def test_a_failing_main_fails_the_pod_with_its_exit_code_and_termination_message(
    runtime: LocalRuntime,
) -> None:
    script = "echo 'disk full' > /dev/termination-log; echo partial; exit 3"
    result = runtime.run_pod(argo_pod("wf-step-2", script))

    assert result.phase == "Failed"
    main = result.container("main")
    assert (main.exit_code, main.reason, main.message) == (3, "Error", "disk full\n")
    assert result.container("wait").exit_code == 0
    assert result_document(runtime, "wf-step-2")["outputs"]["result"] == "partial"


def test_a_failed_init_container_fails_the_pod_and_starts_no_container(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    marker.mkdir()
    pod = plain_pod(
        "p-init",
        {"main": "touch /marker/main-ran"},
        volumes=[{"name": "m", "hostPath": {"path": str(marker)}}],
        volumeMounts=[{"name": "m", "mountPath": "/marker"}],
    )
    pod["spec"]["initContainers"] = [
        {"name": "first", "image": "x", "command": ["sh", "-c", "touch /marker/first"]},
        {"name": "second", "image": "x", "command": ["sh", "-c", "echo no >&2; exit 7"]},
        {"name": "third", "image": "x", "command": ["sh", "-c", "touch /marker/third"]},
    ]
    for init in pod["spec"]["initContainers"]:
        init["volumeMounts"] = [{"name": "m", "mountPath": "/marker"}]

    result = runtime.run_pod(pod)

    assert result.phase == "Failed"
    assert sorted(p.name for p in marker.iterdir()) == ["first"]
    assert result.container("second").exit_code == 7
    states = {c["name"]: c["state"] for c in result.to_k8s()["containerStatuses"]}
    assert states == {"main": {"waiting": {"reason": "PodInitializing"}}}
    assert "no" in runtime.logs("p-init", "second")


def test_wait_is_started_during_init_but_only_let_go_once_init_succeeded(
    runtime: LocalRuntime,
) -> None:
    """The runtime starts ``argoexec wait`` ahead of time, held at its start gate while init
    runs: the pod must look and behave as if wait started after init (Kubernetes' order)."""
    pod = argo_pod("wf-step-gate", "echo gated")
    slow = {"name": "slow", "image": "x", "command": ["sh", "-c", "sleep 1"]}
    pod["spec"]["initContainers"].insert(0, slow)
    held: list[int] = []

    def look_for_held_wait() -> bool:
        held.extend(_processes_with("ARGOEXEC_START_GATE=", "HOSTNAME=wf-step-gate"))
        return bool(held)

    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(runtime.run_pod, pod)
        wait_until(look_for_held_wait, timeout=30, what="wait held at its gate during init")
        result = running.result(timeout=120)

    assert result.phase == "Succeeded", (result.to_k8s(), runtime.logs("wf-step-gate", "wait"))
    status = result.to_k8s()
    init_end = max(c["state"]["terminated"]["finishedAt"] for c in status["initContainerStatuses"])
    waited = status["containerStatuses"][0]
    assert waited["name"] == "wait"
    assert waited["state"]["terminated"]["startedAt"] >= init_end
    assert result_document(runtime, "wf-step-gate")["outputs"]["result"] == "gated"


def test_a_wait_held_at_its_gate_never_starts_when_init_fails(runtime: LocalRuntime) -> None:
    pod = argo_pod("wf-step-nogo", "echo never")
    failing = {"name": "fails", "image": "x", "command": ["sh", "-c", "sleep 0.5; exit 3"]}
    pod["spec"]["initContainers"].insert(0, failing)

    result = runtime.run_pod(pod)

    assert result.phase == "Failed"
    states = {c["name"]: c["state"] for c in result.to_k8s()["containerStatuses"]}
    assert states["wait"] == {"waiting": {"reason": "PodInitializing"}}
    assert runtime.logs("wf-step-nogo", "wait") == ""
    assert not _processes_with("ARGOEXEC_START_GATE=", "HOSTNAME=wf-step-nogo")


def _processes_with(*words: str) -> list[int]:
    """PIDs whose environment holds each of ``words`` (this user's processes)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if all(any(v.startswith(w.encode()) for v in environ) for w in words):
            found.append(int(entry.name))
    return found


def test_parallel_pods_have_private_tmp_directories(runtime: LocalRuntime) -> None:
    script = "echo $HOSTNAME > /tmp/out.txt; sleep 1; cat /tmp/out.txt"
    pods = [plain_pod(f"p-par-{i}", {"main": script}) for i in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(runtime.run_pod, pods))

    assert [r.phase for r in results] == ["Succeeded", "Succeeded"]
    assert [runtime.logs(f"p-par-{i}", "main") for i in range(2)] == ["p-par-0\n", "p-par-1\n"]
    assert not Path("/tmp/out.txt").exists() or Path("/tmp/out.txt").read_text() not in (
        "p-par-0\n",
        "p-par-1\n",
    )


def test_containers_share_an_empty_dir_and_see_sub_paths_and_host_paths(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "given.txt").write_text("from the host")
    pod = plain_pod(
        "p-vol",
        {
            "writer": "mkdir -p /shared/sub && echo shared > /shared/sub/x && cp /h/given.txt /h/c",
            "reader": "until [ -f /sub/x ]; do sleep 0.1; done; cat /sub/x > /h/seen",
        },
        volumes=[{"name": "s", "emptyDir": {}}, {"name": "h", "hostPath": {"path": str(host)}}],
    )
    writer, reader = pod["spec"]["containers"]
    writer["volumeMounts"] = [
        {"name": "s", "mountPath": "/shared"},
        {"name": "h", "mountPath": "/h"},
    ]
    reader["volumeMounts"] = [
        {"name": "s", "mountPath": "/sub", "subPath": "sub", "readOnly": True},
        {"name": "h", "mountPath": "/h"},
    ]

    result = runtime.run_pod(pod)

    assert result.phase == "Succeeded", runtime.logs("p-vol", "reader")
    assert (host / "seen").read_text() == "shared\n"
    assert (host / "c").read_text() == "from the host"
    assert (runtime.volume_path("p-vol", "s") / "sub" / "x").read_text() == "shared\n"


def test_secret_and_config_map_volumes_and_env_references_resolve(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets"
    (secrets / "creds").mkdir(parents=True)
    (secrets / "creds" / "accessKey").write_text("AK")
    (secrets / "creds" / "other").write_text("not projected")
    script = (
        "cat /s/ak; echo; ls /s; cat /cm/conf.ini; echo; echo $POD $NS $UID_ $SK $CM $REF; "
        "(echo x > /s/ak) 2>/dev/null || echo read-only"
    )
    projected = {"secretName": "creds", "items": [{"key": "accessKey", "path": "ak"}]}
    pod = plain_pod(
        "p-refs",
        {"main": script},
        volumes=[
            {"name": "s", "secret": projected},
            {"name": "cm", "configMap": {"name": "settings"}},
        ],
        volumeMounts=[{"name": "s", "mountPath": "/s"}, {"name": "cm", "mountPath": "/cm"}],
    )
    pod["spec"]["containers"][0]["env"] = [
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "UID_", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
        {"name": "SK", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "accessKey"}}},
        {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
        {"name": "REF", "value": "$(SK)-$(CM)"},
    ]
    config_maps = {"settings": {"conf.ini": "[a]", "mode": "fast"}}

    result = runtime.run_pod(pod, secrets=secrets, config_maps=config_maps)

    assert result.phase == "Succeeded", runtime.logs("p-refs", "main")
    assert runtime.logs("p-refs", "main").splitlines() == [
        "AK",
        "ak",
        "[a]",
        "p-refs argo uid-p-refs AK fast AK-fast",
        "read-only",
    ]


def test_a_missing_secret_fails_the_pod_before_any_container_starts(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    pod = plain_pod("p-nosecret", {"main": "true"})
    pod["spec"]["containers"][0]["env"] = [
        {"name": "SK", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}},
    ]
    result = runtime.run_pod(pod, secrets=tmp_path)
    assert result.phase == "Failed"
    assert result.reason == "CreateContainerConfigError"
    main = result.container("main")
    assert (main.waiting_reason, main.message) == (
        "CreateContainerConfigError",
        'secret "absent" not found',
    )
    assert main.started_at is None


def test_the_active_deadline_terminates_then_kills_the_pod(runtime: LocalRuntime) -> None:
    pod = plain_pod(
        "p-deadline",
        {
            # As PID 1, sh gets SIGTERM only through its trap; sleep has no handler: SIGKILL.
            "graceful": "trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done",
            "stubborn": "sleep 60",
        },
        activeDeadlineSeconds=1,
        terminationGracePeriodSeconds=1,
    )
    result = runtime.run_pod(pod)

    assert result.phase == "Failed"
    assert result.reason == "DeadlineExceeded"
    assert result.container("graceful").exit_code == 0
    assert result.container("stubborn").exit_code == 137
    assert "bye" in runtime.logs("p-deadline", "graceful")


def test_setting_the_stop_token_terminates_the_pod(runtime: LocalRuntime) -> None:
    stop = Stop()
    pod = plain_pod("p-stop", {"main": "trap 'exit 5' TERM; while true; do sleep 0.1; done"})
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(runtime.run_pod, pod, stop=stop)
        wait_until(
            lambda: (
                runtime.status("p-stop") is not None
                and runtime.status("p-stop").container("main").running
            ),  # type: ignore[union-attr]
            timeout=60,
            what="main to run",
        )
        stop.set("workflow shutdown")
        result = future.result(timeout=60)
    assert result.phase == "Failed"
    assert "workflow shutdown" in result.message
    assert result.container("main").exit_code == 5


def test_a_stop_reaches_a_container_still_starting_once_it_can_take_the_signal(
    runtime: LocalRuntime,
) -> None:
    # The kernel drops a signal sent to a PID 1 that has no handler for it, as the emissary or
    # an executor has none for their first moments (the interpreter is starting): here sh,
    # which installs its handler after half a second. Sent at once, SIGTERM would be lost and
    # the container killed only when the grace period ends (137).
    stop = Stop()
    stop.set("workflow shutdown")
    script = "sleep 0.5; trap 'exit 7' TERM; while true; do sleep 0.1; done"
    pod = plain_pod("p-early", {"main": script}, terminationGracePeriodSeconds=20)
    result = runtime.run_pod(pod, stop=stop)

    assert result.phase == "Failed"
    assert result.container("main").exit_code == 7


def test_the_controllers_kill_exec_reaches_the_emissary_as_pid_1(runtime: LocalRuntime) -> None:
    bg = Background(runtime, argo_pod("wf-step-kill", "echo started; sleep 60"))
    stdout = runtime.volume_path("wf-step-kill", "var-run-argo") / "ctr" / "main" / "stdout"
    wait_until(
        lambda: stdout.exists() and "started" in stdout.read_text(),
        timeout=60,
        what="main to start its command",
    )
    done = runtime.exec("wf-step-kill", "main", ["/var/run/argo/argoexec", "kill", "15", "1"])
    # The exec'd kill may itself be SIGKILLed (137) when PID 1 exits: as in a pod, a PID
    # namespace ends with its init process.
    assert done.exit_code in (0, 137), done.stderr
    assert done.stdout == "killing 1 with 15\n"

    result = bg.result()
    assert result.phase == "Failed"
    assert result.container("main").exit_code == 143
    assert result.container("wait").exit_code == 0
    assert result_document(runtime, "wf-step-kill")["outputs"]["result"] == "started"


def test_sigkill_exec_to_pid_1_is_dropped_but_the_runtime_kill_is_not(
    runtime: LocalRuntime,
) -> None:
    bg = Background(runtime, plain_pod("p-kill9", {"main": "sleep 60"}))
    bg.wait_running("main")
    done = runtime.exec("p-kill9", "main", ["sh", "-c", "kill -9 1; echo sent"])
    assert (done.exit_code, done.stdout) == (0, "sent\n"), (
        done.stderr + runtime.logs("p-kill9", "main") + repr(runtime.status("p-kill9"))
    )
    assert runtime.status("p-kill9").container("main").running  # type: ignore[union-attr]

    runtime.kill("p-kill9", "main", signal.SIGKILL)
    result = bg.result()
    assert result.container("main").exit_code == 137


def test_a_user_sidecar_is_stopped_by_its_emissary_once_main_is_done(
    runtime: LocalRuntime,
) -> None:
    pod = argo_pod("wf-step-side", "sleep 1; echo main done", sidecar="echo serving; sleep 60")
    result = runtime.run_pod(pod)

    assert result.container("main").exit_code == 0
    assert result.container("side").exit_code == 143  # SIGTERM through its signal file
    assert result.phase == "Failed"  # Kubernetes' view; Argo ignores sidecars' 143
    assert result_document(runtime, "wf-step-side")["outputs"]["result"] == "main done"
    assert "serving" in runtime.logs("wf-step-side", "side")


def test_cleanup_removes_the_pods_directories_but_keeps_its_logs(runtime: LocalRuntime) -> None:
    # What a container writes outside its volumes is in memory and ends with it: nothing of it
    # is on disk to remove.
    script = (
        "mkdir -p /opt/big && seq 1000 | while read n; do echo $n > /opt/big/$n; done; echo kept"
    )
    runtime.run_pod(plain_pod("p-clean", {"main": script}, volumes=[{"name": "v"}]))
    assert runtime.volume_path("p-clean", "v").is_dir()
    assert not any(p.name == "big" for p in runtime.root.rglob("big"))

    runtime.cleanup("p-clean")

    assert not runtime.volume_path("p-clean", "v").exists()
    assert runtime.logs("p-clean", "main") == "kept\n"
    assert sorted(p.name for p in runtime.root.iterdir()) == [".runtime", "p-clean"]
    assert [p.name for p in runtime.pod_dirs("p-clean").root.iterdir()] == ["logs"]


def test_a_nul_byte_in_a_command_is_a_start_error_of_its_container(runtime: LocalRuntime) -> None:
    result = runtime.run_pod(plain_pod("p-nul", {"main": "echo a\0b"}))

    main = result.container("main")
    assert (main.exit_code, main.reason) == (128, "StartError")
    assert "an argument or environment variable holds a NUL byte" in main.message


def test_the_executors_bytecode_is_brought_up_to_date_for_read_only_containers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Containers see the executor's sources read-only: stale bytecode would be compiled again,
    in memory, by every container. The runtime refreshes it once, before its first pod."""
    import importlib.util

    from argoexec.controller.runtime import executor

    source = tmp_path / "src" / "argoexec" / "mod.py"
    source.parent.mkdir(parents=True)
    source.write_text("X = 1\n")
    monkeypatch.setattr(executor, "SOURCE_ROOT", tmp_path / "src")
    monkeypatch.setattr(executor, "PACKAGES", ("argoexec",))
    executor.compile_sources()
    assert Path(importlib.util.cache_from_source(str(source))).is_file()
