"""`argoexec run` with `data` templates: a pod whose main runs `argoexec data`; a source whose
driver cannot list fails the node with Argo's chain of causes and the driver's reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from argoexec.cli import main


def test_a_source_that_cannot_be_listed_fails_the_node_naming_the_driver(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "data-"},
        "spec": {
            "entrypoint": "list",
            "templates": [
                {
                    "name": "list",
                    "data": {
                        "source": {"artifactPaths": {"name": "inline", "raw": {"data": "x"}}},
                        "transformation": [{"expression": "data"}],
                    },
                }
            ],
        },
    }
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(workflow), encoding="utf-8")
    code = main(["run", str(path), "-o", "json", "--state-dir", str(tmp_path / "state")])
    done = json.loads(capsys.readouterr().out)
    assert code != 0
    (node,) = done["status"]["nodes"].values()
    assert node["type"] == "Pod"
    assert node["phase"] in ("Failed", "Error")
    assert "unable to process data template: unable to process data source" in node["message"]
    assert "ListObjects is not supported for raw artifacts" in node["message"]
