"""``python -m argoexec resource ACTION`` as the main container of a resource pod: a real process
in a bubblewrap sandbox (private ``/tmp`` for ``/tmp/manifest.yaml``, read-only root, uid 65534),
reaching the fake API server through ``--kubeconfig`` and reporting its ``WorkflowTaskResult``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from argoexec.controller.sandbox import Mount
from tests.executor.test_resource_support import configmap, workflow
from tests.sandboxing import container_argv
from tests.servers.kube import FakeKube

REPO = Path(__file__).resolve().parents[2]
NOBODY = "65534"
KUBECONFIG_IN_POD = "/argo/kube/config"
NS, NODE, WF, WF_UID = "argo", "wf-node-9", "wf", "wf-uid-9"


def run_resource(
    tmp_path: Path, kube: FakeKube, action: str, template: dict[str, Any], *extra: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    config = kube.kubeconfig(tmp_path / "kubeconfig", token=kube.token, namespace=NS)
    termination_log = tmp_path / "termination-log"
    termination_log.touch()
    mounts = [
        Mount(config, KUBECONFIG_IN_POD, read_only=True),
        Mount(termination_log, "/dev/termination-log"),
    ]
    command = [sys.executable, "-m", "argoexec", "resource", action]
    command += ["--kubeconfig", KUBECONFIG_IN_POD, *extra]
    argv = container_argv(command, mounts, work=tmp_path / "container", nonroot=True)
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
        "ARGO_POD_NAME": "wf-step-9",
        "ARGO_NODE_ID": NODE,
        "ARGO_WORKFLOW_NAME": WF,
        "ARGO_WORKFLOW_UID": WF_UID,
        "ARGO_TEMPLATE": json.dumps(template),
        "RESOURCE_STATE_CHECK_INTERVAL": "50ms",
    }
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    return done, termination_log.read_text()


def task_result(kube: FakeKube) -> dict[str, Any]:
    found = kube.get("workflowtaskresults", NODE, NS, group="argoproj.io")
    assert found is not None, "no WorkflowTaskResult"
    return dict(found)


def test_create_waits_reports_outputs_and_completes_the_task_result(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    child = workflow(phase="Succeeded")
    child["metadata"]["namespace"] = NS
    template = {
        "name": "make-child",
        "resource": {
            "action": "create",
            "manifest": json.dumps(child),
            "setOwnerReference": True,
            "successCondition": "status.phase == Succeeded",
        },
        "outputs": {
            "parameters": [
                {"name": "phase", "valueFrom": {"jsonPath": "{.status.phase}"}},
                {"name": "name", "valueFrom": {"jqFilter": ".metadata.name"}},
            ]
        },
    }

    done, message = run_resource(tmp_path, kube_api, "create", template, "--loglevel", "debug")

    assert done.returncode == 0, done.stderr
    assert message == ""
    created = kube_api.get("workflows", "child", NS, group="argoproj.io")
    assert created["metadata"]["ownerReferences"][0]["uid"] == WF_UID
    result = task_result(kube_api)
    assert result["metadata"]["labels"]["workflows.argoproj.io/report-outputs-completed"] == "true"
    values = {p["name"]: p["value"] for p in result["outputs"]["parameters"]}
    assert values == {"phase": "Succeeded", "name": "child"}


def test_a_failed_step_exits_64_with_the_error_in_the_termination_log(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    template = {
        "name": "remove",
        "resource": {
            "action": "delete",
            "manifest": json.dumps(configmap()),
            "successCondition": "a=b",
        },
    }

    done, message = run_resource(tmp_path, kube_api, "delete", template)

    assert done.returncode == 64
    expected = "successCondition, failureCondition and outputs are not supported for delete action"
    assert message == expected
    labels = task_result(kube_api)["metadata"]["labels"]
    assert labels["workflows.argoproj.io/report-outputs-completed"] == "true"


def test_flags_alone_name_the_object(kube_api: FakeKube, tmp_path: Path) -> None:
    kube_api.seed({**configmap(a="1"), "metadata": {"name": "cm", "namespace": NS}})
    template = {
        "name": "read",
        "resource": {"action": "get", "flags": ["configmap", "cm"]},
        "outputs": {"parameters": [{"name": "a", "valueFrom": {"jsonPath": "{.data.a}"}}]},
    }

    done, _ = run_resource(tmp_path, kube_api, "get", template)

    assert done.returncode == 0, done.stderr
    assert task_result(kube_api)["outputs"]["parameters"][0]["value"] == "1"
