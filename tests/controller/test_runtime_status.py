"""A pod's status survives being written as Kubernetes' PodStatus and read back (another process
observes pods from what their supervisor recorded)."""

from __future__ import annotations

import json

from argoexec.controller.runtime.status import (
    CREATE_CONTAINER_CONFIG_ERROR,
    START_ERROR,
    ContainerStatus,
    PodResult,
)
from argoexec.durations import epoch_seconds as parse_rfc3339
from argoexec.durations import rfc3339

T0 = 1_700_000_000.25


def a_status() -> PodResult:
    init = ContainerStatus("init", image="argoexec", started_at=T0, waiting_reason="x")
    init.terminate(0, "", T0 + 1.5)
    main = ContainerStatus("main", image="busybox", started_at=T0 + 2)
    main.terminate(3, "disk full\n", T0 + 3.125)
    wait = ContainerStatus("wait", image="argoexec", started_at=T0 + 2.5)
    broken = ContainerStatus("side", started_at=T0 + 2, terminated_reason=START_ERROR)
    broken.terminate(128, "exec: no such file", T0 + 2)
    never = ContainerStatus("late")
    return PodResult(
        "wf-1",
        phase="Running",
        reason="DeadlineExceeded",
        message="Pod was active on the node longer than the specified deadline",
        start_time=T0,
        init_containers=[init],
        containers=[main, wait, broken, never],
    )


def test_a_precise_status_reads_back_as_the_status_that_was_written() -> None:
    status = a_status()
    written = json.loads(json.dumps(status.to_k8s(precise=True)))

    back = PodResult.from_k8s("wf-1", written)

    assert back.to_k8s(precise=True) == written
    assert back.to_k8s() == status.to_k8s()
    main = back.container("main")
    assert (main.exit_code, main.reason, main.message) == (3, "Error", "disk full\n")
    assert main.finished_at is not None and abs(main.finished_at - (T0 + 3.125)) < 1e-6
    assert back.container("wait").running
    assert back.container("side").reason == START_ERROR
    assert back.container("late").state() == {"waiting": {"reason": "PodInitializing"}}
    assert (back.phase, back.reason, back.message) == (status.phase, status.reason, status.message)


def test_a_container_that_could_not_start_keeps_its_waiting_reason_and_message() -> None:
    status = PodResult.pending({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}})
    status.fail_to_start(CREATE_CONTAINER_CONFIG_ERROR, 'secret "s" not found')

    back = PodResult.from_k8s("p", status.to_k8s())

    a = back.container("a")
    assert (a.waiting_reason, a.message, a.started_at) == (
        CREATE_CONTAINER_CONFIG_ERROR,
        'secret "s" not found',
        None,
    )
    assert back.phase == "Failed" and back.ended


def test_kubernetes_timestamps_of_seconds_and_of_microseconds_both_parse() -> None:
    assert parse_rfc3339(rfc3339(T0)) == 1_700_000_000.0
    assert parse_rfc3339(rfc3339(T0, precise=True)) == T0
    assert parse_rfc3339("2023-11-14T22:13:20Z") == 1_700_000_000.0
    assert parse_rfc3339("not a time") is None
    assert parse_rfc3339(None) is None
