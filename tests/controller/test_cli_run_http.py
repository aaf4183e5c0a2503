"""`argoexec run` with `http` templates end to end: the request runs in the controller's
threads (no pod), headers read secrets from `--secrets-dir` as pods do, HTTPS with
`insecureSkipVerify`, and a failed request fails its node and the workflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.cli import main
from tests.servers.httpecho import EchoServer

REPO = Path(__file__).resolve().parents[2]


def _workflow(url: str, **http: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "http-run-"},
        "spec": {
            "entrypoint": "call",
            "templates": [{"name": "call", "http": {"url": url, **http}}],
        },
    }


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], workflow: dict[str, Any],
         *args: str) -> tuple[int, dict[str, Any]]:  # fmt: skip
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(workflow), encoding="utf-8")
    code = main(["run", str(path), "-o", "json", "--state-dir", str(tmp_path / "state"), *args])
    return code, json.loads(capsys.readouterr().out)


def test_an_https_request_with_skipped_verification_and_a_secret_header_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], echo_tls_server: EchoServer
) -> None:
    secrets = tmp_path / "secrets" / "api"
    secrets.mkdir(parents=True)
    (secrets / "token").write_text("Bearer t0ken-from-a-secret", encoding="utf-8")
    ref = {"secretKeyRef": {"name": "api", "key": "token"}}
    workflow = _workflow(
        f"{echo_tls_server.url}/echo",
        insecureSkipVerify=True,
        headers=[{"name": "Authorization", "valueFrom": ref}],
        successCondition='response.statusCode == 200 && response.body contains "t0ken"',
    )
    code, done = _run(tmp_path, capsys, workflow, "--secrets-dir", str(tmp_path / "secrets"))
    assert code == 0, done["status"]
    (node,) = done["status"]["nodes"].values()
    assert node["type"] == "HTTP"
    assert node["phase"] == "Succeeded"
    echoed = json.loads(node["outputs"]["result"])
    assert echoed["headers"]["Authorization"] == "Bearer t0ken-from-a-secret"


def test_a_request_that_cannot_be_made_fails_the_workflow_with_the_nodes_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], echo_tls_server: EchoServer
) -> None:
    code, done = _run(tmp_path, capsys, _workflow(f"{echo_tls_server.url}/hello"))
    assert code != 0
    (node,) = done["status"]["nodes"].values()
    assert node["phase"] == "Failed"
    assert node["message"].startswith(f"http template 'call': Get \"{echo_tls_server.url}/hello\"")
    assert "CERTIFICATE_VERIFY_FAILED" in node["message"]
    assert done["status"]["phase"] == "Failed"


def test_an_http_step_in_a_dag_feeds_its_result_to_a_pod(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], echo_server: EchoServer
) -> None:
    workflow = _workflow(f"{echo_server.url}/status/201")
    workflow["spec"]["entrypoint"] = "main"
    workflow["spec"]["templates"] += [
        {
            "name": "main",
            "dag": {
                "tasks": [
                    {"name": "call", "template": "call"},
                    {
                        "name": "show",
                        "template": "show",
                        "depends": "call",
                        "arguments": {
                            "parameters": [{"name": "v", "value": "{{tasks.call.outputs.result}}"}]
                        },
                    },
                ]
            },
        },
        {
            "name": "show",
            "inputs": {"parameters": [{"name": "v"}]},
            "container": {"image": "alpine", "command": ["echo", "got {{inputs.parameters.v}}"]},
        },
    ]
    code, done = _run(tmp_path, capsys, workflow)
    nodes = {n["displayName"]: n for n in done["status"]["nodes"].values()}
    # 201 is a 2xx: the default rule takes it.
    assert code == 0, nodes
    assert nodes["show"]["outputs"]["result"] == "got status 201"


def test_a_run_that_ends_with_a_request_in_flight_exits_without_waiting_for_it(
    tmp_path: Path, echo_server: EchoServer
) -> None:
    # The deadline fails the workflow after 1 s; the request would take 20 s to answer.
    workflow = _workflow(f"{echo_server.url}/slow?seconds=20", timeoutSeconds=30)
    workflow["spec"]["activeDeadlineSeconds"] = 1
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(workflow), encoding="utf-8")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), "HOME": os.environ["HOME"]}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "argoexec", "run", str(path), "-o", "json",
         "--state-dir", str(tmp_path / "state")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["status"]["message"] == "Step exceeded its deadline"
    assert time.monotonic() - started < 12
