"""`argoexec get|list|logs|delete` on a cluster show what the local commands show, and their
failures (an unknown workflow, a refusal, a server that is down) say so in one line."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.cluster.cli import HELLO, Cli, wait_for
from tests.cluster.harness import Cluster


@pytest.fixture
def cli(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(cluster, capsys)


@pytest.fixture
def hello(cluster: Cluster, cli: Cli) -> str:
    """The hello workflow, run to its end by the cluster's controller."""
    cluster.start_controller()
    assert cli("submit", str(cli.write("hello", HELLO)), "--watch").code == 0
    return "hello"


def local_run(cli: Cli, state: Path) -> None:
    """The same workflow run on this machine (the local commands' output to compare with)."""
    path = cli.write("hello", HELLO)
    assert cli.capsys is not None
    from argoexec.cli import main

    assert main(["run", str(path), "--state-dir", str(state)]) == 0


def test_get_and_list_show_what_the_local_commands_show(
    hello: str, cli: Cli, tmp_path: Path
) -> None:
    from argoexec.cli import main

    local_run(cli, tmp_path / "state")
    cli.capsys.readouterr()
    outputs = {}
    for argv in (
        ["get", "hello"],
        ["get", "hello", "-o", "json"],
        ["list"],
        ["list", "-o", "wide"],
    ):
        assert main([*argv, "--state-dir", str(tmp_path / "state")]) == 0
        local = cli.capsys.readouterr().out
        remote = cli(*argv)
        assert remote.code == 0, remote.err
        outputs[" ".join(argv)] = (local, remote.out)
    local, remote = outputs["get hello"]
    labels = [line.split(":")[0] for line in local.splitlines() if ":" in line]
    assert [line.split(":")[0] for line in remote.splitlines() if ":" in line] == labels
    assert "✔ hello" in remote
    local, remote = outputs["get hello -o json"]
    assert set(json.loads(remote)) >= set(json.loads(local)) - {"metadata"}
    assert set(json.loads(remote)["status"]) >= {"phase", "nodes", "startedAt", "finishedAt"}
    for argv in ("list", "list -o wide"):
        local, remote = outputs[argv]
        assert remote.splitlines()[0].split() == local.splitlines()[0].split()
        assert remote.splitlines()[1].split()[:2] == ["hello", "Succeeded"]


def test_get_o_dot_draws_the_cluster_workflows_run_graph(hello: str, cli: Cli) -> None:
    from argoexec.view.dot import element_id

    got = cli("get", "hello", "-o", "dot")
    assert got.code == 0, got.err
    assert got.out.startswith("digraph hello {")
    assert f'id="{element_id("hello")}"' in got.out and "kind-Pod" in got.out


def test_list_all_namespaces_adds_the_namespace_column_and_json_lists_the_workflows(
    hello: str, cluster: Cluster, cli: Cli
) -> None:
    cluster.submit({"metadata": {"name": "elsewhere"}, "spec": HELLO["spec"]}, namespace="other")
    every = cli("list", "-A")
    assert every.code == 0, every.err
    header, *rows = every.out.splitlines()
    assert header.split() == ["NAMESPACE", "NAME", "STATUS", "AGE", "DURATION", "MESSAGE"]
    assert sorted(row.split()[:2] for row in rows) == [["default", "hello"], ["other", "elsewhere"]]
    mine = json.loads(cli("list", "-o", "json").out)
    assert [wf["metadata"]["name"] for wf in mine] == ["hello"]
    theirs = json.loads(cli("list", "-o", "json", "-n", "other").out)
    assert [wf["metadata"]["name"] for wf in theirs] == ["elsewhere"]


def test_logs_of_a_finished_workflow_show_the_main_containers_output(hello: str, cli: Cli) -> None:
    done = cli("logs", "hello")
    assert done.code == 0, done.err
    assert done.out == "hello: hello world\n"
    one = cli("logs", "hello", "--node", "hello")
    assert one.out == "hello world\n"
    followed = cli("logs", "hello", "-f")
    assert followed.out == "hello: hello world\n"


def test_delete_removes_the_workflow_and_its_pods(hello: str, cluster: Cluster, cli: Cli) -> None:
    assert cluster.fake.objects("pods", namespace="default")
    done = cli("delete", "hello")
    assert done.code == 0, done.err
    assert done.out == "workflow hello deleted\n"
    assert cluster.fake.get("workflows", "hello", "default", group="argoproj.io") is None
    wait_for("the pods' garbage collection", lambda: not cluster.fake.objects("pods"))
    again = cli("get", "hello")
    assert again.code != 0
    assert 'workflow "hello" not found in namespace "default"' in again.said


@pytest.mark.parametrize("command", [["get"], ["logs"], ["stop"], ["resume"], ["delete"]])
def test_an_unknown_workflow_is_one_clear_line(cli: Cli, command: list[str]) -> None:
    done = cli(*command, "nope", "-n", "team")
    assert done.code == 64
    assert done.said.count("\n") == 1, done.err
    assert 'workflow "nope" not found in namespace "team"' in done.said


def test_a_forbidden_request_gives_the_api_servers_message(cluster: Cluster, cli: Cli) -> None:
    cluster.fake.deny("list", "workflows", group="argoproj.io")
    done = cli("list")
    assert done.code == 64
    assert done.said.count("\n") == 1, done.err
    # The user's name is not checked: a test before may have registered "alice" as a secret
    # value (basic auth), which the log's redaction then hides, rightly.
    assert 'cannot list resource "workflows" in API group "argoproj.io"' in done.said


def test_refused_credentials_name_the_server(cluster: Cluster, cli: Cli) -> None:
    wrong = cluster.fake.kubeconfig(cluster.tmp / "wrong.kubeconfig", token="not-a-token")
    done = cli("list", kubeconfig=wrong)
    assert done.code == 64
    assert done.said.count("\n") == 1, done.err
    assert f"the Kubernetes API server at {cluster.fake.url} refused the credentials" in done.said
    assert "Unauthorized" in done.said


def test_a_server_that_is_down_is_named_with_the_cause(cluster: Cluster, cli: Cli) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    down = cluster.tmp / "down.kubeconfig"
    text = cli.kubeconfig.read_text().replace(cluster.fake.url, f"https://127.0.0.1:{port}")
    down.write_text(text)
    done = cli("get", "hello", kubeconfig=down)
    assert done.code == 64
    assert done.said.count("\n") == 1, done.err
    assert f"cannot reach the Kubernetes API server at https://127.0.0.1:{port}" in done.said
    assert "Connection refused" in done.said
