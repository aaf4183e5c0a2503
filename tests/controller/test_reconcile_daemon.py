"""Daemon templates, pass by pass: a daemon is daemoned once its pod's containers are ready, the
steps after it start while it serves and see its address, and it is stopped (SIGTERM, node
Succeeded) when its scope ends, as Argo's operator does."""

from __future__ import annotations

import signal
from typing import Any

from argoexec.controller.loop.seams import PodObservation
from tests.controller.reconcile_double import Cluster, nodes_by_name, phases, step, workflow
from tests.controller.test_reconcile import T0, node_id

SERVER = {
    "name": "server",
    "daemon": True,
    "container": {"image": "python", "command": ["python3", "-m", "http.server", "80"]},
}
CLIENT = {
    "name": "client",
    "inputs": {"parameters": [{"name": "ip"}]},
    "container": {"image": "curl", "command": ["curl", "http://{{inputs.parameters.ip}}/"]},
}
STEPS = {
    "entrypoint": "main",
    "templates": [
        {
            "name": "main",
            "steps": [
                [{"name": "server", "template": "server"}],
                [
                    {
                        "name": "client",
                        "template": "client",
                        "arguments": {
                            "parameters": [{"name": "ip", "value": "{{steps.server.ip}}"}]
                        },
                    }
                ],
            ],
        },
        SERVER,
        CLIENT,
    ],
}


def _serve(cluster: Cluster, wf: dict[str, Any], name: str, ip: str, ready: bool) -> None:
    """The daemon's pod runs with address `ip`, its containers ready or not yet."""
    pod = cluster.pods[node_id(wf, name)]
    pod.status.pod_ip = ip
    for container in pod.status.containers:
        container.probed_ready = None if ready else False


def _created(cluster: Cluster, name: str) -> dict[str, Any]:
    return dict(next(s for n, s in cluster.specs.items() if f"-{name}-" in n))


def test_a_daemon_is_daemoned_once_ready_and_the_next_step_reaches_it_by_its_ip() -> None:
    wf = workflow(STEPS)
    cluster = Cluster()
    step(wf, cluster, T0)
    _serve(cluster, wf, "wf[0].server", "10.244.0.7", ready=False)
    step(wf, cluster, T0 + 1)
    step(wf, cluster, T0 + 2)
    server = nodes_by_name(wf)["wf[0].server"]
    assert server["phase"] == "Running" and "daemoned" not in server
    assert "wf[1].client" not in phases(wf)  # not ready: nothing after it starts

    _serve(cluster, wf, "wf[0].server", "10.244.0.7", ready=True)
    step(wf, cluster, T0 + 3)
    server = nodes_by_name(wf)["wf[0].server"]
    assert server["daemoned"] is True and server["podIP"] == "10.244.0.7"
    assert server["phase"] == "Running" and server["hostNodeName"] == "localhost"
    assert phases(wf)["wf[0]"] == "Succeeded"
    client = _created(cluster, "client")
    main = next(c for c in client["spec"]["containers"] if c["name"] == "main")
    assert "http://10.244.0.7/" in " ".join(main.get("args") or main.get("command") or [])


def test_a_daemon_on_a_cluster_node_records_that_node_as_its_host() -> None:
    """As any pod's node: `hostNodeName` is the pod's `spec.nodeName` (what a retry's
    nodeAntiAffinity keeps the next attempt off), not this machine's name."""
    wf = workflow(STEPS)
    cluster = Cluster()
    step(wf, cluster, T0)
    _serve(cluster, wf, "wf[0].server", "10.244.0.7", ready=True)
    cluster.pods[node_id(wf, "wf[0].server")].status.node_name = "worker-2"
    step(wf, cluster, T0 + 1)
    server = nodes_by_name(wf)["wf[0].server"]
    assert server["daemoned"] is True and server["hostNodeName"] == "worker-2"


def test_the_daemon_is_stopped_and_succeeds_when_its_steps_end() -> None:
    wf = workflow(STEPS)
    cluster = Cluster()
    step(wf, cluster, T0)
    _serve(cluster, wf, "wf[0].server", "10.244.0.7", ready=True)
    step(wf, cluster, T0 + 2)
    step(wf, cluster, T0 + 3)
    cluster.end(node_id(wf, "wf[1].client"))
    cluster.signals.clear()
    pod = cluster.pods[node_id(wf, "wf[0].server")].pod_name
    done = step(wf, cluster, T0 + 4)
    server = nodes_by_name(wf)["wf[0].server"]
    assert server["phase"] == "Succeeded" and "daemoned" not in server
    assert (pod, "main", signal.SIGTERM) in cluster.signals
    assert (pod, "wait", signal.SIGTERM) not in cluster.signals
    assert done.finished and wf["status"]["phase"] == "Succeeded"


def test_a_daemon_that_fails_before_it_is_ready_fails_its_step() -> None:
    wf = workflow(STEPS)
    cluster = Cluster()
    step(wf, cluster, T0)
    _serve(cluster, wf, "wf[0].server", "10.244.0.7", ready=False)
    cluster.end(node_id(wf, "wf[0].server"), 1)
    step(wf, cluster, T0 + 1)
    assert phases(wf)["wf[0].server"] == "Failed"
    assert wf["status"]["phase"] == "Failed"
    assert "wf[1].client" not in phases(wf)


def test_a_daemon_whose_pod_exits_while_it_serves_fails() -> None:
    wf = workflow(STEPS)
    cluster = Cluster()
    step(wf, cluster, T0)
    _serve(cluster, wf, "wf[0].server", "10.244.0.7", ready=True)
    step(wf, cluster, T0 + 1)
    cluster.end(node_id(wf, "wf[0].server"), 0)  # a daemon should serve until stopped
    step(wf, cluster, T0 + 2)
    server = nodes_by_name(wf)["wf[0].server"]
    assert server["phase"] == "Failed" and "daemoned" not in server


def test_dag_depends_sees_a_serving_daemon_as_daemoned() -> None:
    spec = {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {"name": "server", "template": "server"},
                        {
                            "name": "client",
                            "template": "client",
                            "depends": "server.Daemoned",
                            "arguments": {
                                "parameters": [{"name": "ip", "value": "{{tasks.server.ip}}"}]
                            },
                        },
                    ]
                },
            },
            SERVER,
            CLIENT,
        ],
    }
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    _serve(cluster, wf, "wf.server", "10.244.0.9", ready=True)
    step(wf, cluster, T0 + 1)
    assert "http://10.244.0.9/" in str(_created(cluster, "client"))
    cluster.end(node_id(wf, "wf.client"))
    step(wf, cluster, T0 + 2)
    assert phases(wf) == {"wf": "Succeeded", "wf.server": "Succeeded", "wf.client": "Succeeded"}


def test_a_daemon_entrypoint_is_stopped_when_the_workflow_ends() -> None:
    wf = workflow({"entrypoint": "server", "templates": [SERVER]})
    cluster = Cluster()
    step(wf, cluster, T0)
    _serve(cluster, wf, "wf", "10.244.0.3", ready=True)
    pod: PodObservation = cluster.pods[node_id(wf, "wf")]
    done = step(wf, cluster, T0 + 1)
    assert done.finished and wf["status"]["phase"] == "Succeeded"
    assert (pod.pod_name, "main", signal.SIGTERM) in cluster.signals


def test_a_retried_daemon_is_done_once_an_attempt_serves_and_its_ip_is_the_attempts() -> None:
    spec = {**STEPS, "templates": [STEPS["templates"][0], {**SERVER, "retryStrategy": {"limit": 2}},
                                   CLIENT]}  # fmt: skip
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    _serve(cluster, wf, "wf[0].server(0)", "10.244.0.5", ready=True)
    step(wf, cluster, T0 + 1)
    assert phases(wf)["wf[0].server"] == "Succeeded"
    assert nodes_by_name(wf)["wf[0].server(0)"]["daemoned"] is True
    assert "http://10.244.0.5/" in str(_created(cluster, "client"))
