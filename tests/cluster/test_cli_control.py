"""`argoexec stop|terminate|suspend|resume|retry|resubmit` on a cluster change the Workflow
resource; the cluster's controller carries the change out (the commands drive nothing)."""

from __future__ import annotations

import time

import pytest

from tests.cluster.cli import SLEEPING, SUSPENDING, Cli, container, node_phases, wait_for, workflow
from tests.cluster.harness import Cluster


@pytest.fixture
def cli(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> Cli:
    cluster.start_controller()
    return Cli(cluster, capsys)


def running(cluster: Cluster, name: str, node: str) -> None:
    wait_for(
        f"node {node} of {name} running",
        lambda: node_phases(cluster.workflow(name)).get(node) == "Running",
    )


@pytest.mark.parametrize(("verb", "said"), [("stop", "stopped"), ("terminate", "terminated")])
def test_stop_and_terminate_end_a_running_workflow_through_the_controller(
    cluster: Cluster, cli: Cli, verb: str, said: str
) -> None:
    assert cli("submit", str(cli.write("sleeping", SLEEPING))).code == 0
    running(cluster, "sleeping", "sleeping")
    done = cli(verb, "sleeping")
    assert (done.code, done.out) == (0, f"workflow sleeping {said}\n"), done.err
    assert cluster.workflow("sleeping")["spec"]["shutdown"] == verb.capitalize()
    final = cluster.wait_finished("sleeping", timeout=60)
    assert final["status"]["phase"] == "Failed"
    assert verb.capitalize() in final["status"]["message"], final["status"]
    again = cli(verb, "sleeping")
    assert again.code == 64 and "Traceback" not in again.err


def test_suspend_holds_the_next_step_until_resume(cluster: Cluster, cli: Cli) -> None:
    paced = workflow(
        "paced",
        {
            "name": "main",
            "steps": [[{"name": "a", "template": "nap"}], [{"name": "b", "template": "say"}]],
        },
        container("nap", "sleep 2"),
        container("say", "echo done"),
    )
    assert cli("submit", str(cli.write("paced", paced))).code == 0
    running(cluster, "paced", "a")
    assert cli("suspend", "paced").out == "workflow paced suspended\n"
    wait_for("a to end", lambda: node_phases(cluster.workflow("paced")).get("a") == "Succeeded")
    time.sleep(2)
    assert "b" not in node_phases(cluster.workflow("paced"))
    assert cluster.workflow("paced")["status"]["phase"] == "Running"
    assert cli("resume", "paced").out == "workflow paced resumed\n"
    final = cluster.wait_finished("paced", timeout=60)
    assert final["status"]["phase"] == "Succeeded"
    assert node_phases(final)["b"] == "Succeeded"


def test_resume_lets_a_suspend_template_go_on(cluster: Cluster, cli: Cli) -> None:
    assert cli("submit", str(cli.write("suspending", SUSPENDING))).code == 0
    running(cluster, "suspending", "wait")
    done = cli("resume", "suspending", "--node", "wait")
    assert (done.code, done.out) == (0, "workflow suspending resumed\n"), done.err
    final = cluster.wait_finished("suspending", timeout=60)
    assert final["status"]["phase"] == "Succeeded"
    assert node_phases(final)["after"] == "Succeeded"


def test_retry_runs_the_failed_node_again_and_deletes_its_old_pod(
    cluster: Cluster, cli: Cli
) -> None:
    flaky = workflow(
        "flaky",
        {
            "name": "main",
            "steps": [
                [{"name": "first", "template": "ok"}],
                [{"name": "second", "template": "exit"}],
            ],
        },
        container("ok", "echo first"),
        container("exit", "echo second; exit {{workflow.parameters.code}}"),
        arguments={"parameters": [{"name": "code", "value": "1"}]},
    )
    done = cli("submit", str(cli.write("flaky", flaky)), "--watch")
    assert done.code == 1, done.err
    failed = cluster.workflow("flaky")
    pods = {p["metadata"]["name"]: p["metadata"]["uid"] for p in cluster.fake.objects("pods")}
    assert len(pods) == 2
    retried = cli("retry", "flaky", "-p", "code=0")
    assert (retried.code, retried.out) == (0, "workflow flaky retried\n"), retried.err
    deleted = [r.path.rsplit("/", 1)[1] for r in cluster.fake.requests("DELETE", "/pods/")
               if r.user == "alice"]  # fmt: skip
    assert len(deleted) == 1 and deleted[0] in pods
    final = cluster.wait_finished("flaky", timeout=60)
    assert final["status"]["phase"] == "Succeeded", final["status"]
    now = {p["metadata"]["name"]: p["metadata"]["uid"] for p in cluster.fake.objects("pods")}
    assert now[deleted[0]] != pods[deleted[0]]  # run again: a new pod of the same name
    [kept] = set(pods) - set(deleted)
    assert now[kept] == pods[kept]  # the succeeded step was not
    first_id = next(i for i, n in failed["status"]["nodes"].items() if n["displayName"] == "first")
    assert final["status"]["nodes"][first_id]["phase"] == "Succeeded"
    assert cli("logs", "flaky").out.splitlines() == ["first: first", "second: second"]


def test_resubmit_creates_a_new_workflow_the_controller_runs(cluster: Cluster, cli: Cli) -> None:
    hello = workflow("hello", container("main", "echo hi"))
    assert cli("submit", str(cli.write("hello", hello)), "--watch").code == 0
    done = cli("resubmit", "hello")
    assert done.code == 0, done.err
    name = done.out.split()[1]
    assert done.out == f"workflow {name} submitted\n" and name.startswith("hello-")
    assert cluster.wait_finished(name, timeout=60)["status"]["phase"] == "Succeeded"
