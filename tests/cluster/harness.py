"""A cluster for tests: the fake API server (TLS), the node agent running its pods on this
machine, and `argoexec controller` (ClusterController) in a thread, with the identities of the
manifests (the controller's and the executor's service accounts)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller import artgc
from argoexec.controller.cluster.api import ClusterApi, Connection
from argoexec.controller.cluster.controller import ClusterController, ClusterOptions
from argoexec.controller.cluster.lease import LeaseTimes
from tests.servers.kube import FakeKube
from tests.servers.kubelet import NodeAgent

CONTROLLER_USER = "system:serviceaccount:argoexec:argoexec-controller"
FINAL = ("Succeeded", "Failed", "Error")
FAST_LEASE = LeaseTimes(lease_duration=3.0, renew_deadline=2.0, retry_period=0.5)


@dataclass
class Replica:
    controller: ClusterController
    stop: threading.Event
    thread: threading.Thread
    exit_code: list[int] = field(default_factory=list)

    def halt(self, timeout: float = 30.0) -> None:
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the controller did not stop"


class Cluster:
    def __init__(self, fake: FakeKube, agent: NodeAgent, tmp: Path) -> None:
        self.fake = fake
        self.agent = agent
        self.tmp = tmp
        self.token = fake.add_token(CONTROLLER_USER)
        self.kubeconfig = fake.kubeconfig(tmp / "controller.kubeconfig", token=self.token)
        self.replicas: list[Replica] = []

    def api(self) -> ClusterApi:
        return ClusterApi.connect(Connection(kubeconfig=str(self.kubeconfig)))

    def start_controller(self, **options: Any) -> Replica:
        settings = {
            "controller_namespace": "argoexec",
            "identity": f"replica-{len(self.replicas)}",
            "lease_times": FAST_LEASE,
            "health_port": None,
            "metrics_port": None,
            **options,
        }
        controller = ClusterController(self.api(), ClusterOptions(**settings))
        stop = threading.Event()
        codes: list[int] = []
        thread = threading.Thread(
            target=lambda: codes.append(controller.run(stop.is_set)), daemon=True
        )
        replica = Replica(controller, stop, thread, codes)
        thread.start()
        self.replicas.append(replica)
        return replica

    def submit(self, workflow: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
        body = {**workflow, "metadata": {**workflow.get("metadata", {}), "namespace": namespace}}
        body.setdefault("apiVersion", "argoproj.io/v1alpha1")
        body.setdefault("kind", "Workflow")
        return _create(self, body, namespace)

    def workflow(self, name: str, namespace: str = "default") -> dict[str, Any]:
        found = self.fake.get("workflows", name, namespace, group="argoproj.io")
        assert found is not None, f"workflow {namespace}/{name} not found"
        return found

    def wait_finished(
        self, name: str, namespace: str = "default", timeout: float = 120.0
    ) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = self.fake.get("workflows", name, namespace, group="argoproj.io") or {}
            if (found.get("status") or {}).get("phase") in FINAL:
                return found
            time.sleep(0.1)
        raise AssertionError(f"workflow {name} not finished in {timeout} s: {found.get('status')}")

    def wait_collected(
        self, name: str, namespace: str = "default", timeout: float = 60.0
    ) -> dict[str, Any]:
        """The workflow once artifact GC has nothing left to do for now (its GC pods ended and
        were recorded); at once for a workflow without artifact GC."""
        end = time.monotonic() + timeout
        found = self.workflow(name, namespace)
        while time.monotonic() < end and artgc.pending(found):
            time.sleep(0.1)
            found = self.workflow(name, namespace)
        assert not artgc.pending(found), f"artifact GC of {name} unfinished: {found['status']}"
        return found

    def close(self) -> None:
        for replica in self.replicas:
            if replica.thread.is_alive():
                replica.halt()


def _create(cluster: Cluster, body: dict[str, Any], namespace: str) -> dict[str, Any]:
    """Created as a user would (the admin token), not as the controller."""
    kubeconfig = cluster.fake.kubeconfig(cluster.tmp / "user.kubeconfig", token=cluster.fake.token)
    api = ClusterApi.connect(Connection(kubeconfig=str(kubeconfig)))
    try:
        path = f"/apis/argoproj.io/v1alpha1/namespaces/{namespace}/workflows"
        return api.create(path, body)
    finally:
        api.close()


@pytest.fixture
def cluster(node_agent: NodeAgent, kube_api_tls: FakeKube, tmp_path: Path) -> Iterator[Cluster]:
    found = Cluster(kube_api_tls, node_agent, tmp_path)
    try:
        yield found
    finally:
        found.close()
