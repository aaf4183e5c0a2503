"""`http` templates on a cluster, on Argo's agent contract: the controller writes the
workflow's `WorkflowTaskSet` (`spec.tasks[nodeID]`) and creates one agent pod running
`argoexec agent main`; the agent makes the requests (header secrets read through the API with
the pod's service account) and patches `status.nodes`; the controller takes the results onto
the nodes and, once the workflow completed, labels the task set completed, which ends the
agent."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.cluster.harness import CONTROLLER_USER, Cluster
from tests.cluster.rbac import Authorizer, violations
from tests.servers.httpecho import EchoServer

TASK_SETS = "workflowtasksets"


def _http(url: str, **fields: Any) -> dict[str, Any]:
    return {"url": url, **fields}


def _workflow(name: str, base: str) -> dict[str, Any]:
    ref = {"secretKeyRef": {"name": "api", "key": "token"}}
    return {
        "metadata": {"name": name},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "steps": [
                        [
                            {"name": "echo", "template": "echo"},
                            {
                                "name": "missing",
                                "template": "missing",
                                "continueOn": {"failed": True},
                            },
                        ]
                    ],
                },
                {
                    "name": "echo",
                    "http": _http(
                        f"{base}/echo",
                        method="POST",
                        body="ping",
                        headers=[{"name": "Authorization", "valueFrom": ref}],
                    ),
                },
                {"name": "missing", "http": _http(f"{base}/status/404")},
            ],
        },
    }


def _wait_for(predicate: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_the_agent_pod_serves_the_task_set_and_ends_with_the_workflow(
    cluster: Cluster, echo_server: EchoServer
) -> None:
    cluster.fake.add_secret("default", "api", {"token": "Bearer from-the-cluster"})
    cluster.start_controller()
    cluster.submit(_workflow("calls", echo_server.url))
    done = cluster.wait_finished("calls", timeout=60)
    nodes = {n["displayName"]: n for n in done["status"]["nodes"].values()}
    assert done["status"]["phase"] == "Succeeded", nodes
    assert nodes["echo"]["type"] == "HTTP"
    echoed = json.loads(nodes["echo"]["outputs"]["result"])
    assert (echoed["method"], echoed["body"]) == ("POST", "ping")
    assert echoed["headers"]["Authorization"] == "Bearer from-the-cluster"
    assert nodes["missing"]["phase"] == "Failed"
    assert nodes["missing"]["message"] == "received non-2xx response code: 404"

    (task_set,) = cluster.fake.objects(TASK_SETS, "argoproj.io", "default")
    assert task_set["metadata"]["name"] == "calls"
    assert task_set["metadata"]["ownerReferences"][0]["name"] == "calls"
    assert task_set["metadata"]["labels"]["workflows.argoproj.io/completed"] == "true"
    pods = [p for p in cluster.fake.objects("pods", namespace="default")]
    (agent,) = [p for p in pods if p["metadata"]["name"] == "calls-1340600742-agent"]
    assert agent["metadata"]["labels"]["workflows.argoproj.io/component"] == "agent"
    assert [c["args"][:2] for c in agent["spec"]["containers"]] == [["agent", "main"]]
    # The agent, not the controller, made the requests and reported them; it then ended.
    patches = cluster.fake.requests("PATCH", rf"/{TASK_SETS}/calls/status$")
    assert patches and all(r.user != CONTROLLER_USER for r in patches)
    assert not cluster.fake.requests("GET", "/secrets/api") or all(
        r.user != CONTROLLER_USER for r in cluster.fake.requests("GET", "/secrets/api")
    )
    _wait_for(
        lambda: (cluster.fake.objects("pods", namespace="default") and [
            p for p in cluster.fake.objects("pods", namespace="default")
            if p["metadata"]["name"] == "calls-1340600742-agent"
            and (p.get("status") or {}).get("phase") == "Succeeded"
        ])
    )  # fmt: skip


def test_every_call_of_the_controller_and_the_agent_is_allowed_by_the_manifests(
    cluster: Cluster, objects: list[dict[str, Any]], echo_server: EchoServer
) -> None:
    workflow = _workflow("plain", echo_server.url)
    for template in workflow["spec"]["templates"]:
        (template.get("http") or {}).pop("headers", None)  # no Secret: not granted by default
    cluster.start_controller()
    cluster.submit(workflow, namespace="argoexec")
    done = cluster.wait_finished("plain", namespace="argoexec", timeout=60)
    assert done["status"]["phase"] == "Succeeded"
    authorizer = Authorizer.from_objects(objects)
    journal = cluster.fake.requests()
    assert violations(journal, authorizer, CONTROLLER_USER) == []
    agent = "system:serviceaccount:argoexec:default"
    assert [r for r in journal if r.user == agent and "workflowtasksets" in r.path]
    assert violations(journal, authorizer, agent) == []
