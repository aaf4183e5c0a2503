"""`argoexec submit` on a cluster: the Workflow is created on the API server, and with `--watch`
followed until the cluster's controller has finished it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from argoexec.contract import LABEL_INSTANCE_ID
from tests.cluster.cli import FAILING, HELLO, Cli, container, workflow
from tests.cluster.harness import Cluster

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(cluster, capsys)


def test_submit_watch_of_a_hello_workflow_prints_its_tree_and_exits_0(
    cluster: Cluster, cli: Cli
) -> None:
    cluster.start_controller()
    done = cli("submit", str(cli.write("hello", HELLO)), "--watch")
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert lines[0] == "workflow hello submitted"
    assert any(line.startswith("Status:") and "Succeeded" in line for line in lines), done.out
    assert any("✔ hello" in line for line in lines), done.out
    assert cluster.workflow("hello")["status"]["phase"] == "Succeeded"
    # --watch watched the one Workflow, it did not poll it.
    watches = cluster.fake.requests("GET", "/workflows$")
    mine = [r for r in watches if r.user == "alice" and r.query.get("watch") == "true"]
    assert mine, [r.path for r in watches]
    assert mine[0].query["fieldSelector"] == "metadata.name=hello"
    gets = cluster.fake.requests("GET", "/workflows/hello$")
    assert len([r for r in gets if r.user == "alice"]) <= 2


def test_submit_watch_of_a_failing_workflow_exits_1(cluster: Cluster, cli: Cli) -> None:
    cluster.start_controller()
    done = cli("submit", str(cli.write("failing", FAILING)), "--watch")
    assert done.code == 1, done.err
    assert "Failed" in done.out


def test_submit_takes_parameters_and_a_generated_name(cluster: Cluster, cli: Cli) -> None:
    greet = workflow(
        "greet",
        container("main", "echo {{workflow.parameters.who}}"),
        arguments={"parameters": [{"name": "who", "value": "nobody"}]},
    )
    path = cli.write("greet", greet)
    done = cli(
        "submit", str(path), "-p", "who=world", "--generate-name", "greet-", "-o", "name",
        "-l", "team=a,tier=b", "--serviceaccount", "runner", "--instance-id", "blue",
    )  # fmt: skip
    assert done.code == 0, done.err
    name = done.out.strip()
    assert name.startswith("greet-") and len(name) == len("greet-") + 5, name
    stored = cluster.workflow(name)
    assert stored["spec"]["arguments"]["parameters"] == [{"name": "who", "value": "world"}]
    assert stored["spec"]["serviceAccountName"] == "runner"
    labels = stored["metadata"]["labels"]
    assert labels["team"] == "a" and labels["tier"] == "b" and labels[LABEL_INSTANCE_ID] == "blue"


def test_submit_log_streams_the_main_logs_and_the_parameters_reach_the_pod(
    cluster: Cluster, cli: Cli
) -> None:
    cluster.start_controller()
    greet = workflow(
        "greet",
        container("main", "echo hello {{workflow.parameters.who}}"),
        arguments={"parameters": [{"name": "who"}]},
    )
    done = cli("submit", str(cli.write("greet", greet)), "-p", "who=world", "--log")
    assert done.code == 0, done.err
    assert "greet: hello world" in done.out.splitlines(), done.out
    pod_logs = cluster.fake.requests("GET", "/pods/[^/]+/log$")
    assert any(r.user == "alice" and r.query.get("follow") == "true" for r in pod_logs)


def test_submitting_a_name_taken_says_so(cluster: Cluster, cli: Cli) -> None:
    path = cli.write("hello", HELLO)
    assert cli("submit", str(path)).code == 0
    again = cli("submit", str(path))
    assert again.code != 0
    assert 'workflow "hello" already exists in namespace "default"' in again.said
    assert "Traceback" not in again.err and len(again.err.splitlines()) == 1


def test_submit_refuses_a_workflow_lint_finds_wrong_and_creates_nothing(
    cluster: Cluster, cli: Cli
) -> None:
    bad = workflow("bad", container("main", "true"))
    bad["spec"]["entrypoint"] = "nope"
    done = cli("submit", str(cli.write("bad", bad)))
    assert done.code == 2
    assert "template `nope` not found" in done.err
    assert "nothing was submitted" in done.err
    assert cluster.fake.get("workflows", "bad", "default", group="argoproj.io") is None


def test_submit_keeps_a_workflow_template_reference_for_the_controller(
    cluster: Cluster, cli: Cli
) -> None:
    cluster.fake.seed(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "WorkflowTemplate",
            "metadata": {"name": "greeter", "namespace": "default"},
            "spec": {"entrypoint": "main", "templates": [container("main", "echo from template")]},
        }
    )
    cluster.start_controller()
    by_ref = {"metadata": {"name": "by-ref"}, "spec": {"workflowTemplateRef": {"name": "greeter"}}}
    done = cli("submit", str(cli.write("by-ref", by_ref)), "--watch")
    assert done.code == 0, done.err + done.out
    [created] = [r for r in cluster.fake.requests("POST", "/workflows$") if r.user == "alice"]
    assert created.body["spec"] == {"workflowTemplateRef": {"name": "greeter"}}
    assert cluster.workflow("by-ref")["status"]["phase"] == "Succeeded"


def test_state_dir_and_a_cluster_flag_together_are_a_usage_error(
    cli: Cli, tmp_path: object
) -> None:
    done = cli("list", "--state-dir", str(tmp_path))
    assert done.code == 2
    assert "--state-dir and --kubeconfig both given" in done.err


def test_submit_without_cluster_flags_uses_the_default_kubeconfig(
    cluster: Cluster, cli: Cli
) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(cluster.tmp), "KUBECONFIG": str(cli.kubeconfig)}
    done = subprocess.run(
        [sys.executable, "-m", "argoexec", "submit", str(cli.write("hello", HELLO))],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stdout) == (0, "workflow hello submitted\n"), done.stderr
    assert cluster.workflow("hello")["metadata"]["namespace"] == "default"
