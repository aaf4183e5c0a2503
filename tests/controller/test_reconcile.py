"""The level-triggered reconciler, pass by pass: observed pods in, status and actions out.
Nothing runs; `reconcile_double.Cluster` stands for the pods a controller would observe."""

from __future__ import annotations

import copy
import json
import signal
from typing import Any

import pytest

from argoexec.controller.reconcile import CreatePod, Settings, reconcile
from argoexec.controller.reconcile.clock import epoch
from tests.controller.reconcile_double import Cluster, nodes_by_name, phases, settle, step, workflow

ECHO = {"name": "echo", "container": {"image": "alpine", "command": ["true"]}}
ECHO_IN = {
    "name": "echo-in",
    "inputs": {"parameters": [{"name": "m"}]},
    "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.m}}"]},
}
T0 = epoch("2026-01-01T00:00:10Z") or 0.0


def pods_of(outcome: Any) -> list[str]:
    return [str(a.pod["metadata"]["name"]) for a in outcome.actions if isinstance(a, CreatePod)]


def node_id(wf: dict[str, Any], name: str) -> str:
    return str(nodes_by_name(wf)[name]["id"])


def test_a_container_runs_as_one_pod_and_its_status_follows_the_pod() -> None:
    wf = workflow({"entrypoint": "echo", "templates": [ECHO]})
    cluster = Cluster()
    first = step(wf, cluster, T0)
    assert first.started and len(pods_of(first)) == 1
    assert wf["status"]["phase"] == "Running"
    assert phases(wf) == {"wf": "Pending"}
    step(wf, cluster, T0 + 1)
    assert phases(wf) == {"wf": "Running"}
    cluster.end("wf", outputs={"result": "hi"})
    done = step(wf, cluster, T0 + 2)
    assert done.finished
    assert wf["status"]["phase"] == "Succeeded"
    assert nodes_by_name(wf)["wf"]["outputs"] == {"result": "hi", "exitCode": "0"}
    assert wf["status"]["progress"] == "1/1"
    # Its pod is deleted (pod GC) by the same pass, after the loop stored the status.
    assert cluster.deleted == [first.actions[0].pod["metadata"]["name"]]  # type: ignore[union-attr]


def test_a_failed_main_container_fails_the_node_and_the_workflow() -> None:
    wf = workflow({"entrypoint": "echo", "templates": [ECHO]})
    cluster = Cluster()
    step(wf, cluster, T0)
    cluster.end("wf", 3)
    step(wf, cluster, T0 + 1)
    node = nodes_by_name(wf)["wf"]
    assert node["phase"] == "Failed"
    assert "exit code 3" in node["message"]
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == node["message"]


def test_the_same_input_gives_the_same_pass() -> None:
    spec = {
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[{"name": "a", "template": "echo"}]]},
            ECHO,
        ],
    }
    one, two = workflow(spec), workflow(spec)
    out_one = reconcile(one, Cluster().observed(), T0, Settings())
    out_two = reconcile(two, Cluster().observed(), T0, Settings())
    assert one == two
    assert out_one.actions == out_two.actions


def test_a_pass_repeated_before_the_pod_is_seen_asks_for_the_same_pod_again() -> None:
    """A controller that died after creating a pod but before storing the status creates the
    same pod (same name) again: the backend's AlreadyExists makes it one pod."""
    wf = workflow({"entrypoint": "echo", "templates": [ECHO]})
    stored = copy.deepcopy(wf)
    first = reconcile(wf, Cluster().observed(), T0, Settings())
    again = reconcile(stored, Cluster().observed(), T0 + 5, Settings())
    assert pods_of(first) == pods_of(again)


STEPS = {
    "entrypoint": "main",
    "templates": [
        {
            "name": "main",
            "steps": [
                [{"name": "a", "template": "echo"}],
                [
                    {
                        "name": "b",
                        "template": "echo-in",
                        "arguments": {
                            "parameters": [{"name": "m", "value": "{{steps.a.outputs.result}}"}]
                        },
                    },
                    {"name": "c", "template": "echo", "when": "{{steps.a.outputs.result}} == no"},
                ],
            ],
        },
        ECHO,
        ECHO_IN,
    ],
}


def test_steps_run_group_after_group_with_the_results_of_the_earlier_ones() -> None:
    wf = workflow(STEPS)
    cluster = Cluster()
    step(wf, cluster, T0)
    assert set(phases(wf)) == {"wf", "wf[0]", "wf[0].a"}
    cluster.end(node_id(wf, "wf[0].a"), outputs={"result": "yes"})
    step(wf, cluster, T0 + 1)
    got = phases(wf)
    assert got["wf[0]"] == "Succeeded"
    assert got["wf[1].c"] == "Skipped"
    assert got["wf[1].b"] == "Pending"
    b = nodes_by_name(wf)["wf[1].b"]
    assert b["inputs"]["parameters"][0]["value"] == "yes"
    # Group 1 hangs from group 0's outbound node (the step `a`).
    assert nodes_by_name(wf)["wf[0].a"]["children"] == [node_id(wf, "wf[1]")]
    cluster.end(b["id"])
    settle(wf, cluster, T0 + 2)
    assert wf["status"]["phase"] == "Succeeded"
    assert nodes_by_name(wf)["wf"]["outboundNodes"] == [b["id"], node_id(wf, "wf[1].c")]


def test_a_failed_step_fails_its_group_and_no_later_group_starts() -> None:
    wf = workflow(STEPS)
    cluster = Cluster()
    step(wf, cluster, T0)
    cluster.end(node_id(wf, "wf[0].a"), 1)
    settle(wf, cluster, T0 + 1)
    assert phases(wf) == {"wf": "Failed", "wf[0]": "Failed", "wf[0].a": "Failed"}
    assert wf["status"]["phase"] == "Failed"


def test_a_loop_expands_to_one_child_per_item_and_publishes_the_aggregate() -> None:
    spec = {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "steps": [
                    [{"name": "each", "template": "echo-in", "withItems": ["x", "y", "z"],
                      "arguments": {"parameters": [{"name": "m", "value": "{{item}}"}]}}],
                    [{"name": "after", "template": "echo-in",
                      "arguments": {"parameters": [
                          {"name": "m", "value": "{{steps.each.outputs.result}}"}]}}],
                ],
            },
            ECHO_IN,
        ],
    }  # fmt: skip
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    names = sorted(n for n in phases(wf) if n.startswith("wf[0].each"))
    assert names == ["wf[0].each(0:x)", "wf[0].each(1:y)", "wf[0].each(2:z)"]
    for index, name in enumerate(names):
        cluster.end(node_id(wf, name), outputs={"result": str(index)})
    step(wf, cluster, T0 + 1)
    after = nodes_by_name(wf)["wf[1].after"]
    assert json.loads(after["inputs"]["parameters"][0]["value"]) == [0, 1, 2]


DAG = {
    "entrypoint": "main",
    "templates": [
        {
            "name": "main",
            "dag": {
                "tasks": [
                    {"name": "a", "template": "echo"},
                    {"name": "b", "template": "echo", "depends": "a"},
                    {"name": "c", "template": "echo", "depends": "a.Failed"},
                    {"name": "d", "template": "echo", "depends": "b && c.Omitted"},
                ]
            },
        },
        ECHO,
    ],
}


def test_a_dag_starts_tasks_as_their_dependencies_complete() -> None:
    wf = workflow(DAG)
    cluster = Cluster()
    step(wf, cluster, T0)
    assert set(phases(wf)) == {"wf", "wf.a"}
    cluster.end(node_id(wf, "wf.a"))
    step(wf, cluster, T0 + 1)
    got = phases(wf)
    assert got["wf.c"] == "Omitted"
    assert got["wf.b"] == "Pending"
    assert "wf.d" not in got
    cluster.end(node_id(wf, "wf.b"))
    settle(wf, cluster, T0 + 2)
    assert phases(wf)["wf.d"] == "Running"
    cluster.end(node_id(wf, "wf.d"))
    settle(wf, cluster, T0 + 3)
    assert wf["status"]["phase"] == "Succeeded"
    by_name = nodes_by_name(wf)
    # Root task under the DAG node; others under their dependencies' outbound nodes.
    assert by_name["wf"]["children"] == [by_name["wf.a"]["id"]]
    assert by_name["wf.b"]["children"] == [by_name["wf.d"]["id"]]


RETRY = {
    "entrypoint": "flaky",
    "templates": [
        {
            "name": "flaky",
            "retryStrategy": {"limit": 2, "backoff": {"duration": "10s"}},
            "container": {"image": "alpine", "command": ["false"]},
        }
    ],
}


def test_a_failed_attempt_is_retried_after_its_backoff() -> None:
    wf = workflow(RETRY)
    cluster = Cluster()
    step(wf, cluster, T0)
    assert phases(wf) == {"wf": "Running", "wf(0)": "Pending"}
    cluster.end(node_id(wf, "wf(0)"), 1)
    waiting = step(wf, cluster, T0 + 1)
    assert "wf(1)" not in phases(wf)
    assert nodes_by_name(wf)["wf"]["message"] == "Backoff for 10s"
    finished = epoch(nodes_by_name(wf)["wf(0)"]["finishedAt"]) or 0.0
    assert waiting.wake_at == finished + 10
    step(wf, cluster, finished + 10)
    assert phases(wf)["wf(1)"] == "Pending"
    cluster.end(node_id(wf, "wf(1)"))
    settle(wf, cluster, finished + 11)
    assert phases(wf)["wf"] == "Succeeded"
    assert wf["status"]["phase"] == "Succeeded"


def test_the_last_allowed_attempt_failing_fails_the_retry_node() -> None:
    spec = copy.deepcopy(RETRY)
    spec["templates"][0]["retryStrategy"] = {"limit": 1}
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    cluster.end(node_id(wf, "wf(0)"), 1)
    step(wf, cluster, T0 + 1)  # no backoff: the next attempt in the same pass
    cluster.end(node_id(wf, "wf(1)"), 1)
    settle(wf, cluster, T0 + 2)
    assert phases(wf) == {"wf": "Failed", "wf(0)": "Failed", "wf(1)": "Failed"}
    assert nodes_by_name(wf)["wf"]["message"] == "No more retries left"


def test_a_vanished_pod_errors_its_node_and_the_retry_strategy_applies() -> None:
    spec = copy.deepcopy(RETRY)
    spec["templates"][0]["retryStrategy"] = {"limit": 1, "retryPolicy": "Always"}
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    step(wf, cluster, T0 + 1)  # observed Running
    cluster.pods.clear()  # the pod vanished (its controller's machine went away)
    step(wf, cluster, T0 + 2)
    assert nodes_by_name(wf)["wf(0)"]["phase"] == "Error"
    assert nodes_by_name(wf)["wf(0)"]["message"] == "pod deleted"
    assert phases(wf)["wf(1)"] == "Pending"


SUSPEND = {
    "entrypoint": "main",
    "templates": [
        {
            "name": "main",
            "steps": [
                [{"name": "wait", "template": "pause"}],
                [{"name": "go", "template": "echo"}],
            ],
        },
        {"name": "pause", "suspend": {"duration": "30"}},
        ECHO,
    ],
}


def test_a_suspend_with_a_duration_resumes_itself_when_it_has_passed() -> None:
    wf = workflow(SUSPEND)
    cluster = Cluster()
    first = step(wf, cluster, T0)
    started = epoch(nodes_by_name(wf)["wf[0].wait"]["startedAt"]) or 0.0
    assert phases(wf)["wf[0].wait"] == "Running"
    assert first.wake_at == started + 30
    step(wf, cluster, started + 29)
    assert "wf[1]" not in phases(wf)
    step(wf, cluster, started + 30)
    assert phases(wf)["wf[0].wait"] == "Succeeded"
    assert phases(wf)["wf[1].go"] == "Pending"


def test_a_suspend_node_resumed_by_a_client_lets_the_steps_go_on() -> None:
    spec = copy.deepcopy(SUSPEND)
    spec["templates"][1]["suspend"] = {}
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    assert settle(wf, cluster, T0 + 100).wake_at is None  # it waits for nothing but a resume
    node = nodes_by_name(wf)["wf[0].wait"]
    node["phase"], node["finishedAt"] = "Succeeded", "2026-01-01T00:05:00Z"  # as `resume` does
    step(wf, cluster, T0 + 101)
    assert phases(wf)["wf[1].go"] == "Pending"


def test_the_exit_handler_runs_after_the_entrypoint_and_sees_the_status() -> None:
    spec = {
        "entrypoint": "echo",
        "onExit": "bye",
        "templates": [
            ECHO,
            {
                "name": "bye",
                "container": {"image": "alpine", "command": ["echo", "{{workflow.status}}"]},
            },
        ],
    }
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    cluster.end("wf", 1)
    out = step(wf, cluster, T0 + 1)
    exit_pod = cluster.specs[pods_of(out)[0]]
    assert "Failed" in json.dumps(exit_pod)
    assert wf["status"]["phase"] == "Running"
    cluster.end(node_id(wf, "wf.onExit"))
    settle(wf, cluster, T0 + 2)
    assert wf["status"]["phase"] == "Failed"
    assert phases(wf)["wf.onExit"] == "Succeeded"


def test_a_stop_signals_running_pods_and_the_exit_handler_still_runs() -> None:
    spec = {"entrypoint": "echo", "onExit": "bye", "templates": [ECHO, {**ECHO, "name": "bye"}]}
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    step(wf, cluster, T0 + 1)
    wf["spec"]["shutdown"] = "Stop"  # as `argoexec stop` does
    step(wf, cluster, T0 + 2)
    pod = cluster.pods["wf"].pod_name
    assert (pod, "main", signal.SIGTERM) in cluster.signals
    cluster.end("wf", 143)
    step(wf, cluster, T0 + 3)
    assert nodes_by_name(wf)["wf"]["message"] == "Stopped with strategy 'Stop'"
    assert phases(wf)["wf.onExit"] == "Pending"
    cluster.end(node_id(wf, "wf.onExit"))
    settle(wf, cluster, T0 + 4)
    assert wf["status"]["phase"] == "Failed"
    assert wf["status"]["message"] == "Stopped with strategy 'Stop'"


def test_a_suspended_workflow_starts_nothing_new_until_it_is_resumed() -> None:
    wf = workflow(STEPS)
    cluster = Cluster()
    step(wf, cluster, T0)
    wf["spec"]["suspend"] = True
    cluster.end(node_id(wf, "wf[0].a"), outputs={"result": "yes"})
    out = step(wf, cluster, T0 + 1)
    assert phases(wf)["wf[0].a"] == "Succeeded"  # running pods are still reconciled
    assert not pods_of(out) and "wf[1]" not in phases(wf)
    del wf["spec"]["suspend"]
    out = step(wf, cluster, T0 + 2)
    assert len(pods_of(out)) == 1


def test_the_machine_cap_holds_pods_pending_with_a_message() -> None:
    spec = {
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[{"name": "s", "template": "echo",
                                         "withItems": [1, 2, 3]}]]},
            ECHO,
        ],
    }  # fmt: skip
    wf = workflow(spec)
    cluster = Cluster()
    settings = Settings(max_pods=2)
    out = step(wf, cluster, T0, settings)
    assert len(pods_of(out)) == 2
    waiting = nodes_by_name(wf)["wf[0].s(2:3)"]
    assert waiting["phase"] == "Pending"
    assert waiting["message"].startswith("Waiting for a pod slot: 2 pods already run")
    cluster.end(node_id(wf, "wf[0].s(0:1)"))
    out = step(wf, cluster, T0 + 1, settings)
    assert len(pods_of(out)) == 1
    assert "message" not in nodes_by_name(wf)["wf[0].s(2:3)"]


def test_a_template_that_does_not_exist_errors_the_step_group_at_once() -> None:
    spec = {
        "entrypoint": "main",
        "templates": [{"name": "main", "steps": [[{"name": "a", "template": "nope"}]]}],
    }
    wf = workflow(spec)
    settle(wf, Cluster(), T0)
    group = nodes_by_name(wf)["wf[0]"]
    assert group["phase"] == "Error"
    assert "template 'nope' not found" in group["message"]
    assert wf["status"]["phase"] == "Failed"


def test_a_dag_slot_freed_by_a_task_is_taken_in_the_same_pass() -> None:
    spec = {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "parallelism": 1,
                "dag": {
                    "tasks": [{"name": "a", "template": "echo"}, {"name": "b", "template": "echo"}]
                },
            },
            ECHO,
        ],
    }
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    assert set(phases(wf)) == {"wf", "wf.a"}  # one at a time
    cluster.end(node_id(wf, "wf.a"))
    out = step(wf, cluster, T0 + 1)
    assert phases(wf)["wf.a"] == "Succeeded"
    assert len(pods_of(out)) == 1 and phases(wf)["wf.b"] == "Pending"


def test_a_running_pod_is_ended_by_its_own_deadline_not_by_its_templates_timeout() -> None:
    # As in Argo: a pod template's `timeout` becomes the pod's activeDeadlineSeconds, and the
    # kubelet ends the pod with its own message; the controller sends no signal of its own.
    slow = {**ECHO, "name": "slow", "timeout": "4s"}
    wf = workflow({"entrypoint": "slow", "templates": [slow]})
    cluster = Cluster()
    first = step(wf, cluster, T0)
    pod = first.actions[0].pod  # type: ignore[union-attr]
    assert pod["spec"]["activeDeadlineSeconds"] == 5  # counted from the next whole second
    step(wf, cluster, T0 + 1)
    assert phases(wf) == {"wf": "Running"}
    past = step(wf, cluster, T0 + 10)
    assert not cluster.signals and not past.actions
    assert phases(wf) == {"wf": "Running"}
    observed = cluster.pods["wf"]
    for container in observed.status.containers:
        container.terminate(143, "", 1.0)
    observed.status.conclude()
    observed.status.phase, observed.status.reason = "Failed", "DeadlineExceeded"
    observed.status.message = "Pod was active on the node longer than the specified deadline"
    step(wf, cluster, T0 + 11)
    node = nodes_by_name(wf)["wf"]
    assert node["phase"] == "Failed"
    assert node["message"] == "Pod was active on the node longer than the specified deadline"


def test_a_pod_still_pending_past_its_templates_timeout_is_stopped() -> None:
    slow = {**ECHO, "name": "slow", "timeout": "4s"}
    wf = workflow({"entrypoint": "slow", "templates": [slow]})
    cluster = Cluster()
    step(wf, cluster, T0)  # the node is Pending until a pass sees its pod run
    step(wf, cluster, T0 + 10)
    assert (cluster.pods["wf"].pod_name, "main", signal.SIGTERM) in cluster.signals
    cluster.end("wf", 143)
    step(wf, cluster, T0 + 11)
    node = nodes_by_name(wf)["wf"]
    assert node["phase"] == "Failed"
    assert node["message"] == "Step exceeded its deadline"


# --- one case per pod kind ------------------------------------------------------------------

POD_KINDS = {
    "container": ({"container": {"image": "alpine", "command": ["true"]}}, ["main"]),
    "script": ({"script": {"image": "alpine", "command": ["sh"], "source": "echo hi"}}, ["main"]),
    "containerSet": (
        {
            "containerSet": {
                "containers": [
                    {"name": "a", "image": "alpine", "command": ["true"]},
                    {"name": "b", "image": "alpine", "command": ["true"], "dependencies": ["a"]},
                ]
            }
        },
        ["a", "b"],
    ),
    "resource": (
        {
            "resource": {
                "action": "create",
                "manifest": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
            }
        },
        ["main"],
    ),
}


@pytest.mark.parametrize("kind", sorted(POD_KINDS))
def test_each_pod_kind_is_one_pod_with_its_containers_and_ends_with_it(kind: str) -> None:
    body, mains = POD_KINDS[kind]
    wf = workflow({"entrypoint": "t", "templates": [{"name": "t", **body}]})
    cluster = Cluster()
    settings = Settings(kubernetes_api=True)
    first = step(wf, cluster, T0, settings)
    [pod] = [a.pod for a in first.actions if isinstance(a, CreatePod)]
    names = [c["name"] for c in pod["spec"]["containers"]]
    assert set(mains) <= set(names), names
    assert nodes_by_name(wf)["wf"]["type"] == "Pod"
    cluster.end("wf")
    settle(wf, cluster, T0 + 1, settings)
    assert phases(wf) == {"wf": "Succeeded"}
    assert wf["status"]["phase"] == "Succeeded"


def test_a_resource_template_without_a_kubernetes_api_errors_without_a_pod() -> None:
    body, _ = POD_KINDS["resource"]
    wf = workflow({"entrypoint": "t", "templates": [{"name": "t", **body}]})
    out = step(wf, Cluster(), T0)
    assert not pods_of(out)
    node = nodes_by_name(wf)["wf"]
    assert node["phase"] == "Error"
    assert "needs a Kubernetes API" in node["message"]
