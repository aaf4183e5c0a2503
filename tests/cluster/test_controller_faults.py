"""`argoexec controller` on a cluster under faults: conflicts on its writes, bursts of 429 and
500 answers, watches cut with 410 Gone, the controller killed and started again mid-run, two
replicas at once. Every run completes, and no pod is created twice for one node attempt. The
calls it made are all allowed by the manifests' RBAC rules."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from tests.cluster.harness import CONTROLLER_USER, Cluster
from tests.cluster.rbac import Authorizer, violations

SLEEPY_DAG = {
    "metadata": {"name": "dag"},
    "spec": {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {"name": "a", "template": "nap"},
                        {"name": "b", "template": "nap", "dependencies": ["a"]},
                        {"name": "c", "template": "nap", "dependencies": ["a"]},
                        {"name": "d", "template": "nap", "dependencies": ["b", "c"]},
                    ]
                },
            },
            {
                "name": "nap",
                "container": {"image": "busybox", "command": ["sh", "-c", "sleep 0.5; echo ok"]},
            },
        ],
    },
}


def _pod_creations(cluster: Cluster) -> Counter[str]:
    created = [r for r in cluster.fake.requests("POST", r"/pods$") if r.status in (200, 201)]
    return Counter(str((r.body or {}).get("metadata", {}).get("name")) for r in created)


def _succeeded(workflow: dict[str, Any]) -> None:
    status = workflow["status"]
    assert status["phase"] == "Succeeded", status
    pods = [n for n in status["nodes"].values() if n["type"] == "Pod"]
    assert len(pods) == 4 and all(n["phase"] == "Succeeded" for n in pods), status["nodes"]


def test_conflicts_and_error_bursts_on_its_writes_are_taken_in_stride(cluster: Cluster) -> None:
    fake = cluster.fake
    cluster.submit(SLEEPY_DAG)
    fake.fault("PUT", r"/workflows/dag$", status=409, times=3)
    fake.fault("*", r"/workflows", status=429, times=3)
    fake.fault("*", r"/pods", status=500, times=3)
    cluster.start_controller()
    _succeeded(cluster.wait_finished("dag"))
    assert max(_pod_creations(cluster).values()) == 1


def test_a_watch_cut_with_410_gone_is_listed_again(cluster: Cluster) -> None:
    replica = cluster.start_controller()
    cluster.submit(SLEEPY_DAG)
    time.sleep(1.0)
    cluster.fake.compact()  # every watch's resourceVersion is gone
    _succeeded(cluster.wait_finished("dag"))
    assert replica.controller.pods.pods.lists >= 1


def test_a_controller_killed_mid_run_is_followed_by_one_that_completes_it(
    cluster: Cluster,
) -> None:
    first = cluster.start_controller(leader_election=False)
    cluster.submit(SLEEPY_DAG)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(_pod_creations(cluster)) < 2:
        time.sleep(0.05)
    first.halt()
    status = cluster.workflow("dag")["status"]
    assert status.get("phase") == "Running", status
    cluster.start_controller(leader_election=False)
    _succeeded(cluster.wait_finished("dag"))
    assert max(_pod_creations(cluster).values()) == 1, _pod_creations(cluster)


def test_two_replicas_never_both_act_and_the_other_takes_over(cluster: Cluster) -> None:
    one = cluster.start_controller()
    assert one.controller.elector is not None
    assert one.controller.elector.leading.wait(10)
    two = cluster.start_controller()
    assert two.controller.elector is not None
    cluster.submit(SLEEPY_DAG)
    _succeeded(cluster.wait_finished("dag"))
    assert not two.controller.elector.leading.is_set()
    assert two.controller.controller.passes == 0  # it never acted
    one.halt()  # it releases the Lease: the other leads at its next try
    assert two.controller.elector.leading.wait(10)
    second = {**SLEEPY_DAG, "metadata": {"name": "dag2"}}
    cluster.submit(second)
    _succeeded(cluster.wait_finished("dag2"))


def test_every_call_of_the_controller_and_the_executor_is_allowed_by_the_manifests(
    cluster: Cluster, objects: list[dict[str, Any]]
) -> None:
    cluster.start_controller()
    cluster.submit(SLEEPY_DAG, namespace="argoexec")
    _succeeded(cluster.wait_finished("dag", namespace="argoexec"))
    authorizer = Authorizer.from_objects(objects)
    journal = cluster.fake.requests()
    assert [r for r in journal if r.user == CONTROLLER_USER], "no call of the controller"
    assert violations(journal, authorizer, CONTROLLER_USER) == []
    executor = "system:serviceaccount:argoexec:default"
    assert [r for r in journal if r.user == executor], "no call of the executor"
    assert violations(journal, authorizer, executor) == []
