"""A kubeconfig whose user is an exec credential plugin (as EKS, GKE and AKS kubeconfigs are):
`argoexec submit` and `argoexec controller` authenticate with the token the plugin prints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cluster.cli import HELLO, Cli
from tests.cluster.harness import Cluster
from tests.servers.kube import FakeKube

REPO = Path(__file__).resolve().parents[2]
LEASE = "argoexec-controller"


def plugin_kubeconfig(fake: FakeKube, tmp: Path, user: str) -> Path:
    """A kubeconfig whose user runs a plugin (this Python) printing an ExecCredential with a
    token of `user`; each run of the plugin is counted in a file beside it."""
    token = fake.add_token(user)
    expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token, "expirationTimestamp": expires},
    }
    script = tmp / f"{user.replace(':', '-')}-plugin.py"
    runs = script.with_suffix(".runs")
    script.write_text(
        "import sys\n"
        f"open({str(runs)!r}, 'a').write('run\\n')\n"
        f"sys.stdout.write({json.dumps(credential)!r})\n"
    )
    exec_user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(script)],
            "interactiveMode": "Never",
        }
    }
    return fake.kubeconfig(tmp / f"{script.stem}.kubeconfig", user=exec_user)


def test_submit_authenticates_with_an_exec_credential_plugin(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(cluster, capsys)
    kubeconfig = plugin_kubeconfig(cluster.fake, cluster.tmp, "bob@example.com")
    done = cli("submit", str(cli.write("hello", HELLO)), kubeconfig=kubeconfig)
    assert done.code == 0, done.err
    [created] = cluster.fake.requests("POST", "/workflows$")
    assert (created.user, created.status) == ("bob@example.com", 201)
    assert (cluster.tmp / "bob@example.com-plugin.runs").read_text() == "run\n"


def test_the_controller_runs_workflows_with_an_exec_credential_plugin(
    cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    user = "system:serviceaccount:argoexec:plugged"
    kubeconfig = plugin_kubeconfig(cluster.fake, cluster.tmp, user)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(cluster.tmp),
        "LEADER_ELECTION_IDENTITY": "plugged-replica",
    }
    argv = [sys.executable, "-m", "argoexec", "controller", "--kubeconfig", str(kubeconfig),
            "-n", "argoexec", "--health-port", "0", "--metrics-port", "0"]  # fmt: skip
    process = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        cli = Cli(cluster, capsys)
        assert cli("submit", str(cli.write("hello", HELLO))).code == 0
        done = cluster.wait_finished("hello", timeout=90)
        assert done["status"]["phase"] == "Succeeded", done["status"]
        lease = cluster.fake.get("leases", LEASE, "argoexec", group="coordination.k8s.io")
        assert lease["spec"]["holderIdentity"] == "plugged-replica"
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    writes = cluster.fake.requests("PUT", "/workflows/hello$")
    assert writes and {r.user for r in writes} == {user}
    assert {r.user for r in cluster.fake.requests("POST", "/pods$")} == {user}
    [started] = [line for line in err.splitlines() if "controller on" in line]
    assert cluster.fake.url in started and "namespaces (all)" in started
    assert "ConfigMap argoexec/workflow-controller-configmap" in started
    released = cluster.fake.get("leases", LEASE, "argoexec", group="coordination.k8s.io")
    assert released["spec"]["holderIdentity"] == ""  # for another replica to take at once
