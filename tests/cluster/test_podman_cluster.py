"""A workflow on the (fake) cluster whose kubelet runs pods with podman and the locally built
images: the executor image from the Dockerfile reaches the API server from inside its container
(the in-cluster service account files, over TLS), as on a real node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.harness import Cluster
from tests.podman.images import BUSYBOX_IMAGE, CONTAINERS_CONF, EXECUTOR_IMAGE, require_image
from tests.servers.kube import FakeKube
from tests.servers.kubelet import NodeAgent

pytestmark = pytest.mark.podman


@pytest.fixture
def podman_cluster(
    kube_api_tls: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cluster]:
    require_image(EXECUTOR_IMAGE)
    require_image(BUSYBOX_IMAGE)
    monkeypatch.setenv("CONTAINERS_CONF", str(CONTAINERS_CONF))
    with NodeAgent(kube_api_tls, tmp_path / "node", runtime="podman") as agent:
        found = Cluster(kube_api_tls, agent, tmp_path)
        try:
            yield found
        finally:
            found.close()


def test_a_workflow_runs_in_podman_pods_that_report_to_the_api_server(
    podman_cluster: Cluster,
) -> None:
    workflow = {
        "metadata": {"name": "in-podman"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "container": {
                        "image": BUSYBOX_IMAGE,
                        "command": ["sh", "-c", "echo from podman > /tmp/out"],
                    },
                    "outputs": {
                        "parameters": [{"name": "said", "valueFrom": {"path": "/tmp/out"}}]
                    },
                }
            ],
        },
    }
    podman_cluster.start_controller(executor_image=EXECUTOR_IMAGE)
    podman_cluster.submit(workflow)
    done = podman_cluster.wait_finished("in-podman", timeout=240)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    [node] = done["status"]["nodes"].values()
    assert node["outputs"]["parameters"][0]["value"] == "from podman"
    reporters = {
        r.user
        for r in podman_cluster.fake.requests("POST", r"/workflowtaskresults$")
        if r.status == 201
    }
    assert reporters == {"system:serviceaccount:default:default"}
