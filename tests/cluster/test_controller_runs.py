"""`argoexec controller` on a cluster (the fake API server, pods run by the node agent): a
Workflow created on the API server runs to its end, as with Argo's controller."""

from __future__ import annotations

from tests.cluster.harness import Cluster

HELLO = {
    "metadata": {"name": "hello"},
    "spec": {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "container": {"image": "busybox", "command": ["sh", "-c", "echo hello world"]},
                "outputs": {"parameters": [{"name": "p", "value": "v"}]},
            }
        ],
    },
}


def test_a_workflow_created_on_the_api_server_runs_to_success(cluster: Cluster) -> None:
    cluster.start_controller()
    cluster.submit(HELLO)
    done = cluster.wait_finished("hello")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    nodes = done["status"]["nodes"]
    assert [n["phase"] for n in nodes.values()] == ["Succeeded"]
