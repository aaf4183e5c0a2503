"""The command the controller execs in a running container to signal it, as Argo's picks it."""

from __future__ import annotations

from typing import Any

from argoexec.controller.runtime.kill import kill_command


def pod(**annotations: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "annotations": annotations},
        "spec": {
            "containers": [
                {"name": "wait", "volumeMounts": [{"name": "v", "mountPath": "/var/run/argo"}]},
                {"name": "main", "volumeMounts": [{"name": "v", "mountPath": "/var/run/argo/"}]},
                {"name": "initless", "volumeMounts": [{"name": "b", "mountPath": "/argo-bin"}]},
                {"name": "injected"},
            ]
        },
    }


def test_the_executor_is_told_by_its_own_kill_and_user_containers_by_the_emissarys() -> None:
    assert kill_command(pod(), "wait", 15) == ["argoexec", "kill", "15", "1"]
    assert kill_command(pod(), "main", 9) == ["/var/run/argo/argoexec", "kill", "9", "1"]
    assert kill_command(pod(), "initless", 15) == ["/argo-bin/bin/argoexec", "kill", "15", "1"]


def test_a_container_without_the_emissary_gets_a_shell_kill() -> None:
    assert kill_command(pod(), "injected", 15) == ["/bin/sh", "-c", "kill -15 1"]


def test_the_pods_kill_cmd_annotation_wins_with_the_signal_in_place_of_percent_d() -> None:
    annotated = pod(**{"workflows.argoproj.io/kill-cmd-injected": '["pkill", "-%d", "proxy"]'})
    assert kill_command(annotated, "injected", 15) == ["pkill", "-15", "proxy"]
    broken = pod(**{"workflows.argoproj.io/kill-cmd-main": "pkill proxy"})
    assert kill_command(broken, "main", 15) == ["/var/run/argo/argoexec", "kill", "15", "1"]
