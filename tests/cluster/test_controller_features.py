"""`argoexec controller` on a cluster: its configuration, which Workflows it takes, how it
refuses one, how it stops containers, and its endpoints."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import yaml

from tests.cluster.harness import CONTROLLER_USER, Cluster

INSTANCE_LABEL = "workflows.argoproj.io/controller-instanceid"


def _workflow(name: str, command: str = "echo hi", **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, **meta},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "container": {"image": "busybox", "command": ["sh", "-c", command]},
                }
            ],
        },
    }


def _config(cluster: Cluster, **data: Any) -> None:
    text = {k: v if isinstance(v, str) else yaml.safe_dump(v) for k, v in data.items()}
    cluster.fake.seed(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "workflow-controller-configmap", "namespace": "argoexec"},
            "data": text,
        }
    )


def test_only_workflows_of_its_instance_id_are_taken(cluster: Cluster) -> None:
    cluster.start_controller(instance_id="ours")
    cluster.submit(_workflow("mine", labels={INSTANCE_LABEL: "ours"}))
    cluster.submit(_workflow("theirs", labels={INSTANCE_LABEL: "argo"}))
    cluster.submit(_workflow("unlabelled"))
    done = cluster.wait_finished("mine")
    assert done["status"]["phase"] == "Succeeded"
    pod = cluster.fake.objects("pods", namespace="default")[0]
    assert pod["metadata"]["labels"][INSTANCE_LABEL] == "ours"
    time.sleep(1.0)
    for name in ("theirs", "unlabelled"):
        assert not cluster.workflow(name).get("status"), name  # never touched


def test_a_workflow_that_cannot_run_fails_with_argos_invalid_spec_message(
    cluster: Cluster,
) -> None:
    cluster.start_controller()
    bad = _workflow("bad")
    bad["spec"]["entrypoint"] = "missing"
    cluster.submit(bad)
    done = cluster.wait_finished("bad")
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["message"].startswith("invalid spec: ")
    assert "missing" in done["status"]["message"]
    assert cluster.fake.objects("pods", namespace="default") == []


def test_the_executor_settings_of_the_controller_configmap_shape_the_pods(
    cluster: Cluster,
) -> None:
    executor = {
        "imagePullPolicy": "IfNotPresent",
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
        "env": [{"name": "EXTRA", "value": "1"}],
    }
    _config(cluster, executor=executor)
    cluster.start_controller()
    cluster.submit(_workflow("shaped"))
    assert cluster.wait_finished("shaped")["status"]["phase"] == "Succeeded"
    pod = cluster.fake.objects("pods", namespace="default")[0]
    wait = next(c for c in pod["spec"]["containers"] if c["name"] == "wait")
    assert wait["imagePullPolicy"] == "IfNotPresent"
    assert wait["resources"] == executor["resources"]
    assert {"name": "EXTRA", "value": "1"} in wait["env"]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Workflow"


def test_a_namespace_artifact_repository_ref_is_resolved_and_recorded(cluster: Cluster) -> None:
    repository = {"s3": {"endpoint": "127.0.0.1:1", "bucket": "b", "insecure": True}}
    cluster.fake.seed(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "my-repos", "namespace": "default"},
            "data": {"team": yaml.safe_dump(repository)},
        }
    )
    cluster.start_controller()
    wf = _workflow("refd")
    wf["spec"]["artifactRepositoryRef"] = {"configMap": "my-repos", "key": "team"}
    missing = _workflow("norepo")
    missing["spec"]["artifactRepositoryRef"] = {"configMap": "nope", "key": "x"}
    cluster.submit(wf)
    cluster.submit(missing)
    done = cluster.wait_finished("refd")
    ref = done["status"]["artifactRepositoryRef"]
    assert ref["configMap"] == "my-repos" and ref["key"] == "team"
    assert ref["artifactRepository"]["s3"]["bucket"] == "b"
    refused = cluster.wait_finished("norepo")
    assert refused["status"]["phase"] == "Failed"
    assert "ConfigMap default/nope not found" in refused["status"]["message"]


def test_parallelism_holds_back_workflows_beyond_the_limit(cluster: Cluster) -> None:
    _config(cluster, parallelism="1")
    cluster.start_controller()
    cluster.submit(_workflow("first", "sleep 2"))
    time.sleep(0.5)
    cluster.submit(_workflow("second"))
    time.sleep(1.0)
    assert not cluster.workflow("second").get("status")  # waits, unstarted
    first = cluster.wait_finished("first")
    second = cluster.wait_finished("second")
    assert first["status"]["finishedAt"] <= second["status"]["startedAt"]


def test_stopping_a_workflow_signals_its_running_container_through_pods_exec(
    cluster: Cluster,
) -> None:
    cluster.start_controller()
    cluster.submit(_workflow("long", "sleep 60"))
    end = time.monotonic() + 30
    while time.monotonic() < end:
        pods = cluster.fake.objects("pods", namespace="default")
        statuses = pods[0].get("status", {}).get("containerStatuses", []) if pods else []
        if any(s["name"] == "main" and "running" in s.get("state", {}) for s in statuses):
            break
        time.sleep(0.1)
    api = cluster.api()
    path = "/apis/argoproj.io/v1alpha1/namespaces/default/workflows/long"
    api.merge_patch(path, {"spec": {"shutdown": "Stop"}})
    done = cluster.wait_finished("long", timeout=60)
    assert done["status"]["phase"] == "Failed"
    execs = [
        r for r in cluster.fake.requests(path=r"/pods/[^/]+/exec") if r.user == CONTROLLER_USER
    ]
    assert execs, "no pods/exec call"
    commands = [[v for k, v in r.params if k == "command"] for r in execs]
    assert ["/var/run/argo/argoexec", "kill", "15", "1"] in commands


def test_health_and_metrics_are_served(cluster: Cluster) -> None:
    replica = cluster.start_controller(health_port=0, metrics_port=None, address="127.0.0.1")
    cluster.submit(_workflow("counted"))
    cluster.wait_finished("counted")
    end = time.monotonic() + 10
    while not replica.controller.endpoints and time.monotonic() < end:
        time.sleep(0.05)
    port = replica.controller.endpoints[0].port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
        assert answer.status == 200
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    assert 'argo_workflows_gauge{phase="Succeeded"} 1.0' in text
    assert "argo_workflows_is_leader 1.0" in text


def _two_steps(name: str, pod_gc: dict[str, Any]) -> dict[str, Any]:
    def step(label: str, code: int) -> dict[str, Any]:
        return {
            "name": label,
            "metadata": {"labels": {"keep": "yes" if label == "kept" else "no"}},
            "container": {"image": "busybox", "command": ["sh", "-c", f"exit {code}"]},
        }

    return {
        "metadata": {"name": name},
        "spec": {
            "entrypoint": "main",
            "podGC": pod_gc,
            "templates": [
                {
                    "name": "main",
                    "steps": [
                        [{"name": "a", "template": "kept"}, {"name": "b", "template": "gone"}]
                    ],
                },
                step("kept", 0),
                step("gone", 0),
            ],
        },
    }


def _pods_left(cluster: Cluster) -> set[str]:
    return {
        p["metadata"]["labels"].get("keep", "")
        for p in cluster.fake.objects("pods", namespace="default")
    }


def test_without_a_pod_gc_strategy_finished_pods_stay(cluster: Cluster) -> None:
    cluster.start_controller()
    cluster.submit(_two_steps("stay", {}))
    assert cluster.wait_finished("stay")["status"]["phase"] == "Succeeded"
    time.sleep(0.5)
    assert _pods_left(cluster) == {"yes", "no"}


def test_pod_gc_deletes_the_pods_its_label_selector_selects_after_the_delay(
    cluster: Cluster,
) -> None:
    cluster.start_controller()
    selector = {"matchExpressions": [{"key": "keep", "operator": "NotIn", "values": ["yes"]}]}
    gc = {"strategy": "OnWorkflowCompletion", "labelSelector": selector,
          "deleteDelayDuration": "1s"}  # fmt: skip
    cluster.submit(_two_steps("gc", gc))
    assert cluster.wait_finished("gc")["status"]["phase"] == "Succeeded"
    end = time.monotonic() + 20
    while _pods_left(cluster) != {"yes"} and time.monotonic() < end:
        time.sleep(0.1)
    assert _pods_left(cluster) == {"yes"}


def test_a_pod_the_api_server_refuses_fails_its_node_with_the_servers_message(
    cluster: Cluster,
) -> None:
    cluster.fake.deny("create", "pods", namespace="default")
    cluster.start_controller()
    cluster.submit(_workflow("refusedpod"))
    done = cluster.wait_finished("refusedpod")
    assert done["status"]["phase"] in ("Failed", "Error")
    [node] = done["status"]["nodes"].values()
    assert node["phase"] in ("Failed", "Error")
    assert 'cannot create resource "pods"' in node["message"]
    creations = [r for r in cluster.fake.requests("POST", r"/pods$")]
    assert len(creations) == 1  # refused for good: not asked again


def test_the_configmaps_workflow_defaults_are_merged_under_each_workflow(
    cluster: Cluster,
) -> None:
    defaults = {
        "metadata": {"labels": {"team": "data"}},
        "spec": {
            "arguments": {"parameters": [{"name": "who", "value": "defaults"}]},
            "ttlStrategy": {"secondsAfterCompletion": 3600},
            "serviceAccountName": "from-defaults",
        },
    }
    _config(cluster, workflowDefaults=defaults)
    cluster.start_controller()
    own = _workflow("defaulted", command="echo {{workflow.parameters.who}}")
    own["spec"]["serviceAccountName"] = "own"
    cluster.submit(own)
    done = cluster.wait_finished("defaulted")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert done["metadata"]["labels"]["team"] == "data"
    assert done["spec"]["ttlStrategy"] == {"secondsAfterCompletion": 3600}
    pod = cluster.fake.objects("pods", namespace="default")[0]
    assert pod["spec"]["serviceAccountName"] == "own"  # the workflow's own value wins
    main = next(c for c in pod["spec"]["containers"] if c["name"] == "main")
    assert "echo defaults" in " ".join(main.get("args") or main.get("command") or [])
