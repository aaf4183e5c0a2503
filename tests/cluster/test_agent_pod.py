"""The agent pod takes what Argo's createAgentPod takes from the workflow: its scheduling
constraints, `podMetadata`, DNS settings and `spec.podSpecPatch`."""

from __future__ import annotations

from typing import Any

import pytest

from argoexec import contract as c
from argoexec.controller.cluster.agent_pod import AgentPodSettings, agent_pod
from argoexec.controller.pod.context import PodBuildError


def workflow(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "wf", "uid": "u1"}, "spec": {"entrypoint": "main", **spec}}


def test_the_workflows_scheduling_metadata_and_dns_shape_the_agent_pod() -> None:
    pod = agent_pod(
        workflow(
            nodeSelector={"disk": "ssd"},
            tolerations=[{"key": "gpu", "operator": "Exists"}],
            podPriorityClassName="high",
            schedulerName="custom",
            dnsPolicy="None",
            dnsConfig={"nameservers": ["10.0.0.10"]},
            podMetadata={
                "labels": {"team": "data", c.LABEL_COMPONENT: "mine"},
                "annotations": {"note": "x"},
            },
        ),
        AgentPodSettings(),
    )
    spec, meta = pod["spec"], pod["metadata"]
    assert spec["nodeSelector"] == {"disk": "ssd"}
    assert spec["tolerations"] == [{"key": "gpu", "operator": "Exists"}]
    assert (spec["priorityClassName"], spec["schedulerName"]) == ("high", "custom")
    assert (spec["dnsPolicy"], spec["dnsConfig"]) == ("None", {"nameservers": ["10.0.0.10"]})
    assert meta["labels"]["team"] == "data" and meta["annotations"]["note"] == "x"
    assert meta["labels"][c.LABEL_COMPONENT] == "agent"  # the controller's label stays


def test_the_workflows_pod_spec_patch_applies_to_the_agent_pod() -> None:
    patch = '{"containers": [{"name": "main", "resources": {"limits": {"memory": "1Gi"}}}]}'
    pod = agent_pod(workflow(podSpecPatch=patch), AgentPodSettings())
    main = next(x for x in pod["spec"]["containers"] if x["name"] == "main")
    assert main["resources"]["limits"]["memory"] == "1Gi"
    assert main["resources"]["requests"] == {"cpu": "10m", "memory": "64M"}


def test_a_patch_that_removes_the_agent_is_refused() -> None:
    patch = "containers: [{name: main, $patch: delete}]"
    with pytest.raises(PodBuildError, match="invalid podSpecPatch"):
        agent_pod(workflow(podSpecPatch=patch), AgentPodSettings())
