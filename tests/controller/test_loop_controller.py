"""The controller loop around the reconciler: it drives a stored Workflow to its end, stores the
status in batches, and a new controller takes over a run whose controller went away at any
point, without creating any pod twice. Pods are `reconcile_double.Cluster`'s (nothing runs)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest

from argoexec.controller.loop.controller import Controller
from argoexec.controller.loop.memory import MemoryStore
from argoexec.controller.loop.seams import PodObservation
from argoexec.controller.reconcile import Settings
from tests.controller.reconcile_double import Cluster, phases, workflow

ECHO = {"name": "echo", "container": {"image": "alpine", "command": ["true"]}}
SPEC = {
    "entrypoint": "main",
    "onExit": "bye",
    "templates": [
        {
            "name": "main",
            "steps": [
                [{"name": "a", "template": "echo"}],
                [{"name": "loop", "template": "echo", "withItems": [1, 2, 3]}],
                [{"name": "d", "template": "diamond"}],
            ],
        },
        {
            "name": "diamond",
            "dag": {
                "tasks": [
                    {"name": "x", "template": "echo"},
                    {"name": "y", "template": "flaky", "depends": "x"},
                ]
            },
        },
        {"name": "flaky", "retryStrategy": {"limit": 2}, "container": ECHO["container"]},
        {**ECHO, "name": "bye"},
        ECHO,
    ],
}


class Pods(Cluster):
    """`Cluster` as a PodBackend: pods end (exit 0; the first attempt of `y` exits 1) one at a
    time, each `wait`; every creation is counted."""

    def __init__(self) -> None:
        super().__init__()
        self.creations: dict[str, int] = {}
        self.failed_once = False

    def adapt(self, pod: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
        return dict(pod)

    def create(self, pod: Mapping[str, Any], config_maps: Mapping[str, Any]) -> None:
        name = str(pod["metadata"]["name"])
        node_id = str(pod["metadata"]["annotations"]["workflows.argoproj.io/node-id"])
        if any(p.pod_name == name for p in self.pods.values()):
            return  # AlreadyExists
        self.creations[name] = self.creations.get(name, 0) + 1
        from argoexec.controller.reconcile import CreatePod, Outcome

        self.apply(Outcome({}, [CreatePod(node_id, pod)]))

    def observe(self, workflow_name: str) -> dict[str, PodObservation]:
        return dict(self.pods)

    def signal(self, pod_name: str, container: str, signum: int) -> None:
        self.signals.append((pod_name, container, signum))

    def delete(self, pod_name: str) -> None:
        self.deleted.append(pod_name)
        for node_id, pod in list(self.pods.items()):
            if pod.pod_name == pod_name:
                del self.pods[node_id]

    def wait(self, timeout: float) -> bool:
        for node_id, pod in self.pods.items():
            if pod.status.phase == "Running":
                failing = "-flaky-" in pod.pod_name and not self.failed_once
                self.failed_once = self.failed_once or failing
                self.end(node_id, 1 if failing else 0)
                return True
        return False


class Clock:
    def __init__(self) -> None:
        self.now = 1767225600.0

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


def run_to_end(store: MemoryStore, pods: Pods, *, rounds: int | None = None) -> Controller:
    controller = Controller(store, pods, Settings(), clock=Clock(), write_interval=0.0)
    if rounds is None:
        controller.drive(["wf"])
        return controller
    controller._load({"wf"})
    for _ in range(rounds):
        controller.round()
        pods.wait(0)
    return controller


def node_set(wf: Mapping[str, Any]) -> set[tuple[str, str, str, str]]:
    nodes = wf["status"]["nodes"].values()
    return {(n["id"], n["name"], n["type"], n["phase"]) for n in nodes}


def test_the_loop_drives_a_workflow_to_its_end() -> None:
    store, pods = MemoryStore(), Pods()
    store.create(workflow(SPEC))
    run_to_end(store, pods)
    final = store.get("wf")
    assert final["status"]["phase"] == "Succeeded"
    assert phases(final)["wf.onExit"] == "Succeeded"
    assert phases(final)["wf[2].d.y(0)"] == "Failed"
    assert phases(final)["wf[2].d.y(1)"] == "Succeeded"
    assert set(pods.creations.values()) == {1}
    assert not pods.pods  # every pod was deleted once the status recorded its end


@pytest.mark.parametrize("rounds", range(1, 16))
def test_a_new_controller_finishes_a_run_whose_controller_went_away(rounds: int) -> None:
    reference_store, reference_pods = MemoryStore(), Pods()
    reference_store.create(workflow(SPEC))
    run_to_end(reference_store, reference_pods)
    reference = reference_store.get("wf")

    store, pods = MemoryStore(), Pods()
    store.create(workflow(SPEC))
    run_to_end(store, pods, rounds=rounds)  # ... and this controller is gone
    run_to_end(store, pods)
    final = store.get("wf")
    assert final["status"]["phase"] == reference["status"]["phase"]
    assert node_set(final) == node_set(reference)
    assert set(pods.creations.values()) == {1}, pods.creations


class Undeleting(Pods):
    """Pods of a controller that dies after storing the workflow's end, before deleting them."""

    def delete(self, pod_name: str) -> None:
        pass


def test_the_pods_a_controller_left_at_the_end_are_deleted_by_the_next_one() -> None:
    store, pods = MemoryStore(), Undeleting()
    store.create(workflow(SPEC))
    run_to_end(store, pods)
    assert store.get("wf")["status"]["phase"] == "Succeeded" and pods.pods
    released: list[str] = []

    after = Pods()
    after.pods, after.creations = pods.pods, pods.creations
    controller = Controller(store, after, Settings(), clock=Clock(), release=released.append)
    controller.drive(None)

    assert not after.pods
    assert released == ["wf"]
    assert set(after.creations.values()) == {1}
    controller.drive(None)  # passed over once: nothing more to do
    assert released == ["wf"]


def test_a_stop_written_from_outside_is_taken_by_the_running_loop() -> None:
    store, pods = MemoryStore(), Pods()
    store.create(workflow(SPEC))
    controller = run_to_end(store, pods, rounds=1)
    stored = store.get("wf")
    stopped = copy.deepcopy(stored)
    stopped["spec"]["shutdown"] = "Stop"
    store.update(stopped)
    controller.drive(["wf"])
    final = store.get("wf")
    assert final["status"]["phase"] == "Failed"
    assert final["status"]["message"] == "Stopped with strategy 'Stop'"
