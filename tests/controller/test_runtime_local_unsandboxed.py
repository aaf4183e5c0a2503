"""The local runtime without bubblewrap: plain host processes, mount paths mapped to host paths."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from argoexec.controller.runtime import LocalRuntime
from tests.controller.runtime_pods import (
    EXECUTOR_IMAGE,
    Background,
    argo_pod,
    plain_pod,
    result_document,
)
from tests.servers.procs import wait_until


@pytest.fixture
def runtime(tmp_path: Path) -> LocalRuntime:
    return LocalRuntime(tmp_path / "pods", executor_image=EXECUTOR_IMAGE, sandbox=False)


def test_the_runtime_warns_that_it_runs_unsandboxed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="argoexec.controller.runtime"):
        runtime = LocalRuntime(tmp_path, sandbox=False)
    assert not runtime.sandboxed
    assert "UNSANDBOXED" in caplog.text


def test_an_argo_pod_runs_unsandboxed_through_the_relocation_variables(
    runtime: LocalRuntime,
) -> None:
    result = runtime.run_pod(argo_pod("wf-host-1", "echo hello"))

    assert result.phase == "Succeeded", (result.to_k8s(), runtime.logs("wf-host-1", "wait"))
    assert result.container("main").exit_code == 0
    assert result_document(runtime, "wf-host-1")["outputs"]["result"] == "hello"
    var_run = runtime.volume_path("wf-host-1", "var-run-argo")
    assert (var_run / "ctr" / "main" / "exitcode").read_text() == "0"


def test_mount_paths_in_commands_and_env_are_mapped_to_host_paths(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    host = tmp_path / "host"
    host.mkdir()
    pod = plain_pod(
        "p-map",
        {"main": 'echo "$ARGOEXEC_VAR_RUN_DIR|$ARGOEXEC_TERMINATION_LOG|$TMPDIR|$OUT|$PWD"'},
        volumes=[
            {"name": "var-run-argo", "emptyDir": {}},
            {"name": "h", "hostPath": {"path": str(host)}},
        ],
        volumeMounts=[
            {"name": "var-run-argo", "mountPath": "/var/run/argo"},
            {"name": "h", "mountPath": "/data"},
        ],
    )
    main = pod["spec"]["containers"][0]
    main["env"] = [{"name": "OUT", "value": "/data/out.txt"}]
    main["workingDir"] = "/data"
    main["command"] = ["sh", "-c", main["command"][2] + '; echo mapped > "$1"', "sh", "/data/arg"]

    result = runtime.run_pod(pod)

    assert result.phase == "Succeeded", runtime.logs("p-map", "main")
    dirs = runtime.pod_dirs("p-map")
    assert runtime.logs("p-map", "main").strip().split("|") == [
        str(runtime.volume_path("p-map", "var-run-argo")),
        str(dirs.termination("main")),
        str(dirs.tmp("main")),
        str(host / "out.txt"),
        str(host),
    ]
    assert (host / "arg").read_text() == "mapped\n"


def test_the_kill_command_reaches_the_containers_process_unsandboxed(
    runtime: LocalRuntime,
) -> None:
    bg = Background(runtime, argo_pod("wf-host-kill", "echo started; sleep 60"))
    stdout = runtime.volume_path("wf-host-kill", "var-run-argo") / "ctr" / "main" / "stdout"
    wait_until(
        lambda: stdout.exists() and "started" in stdout.read_text(),
        timeout=60,
        what="main to start its command",
    )
    done = runtime.exec("wf-host-kill", "main", ["/var/run/argo/argoexec", "kill", "15", "1"])
    assert (done.exit_code, done.stdout) == (0, "killing 1 with 15\n")

    result = bg.result()
    assert result.phase == "Failed"
    assert result.container("main").exit_code == 143
    assert result.container("wait").exit_code == 0


def test_a_failing_main_reports_its_termination_message_unsandboxed(
    runtime: LocalRuntime,
) -> None:
    pod = plain_pod("p-host-fail", {"main": 'echo broken > "$ARGOEXEC_TERMINATION_LOG"; exit 4'})
    result = runtime.run_pod(pod)
    assert result.phase == "Failed"
    main = result.container("main")
    assert (main.exit_code, main.message) == (4, "broken\n")


def test_paths_inside_shell_lines_are_mapped_to_the_mounts() -> None:
    from argoexec.controller.runtime.launch import HostPaths
    from argoexec.controller.sandbox import Mount

    paths = HostPaths([Mount(Path("/h/data"), "/data"), Mount(Path("/h/in.txt"), "/tmp/in.txt")])
    line = "wc -l < /tmp/in.txt; cat '/data/a b' x/data/no /datax >/data/out"
    assert paths.map_text(line) == (
        "wc -l < /h/in.txt; cat '/h/data/a b' x/data/no /datax >/h/data/out"
    )
    assert paths.map_text("/data") == "/h/data"
