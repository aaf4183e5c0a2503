"""`synchronization` on a cluster: the controller's locks, a ConfigMap semaphore read through the
API (a changed limit takes effect), and a restarted controller that rebuilds the held locks from
the Workflows' status instead of granting them again."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.cluster.harness import Cluster

MUTEX = "default/Mutex/shared"
SEMAPHORE = "default/ConfigMap/my-config/workflow"


def _workflow(name: str, sync: dict[str, Any], seconds: int = 0) -> dict[str, Any]:
    command = f"sleep {seconds}; echo {name}" if seconds else f"echo {name}"
    return {
        "metadata": {"name": name},
        "spec": {
            "entrypoint": "main",
            "synchronization": sync,
            "templates": [
                {
                    "name": "main",
                    "container": {"image": "busybox", "command": ["sh", "-c", command]},
                }
            ],
        },
    }


def _wait(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not seen in {timeout} s")


def _phase(cluster: Cluster, name: str) -> str:
    return str((cluster.workflow(name).get("status") or {}).get("phase") or "")


def test_a_restarted_controller_keeps_a_held_mutex_held(cluster: Cluster) -> None:
    first = cluster.start_controller()
    mutex = {"mutexes": [{"name": "shared"}]}
    cluster.submit(_workflow("holder", mutex, seconds=6))
    _wait(lambda: _phase(cluster, "holder") == "Running", "holder Running")
    cluster.submit(_workflow("waiter", mutex))
    _wait(lambda: _phase(cluster, "waiter") == "Pending", "waiter Pending")
    waiting = cluster.workflow("waiter")["status"]
    assert waiting["message"] == f"Waiting for {MUTEX} lock. Lock status: 0/1"
    assert waiting["synchronization"]["mutex"]["waiting"] == [
        {"mutex": MUTEX, "holder": "default/holder"}
    ]
    first.halt()
    cluster.start_controller()  # its locks are rebuilt from `holder`'s status
    time.sleep(2.0)
    assert _phase(cluster, "holder") == "Running"
    assert _phase(cluster, "waiter") == "Pending"
    holder = cluster.wait_finished("holder")
    waiter = cluster.wait_finished("waiter")
    assert holder["status"]["phase"] == waiter["status"]["phase"] == "Succeeded"
    assert "synchronization" not in holder["status"]
    assert waiter["status"]["startedAt"] >= holder["status"]["finishedAt"]


def test_a_config_map_semaphore_is_read_through_the_api_and_its_new_limit_applies(
    cluster: Cluster,
) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "my-config", "namespace": "default"},
        "data": {"workflow": "1"},
    }
    cluster.fake.seed(config)
    cluster.start_controller()
    semaphore = {"semaphores": [{"configMapKeyRef": {"name": "my-config", "key": "workflow"}}]}
    cluster.submit(_workflow("one", semaphore, seconds=30))
    _wait(lambda: _phase(cluster, "one") == "Running", "one Running")
    cluster.submit(_workflow("two", semaphore))
    _wait(lambda: _phase(cluster, "two") == "Pending", "two Pending")
    assert cluster.workflow("two")["status"]["message"] == (
        f"Waiting for {SEMAPHORE} lock. Lock status: 0/1"
    )
    raised = {**config, "data": {"workflow": "2"}}  # as an admin would (kubectl edit)
    cluster.fake.store.update(cluster.fake.kind("configmaps"), "default", "my-config", raised)
    two = cluster.wait_finished("two", timeout=25.0)  # while `one` still holds its slot
    assert two["status"]["phase"] == "Succeeded"
    assert _phase(cluster, "one") == "Running"
