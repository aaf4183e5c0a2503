"""Resource templates through the engine: the pod's main runs `argoexec resource` against the
API of the controller's kubeconfig (our faithful fake API server on loopback)."""

from __future__ import annotations

from pathlib import Path

import yaml

from argoexec.controller.loop.options import RunOptions
from argoexec.controller.loop.runner import WorkflowRunner
from argoexec.controller.runtime import LocalRuntime
from argoexec.controller.runtime.results import LocalResults
from argoexec.controller.sandbox import find_bubblewrap
from tests.controller.test_engine_run import EXECUTOR_IMAGE, Run
from tests.servers.kube import FakeKube
from tests.servers.procs import require

MANIFEST = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: made-by-{{workflow.name}}
data: {colour: "{{inputs.parameters.colour}}"}
"""

SPEC = f"""
entrypoint: main
templates:
- name: main
  inputs: {{parameters: [{{name: colour, value: teal}}]}}
  resource:
    action: create
    manifest: |
{"".join("      " + line + chr(10) for line in MANIFEST.strip().splitlines())}
  outputs:
    parameters:
    - name: made
      valueFrom: {{jsonPath: "{{.metadata.name}}"}}
"""


def run(tmp_path: Path, kubeconfig: Path | None) -> Run:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": "res"},
        "spec": yaml.safe_load(SPEC),
    }
    runtime = LocalRuntime(tmp_path / "pods", executor_image=EXECUTOR_IMAGE, poll_interval=0.02)
    options = RunOptions(
        executor_image=EXECUTOR_IMAGE, kubeconfig=kubeconfig, namespace="argo", poll_interval=0.02
    )
    runner = WorkflowRunner(
        workflow,
        name="res",
        runtime=runtime,
        results=LocalResults(runtime.volume_path),
        options=options,
    )
    return Run(runner.run())


def test_a_resource_template_creates_its_object_and_reports_outputs(
    tmp_path: Path, kube_api: FakeKube
) -> None:
    config = kube_api.kubeconfig(tmp_path / "kubeconfig", token=kube_api.token, namespace="argo")
    result = run(tmp_path, config)
    assert result.phase == "Succeeded", result.explain()
    created = kube_api.get("configmaps", "made-by-res", "argo")
    assert created is not None
    assert created["data"] == {"colour": "teal"}
    outputs = result.node("res")["outputs"]
    assert {"name": "made", "value": "made-by-res"} in [
        {k: p[k] for k in ("name", "value")} for p in outputs["parameters"]
    ]


def test_a_resource_template_without_a_kubeconfig_is_a_clear_node_error(tmp_path: Path) -> None:
    result = run(tmp_path, None)
    node = result.node("res")
    assert node["phase"] == "Error"
    assert "needs a Kubernetes API: no kubeconfig was given" in node["message"]
    assert result.pods() == ["res"]
    assert not (tmp_path / "pods").exists() or not any((tmp_path / "pods").iterdir())
