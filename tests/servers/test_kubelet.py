"""The node agent runs the fake API server's pods as a kubelet would (tests/servers/kubelet.py)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller.pod import PodContext, build_pod
from argoexec.models import Template
from tests.servers._kube_store import ApiError
from tests.servers.kube import FakeKube
from tests.servers.kubelet import NodeAgent
from tests.servers.procs import command_lines, wait_until

NAMESPACE = "argo"
WORKFLOW = "wf"
TERMINAL = ("Succeeded", "Failed")


def argo_pod(node: str, script: str, *, account: str | None = None, **spec: Any) -> dict[str, Any]:
    """The pod the project's builder makes for a container template running ``sh -c script``."""
    template = Template.model_validate(
        {
            "name": "step",
            "container": {"image": "busybox", "command": ["sh", "-c"], "args": [script]},
        }
    )
    workflow_spec = {"serviceAccountName": account} if account else {}
    ctx = PodContext(
        workflow_name=WORKFLOW,
        node_name=f"{WORKFLOW}.{node}",
        workflow_uid=str(uuid.uuid4()),
        namespace=NAMESPACE,
        workflow_spec=workflow_spec,
        include_script_output=True,
    )
    pod = build_pod(template, ctx)
    pod["spec"].update(spec)
    return pod


def create(fake: FakeKube, pod: dict[str, Any]) -> str:
    created = fake.store.create(fake.kind("pods"), NAMESPACE, pod)
    return str(created["metadata"]["name"])


def pod_status(fake: FakeKube, name: str) -> dict[str, Any]:
    pod = fake.get("pods", name, NAMESPACE)
    assert pod is not None, f"pod {name} is gone"
    return pod.get("status") or {}


def wait_phase(fake: FakeKube, name: str, phases: tuple[str, ...] = TERMINAL) -> dict[str, Any]:
    wait_until(
        lambda: pod_status(fake, name).get("phase") in phases,
        timeout=90,
        what=f"pod {name} to be {'/'.join(phases)}",
    )
    return pod_status(fake, name)


def wait_running(fake: FakeKube, name: str, container: str) -> None:
    def running() -> bool:
        states = {
            c["name"]: c["state"] for c in pod_status(fake, name).get("containerStatuses", [])
        }
        return "running" in states.get(container, {})

    wait_until(running, timeout=90, what=f"container {container} of {name} to run")


def terminated(status: dict[str, Any], container: str) -> dict[str, Any]:
    states = {c["name"]: c["state"] for c in status["containerStatuses"]}
    found: dict[str, Any] = states[container]["terminated"]
    return found


def test_an_argo_pod_runs_to_success_and_its_wait_reports_as_the_service_account(
    node_agent: NodeAgent, kube_api_tls: FakeKube
) -> None:
    fake = kube_api_tls
    name = create(fake, argo_pod("hello", "echo hello", account="workflow-runner"))

    status = wait_phase(fake, name)

    assert status["phase"] == "Succeeded", json.dumps(status)
    pod = fake.get("pods", name, NAMESPACE)
    assert pod["spec"]["nodeName"] == "node-1"
    assert (status["podIP"], status["hostIP"]) == ("127.0.0.1", "127.0.0.1")
    assert status["startTime"]
    assert [c["name"] for c in status["initContainerStatuses"]] == ["init"]
    assert terminated(status, "main")["exitCode"] == 0
    assert terminated(status, "wait")["reason"] == "Completed"
    results = fake.objects("workflowtaskresults", "argoproj.io", NAMESPACE)
    assert len(results) == 1
    labels = results[0]["metadata"]["labels"]
    assert labels["workflows.argoproj.io/workflow"] == WORKFLOW
    assert labels["workflows.argoproj.io/report-outputs-completed"] == "true"
    assert results[0]["outputs"]["result"] == "hello"
    writes = fake.requests(path="workflowtaskresults")
    assert writes, "the wait container wrote no task result through the API"
    assert {r.user for r in writes} == {"system:serviceaccount:argo:workflow-runner"}
    assert {r.status for r in writes} <= {200, 201}


def test_a_failing_main_fails_the_pod_with_its_exit_code_and_deleting_it_removes_it(
    node_agent: NodeAgent, kube_api_tls: FakeKube
) -> None:
    name = create(kube_api_tls, argo_pod("fail", "echo partial; exit 3"))

    status = wait_phase(kube_api_tls, name)

    assert status["phase"] == "Failed"
    main = terminated(status, "main")
    assert (main["exitCode"], main["reason"]) == (3, "Error")
    ready = {c["type"]: c["status"] for c in status["conditions"]}
    assert ready == {
        "Initialized": "True",
        "Ready": "False",
        "ContainersReady": "False",
        "PodScheduled": "True",
    }

    kube_api_tls.store.delete(kube_api_tls.kind("pods"), NAMESPACE, name, {})
    wait_until(
        lambda: not (node_agent.root / "pods" / NAMESPACE / name).exists(),
        timeout=10,
        what="the deleted pod's files (logs too) to be removed",
    )
    assert not kube_api_tls.tokens  # type: ignore[attr-defined]


def test_logs_are_served_whole_tailed_and_followed_until_the_container_ends(
    node_agent: NodeAgent, kube_api_tls: FakeKube
) -> None:
    script = "echo one; echo two; sleep 1; echo three"
    name = create(kube_api_tls, argo_pod("logs", script))
    wait_running(kube_api_tls, name, "main")

    followed = b"".join(
        node_agent.log(
            NAMESPACE, name, "main", follow=True, tail_lines=None, timestamps=False, previous=False
        )
    )
    assert followed == b"one\ntwo\nthree\n"
    wait_phase(kube_api_tls, name)
    tail = node_agent.log(
        NAMESPACE, name, "main", follow=False, tail_lines=1, timestamps=True, previous=False
    )
    stamp, line = b"".join(tail).split(b" ", 1)
    assert line == b"three\n"
    assert stamp.endswith(b"Z") and b"T" in stamp


def test_log_and_exec_answer_as_the_api_server_for_what_cannot_be_served(
    node_agent: NodeAgent, kube_api_tls: FakeKube
) -> None:
    name = create(kube_api_tls, argo_pod("errors", "exit 0"))
    wait_phase(kube_api_tls, name)

    cases = [
        (
            lambda: node_agent.log(
                NAMESPACE,
                "nope",
                "main",
                follow=False,
                tail_lines=None,
                timestamps=False,
                previous=False,
            ),
            404,
            'pods "nope" not found',
        ),
        (
            lambda: node_agent.log(
                NAMESPACE, name, "", follow=False, tail_lines=None, timestamps=False, previous=False
            ),
            400,
            f"a container name must be specified for pod {name}, choose one of: [wait main] or "
            "one of the init containers: [init]",
        ),
        (
            lambda: node_agent.log(
                NAMESPACE,
                name,
                "main",
                follow=False,
                tail_lines=None,
                timestamps=False,
                previous=True,
            ),
            400,
            f'previous terminated container "main" in pod "{name}" not found',
        ),
        (
            lambda: node_agent.exec(NAMESPACE, name, "side", ["true"]),
            400,
            f"container side is not valid for pod {name}",
        ),
        (
            lambda: node_agent.exec(NAMESPACE, name, "main", ["true"]),
            500,
            'container not found ("main")',
        ),
    ]
    for call, code, message in cases:
        with pytest.raises(ApiError) as caught:
            call()
        assert (caught.value.code, caught.value.message) == (code, message)


def test_an_exec_of_kill_ends_a_sleeping_main(
    node_agent: NodeAgent, kube_api_tls: FakeKube
) -> None:
    name = create(kube_api_tls, argo_pod("kill", "echo started; sleep 60"))
    wait_until(
        lambda: (
            b"started"
            in b"".join(
                node_agent.log(
                    NAMESPACE,
                    name,
                    "main",
                    follow=False,
                    tail_lines=None,
                    timestamps=False,
                    previous=False,
                )
            )
        ),
        timeout=90,
        what="main to start sleeping",
    )

    stdout, stderr, code = node_agent.exec(
        NAMESPACE, name, "main", ["/var/run/argo/argoexec", "kill", "15", "1"]
    )

    assert code in (0, 137), stderr  # the exec'd kill may die with PID 1
    assert stdout == b"killing 1 with 15\n"
    status = wait_phase(kube_api_tls, name)
    assert status["phase"] == "Failed"
    assert terminated(status, "main")["exitCode"] == 143


def test_deleting_a_running_pod_kills_its_processes_and_removes_its_files(
    node_agent: NodeAgent, kube_api_tls: FakeKube
) -> None:
    marker = f"sleep 3{uuid.uuid4().int % 1000:03d}"
    name = create(kube_api_tls, argo_pod("gone", marker, terminationGracePeriodSeconds=2))
    wait_running(kube_api_tls, name, "main")
    wait_until(
        lambda: any(marker in line for _, line in command_lines()),
        timeout=30,
        what="the main's process",
    )
    tokens = dict(kube_api_tls.tokens)  # type: ignore[attr-defined]
    assert "system:serviceaccount:argo:default" in tokens.values()

    kube_api_tls.store.delete(kube_api_tls.kind("pods"), NAMESPACE, name, {})

    wait_until(
        lambda: not any(marker in line for _, line in command_lines()),
        timeout=30,
        what="the main's process to end",
    )
    run = node_agent.run_of(NAMESPACE, name)
    assert run is not None
    wait_until(run.finished.is_set, timeout=30, what="the run to end")
    wait_until(
        lambda: not (node_agent.root / "pods" / NAMESPACE / name).exists(),
        timeout=10,
        what="the pod's files to be removed",
    )
    assert not set(tokens) & set(kube_api_tls.tokens)  # type: ignore[attr-defined]


def test_a_missing_secret_gives_the_kubelets_create_container_config_error(
    node_agent: NodeAgent, kube_api_tls: FakeKube
) -> None:
    pod = argo_pod("secret", "echo $PASSWORD")
    main = pod["spec"]["containers"][1]
    main["env"].append(
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}
    )
    name = create(kube_api_tls, pod)

    status = wait_phase(kube_api_tls, name)

    states = {c["name"]: c["state"] for c in status["containerStatuses"]}
    assert states["main"]["waiting"]["reason"] == "CreateContainerConfigError"
    assert status["phase"] == "Failed"


def test_a_secret_and_the_node_name_reach_the_container_and_the_deadline_ends_the_pod(
    node_agent: NodeAgent, kube_api_tls: FakeKube
) -> None:
    kube_api_tls.add_secret(NAMESPACE, "db", {"password": "s3cret"})
    script = "echo pw=$PASSWORD node=$NODE; sleep 60"
    pod = argo_pod("deadline", script, activeDeadlineSeconds=4)
    pod["spec"]["containers"][1]["env"] += [
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ]
    name = create(kube_api_tls, pod)

    status = wait_phase(kube_api_tls, name, ("Failed",))

    assert (status["reason"], status["message"]) == (
        "DeadlineExceeded",
        "Pod was active on the node longer than the specified deadline",
    )
    text = b"".join(
        node_agent.log(
            NAMESPACE, name, "main", follow=False, tail_lines=None, timestamps=False, previous=False
        )
    )
    assert b"pw=s3cret node=node-1\n" in text


def test_pods_created_before_the_agent_starts_run_and_stop_ends_every_pod(
    kube_api_tls: FakeKube, tmp_path: Path
) -> None:
    before = create(kube_api_tls, argo_pod("early", "echo early"))
    marker = f"sleep 4{uuid.uuid4().int % 1000:03d}"
    with NodeAgent(kube_api_tls, tmp_path / "node") as agent:
        sleeper = create(kube_api_tls, argo_pod("sleeper", marker))
        assert wait_phase(kube_api_tls, before)["phase"] == "Succeeded"
        wait_running(kube_api_tls, sleeper, "main")
        assert kube_api_tls.kubelet is agent  # type: ignore[attr-defined]
    assert not any(marker in line for _, line in command_lines())
    assert pod_status(kube_api_tls, sleeper)["phase"] == "Failed"


def test_unsandboxed_the_executor_still_reaches_the_api_server_as_the_service_account(
    kube_api_tls: FakeKube, tmp_path: Path
) -> None:
    with NodeAgent(kube_api_tls, tmp_path / "node", sandbox=False):
        name = create(kube_api_tls, argo_pod("plain", "echo plain"))
        status = wait_phase(kube_api_tls, name)

    assert status["phase"] == "Succeeded", json.dumps(status)
    results = kube_api_tls.objects("workflowtaskresults", "argoproj.io", NAMESPACE)
    assert [r["outputs"]["result"] for r in results] == ["plain"]
    users = {r.user for r in kube_api_tls.requests(path="workflowtaskresults")}
    assert users == {"system:serviceaccount:argo:default"}


def test_no_more_pods_run_at_once_than_the_agent_allows_and_all_of_them_end(
    kube_api_tls: FakeKube, tmp_path: Path
) -> None:
    with NodeAgent(kube_api_tls, tmp_path / "node", max_pods=2):
        names = [create(kube_api_tls, argo_pod(f"many-{i}", "sleep 0.3")) for i in range(6)]
        phases = [wait_phase(kube_api_tls, name)["phase"] for name in names]

    assert phases == ["Succeeded"] * 6
    # Replay what a watcher saw: a pod runs from its first status with a pod IP to its end.
    running: set[str] = set()
    most = 0
    for event in kube_api_tls.store.events:
        if event.kind.plural != "pods" or event.type != "MODIFIED":
            continue
        status, pod = event.obj.get("status") or {}, event.obj["metadata"]["name"]
        if status.get("phase") in TERMINAL:
            running.discard(pod)
        elif "podIP" in status:
            running.add(pod)
        most = max(most, len(running))
    assert most == 2


def test_after_a_compacted_history_the_agent_lists_again_and_misses_no_pod(
    node_agent: NodeAgent, kube_api_tls: FakeKube
) -> None:
    fake, pods = kube_api_tls, kube_api_tls.kind("pods")
    doomed = create(fake, argo_pod("doomed", "sleep 60", terminationGracePeriodSeconds=1))
    wait_running(fake, doomed, "main")
    run = node_agent.run_of(NAMESPACE, doomed)
    assert run is not None

    with fake.store.lock:  # the agent cannot read these events before they are compacted
        fake.store.delete(pods, NAMESPACE, doomed, {})
        added = create(fake, argo_pod("added", "echo added"))
        fake.compact()

    assert wait_phase(fake, added)["phase"] == "Succeeded"
    wait_until(run.finished.is_set, timeout=30, what="the deleted pod to end")
    assert run.deleted
