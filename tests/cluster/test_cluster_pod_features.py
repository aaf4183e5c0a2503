"""Workflow features that shape the pods and the Workflow on a cluster: `podSpecPatch` (the
API server gets the patched pod as it is), `retryStrategy.affinity.nodeAntiAffinity` (a
retried pod avoids the node its failed attempt ran on, from the pod's `spec.nodeName`),
`workflowMetadata` (labels and annotations stored on the Workflow) and lifecycle hooks."""

from __future__ import annotations

from typing import Any

from tests.cluster.harness import Cluster

PATCH = """
containers:
- name: main
  resources: {limits: {memory: "{{workflow.parameters.mem}}"}}
  env: [{name: EXTRA, value: "yes"}]
"""


def _workflow(name: str, template: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", **template}], **spec},
    }


def _pods(cluster: Cluster) -> list[dict[str, Any]]:
    pods = cluster.fake.objects("pods", namespace="default")
    node = "workflows.argoproj.io/node-name"  # `wf(0)`, `wf(1)`: the attempts in order
    return sorted(pods, key=lambda pod: str(pod["metadata"]["annotations"][node]))


def _main(pod: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in pod["spec"]["containers"] if c["name"] == "main")


def test_the_cluster_gets_the_patched_pod_and_workflow_metadata(cluster: Cluster) -> None:
    cluster.start_controller()
    container = {"image": "busybox", "command": ["sh", "-c", 'echo "extra=$EXTRA"']}
    cluster.submit(
        _workflow(
            "patched",
            {"podSpecPatch": PATCH, "container": container},
            arguments={"parameters": [{"name": "mem", "value": "64Mi"}]},
            workflowMetadata={
                "labels": {"team": "data"},
                "annotations": {"note": "kept"},
                "labelsFrom": {"mem": {"expression": "workflow.parameters.mem"}},
            },
        )
    )
    done = cluster.wait_finished("patched")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    main = _main(_pods(cluster)[0])
    assert main["resources"] == {"limits": {"memory": "64Mi"}}
    assert {"name": "EXTRA", "value": "yes"} in main["env"]
    assert main["command"][0] == "/var/run/argo/argoexec"  # wrapped after the patch
    assert done["metadata"]["labels"]["team"] == "data"
    assert done["metadata"]["labels"]["mem"] == "64Mi"
    assert done["metadata"]["annotations"]["note"] == "kept"


def test_a_retried_pod_avoids_the_node_its_failed_attempt_ran_on(cluster: Cluster) -> None:
    cluster.start_controller()
    strategy = {"limit": 1, "affinity": {"nodeAntiAffinity": {}}}
    container = {"image": "busybox", "command": ["sh", "-c", "exit 1"]}
    cluster.submit(_workflow("retried", {"retryStrategy": strategy, "container": container}))
    done = cluster.wait_finished("retried")
    assert done["status"]["phase"] == "Failed"
    nodes = {n["name"]: n for n in done["status"]["nodes"].values()}
    assert nodes["retried(0)"]["hostNodeName"] == "node-1"
    first, second = _pods(cluster)
    assert "affinity" not in first["spec"]
    term = {"key": "kubernetes.io/hostname", "operator": "NotIn", "values": ["node-1"]}
    required = second["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert required == {"nodeSelectorTerms": [{"matchExpressions": [term]}]}
