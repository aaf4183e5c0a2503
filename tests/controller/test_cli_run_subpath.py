"""`argoexec run` of a DAG that passes one file and one sub-directory of a directory artifact
(`subPath`) for each archive strategy: with the default local repository and with S3 (moto on
loopback) given Argo's `artifact-repositories` ConfigMap. (A literal subPath that leaves the
artifact is refused before anything runs: see test_examples' bad workflows.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.cli import main
from argoexec.controller.sandbox import find_bubblewrap
from argoexec.models import SecretKeySelector
from tests.servers.backend import Backend
from tests.servers.procs import require

KINDS = ("tar", "none", "zip")
ARCHIVES: dict[str, dict[str, Any]] = {"tar": {}, "none": {"none": {}}, "zip": {"zip": {}}}


def dag_workflow() -> dict[str, Any]:
    tasks: list[dict[str, Any]] = [{"name": "build", "template": "build"}]
    for kind in KINDS:
        source = f"{{{{tasks.build.outputs.artifacts.{kind}}}}}"
        tasks.append(
            {
                "name": f"use-{kind}",
                "depends": "build",
                "template": "use",
                "arguments": {
                    "artifacts": [
                        {"name": "file", "from": source, "subPath": "docs/readme.md"},
                        {"name": "dir", "from": source, "subPath": "bin"},
                    ]
                },
            }
        )
    outputs = [
        {"name": kind, "path": "/tmp/pkg", **({"archive": a} if a else {})}
        for kind, a in ARCHIVES.items()
    ]
    build = (
        "mkdir -p /tmp/pkg/docs /tmp/pkg/bin/sub && echo '# readme' > /tmp/pkg/docs/readme.md"
        " && echo tool > /tmp/pkg/bin/tool && echo helper > /tmp/pkg/bin/sub/helper"
        " && echo big > /tmp/pkg/data.bin"
    )
    use = "set -e; cat /tmp/in/readme.md; cd /tmp/in/bin; find . | sort | xargs echo"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "subpath-dag-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": tasks}},
                {
                    "name": "build",
                    "container": {"image": "alpine", "command": ["sh", "-c", build]},
                    "outputs": {"artifacts": outputs},
                },
                {
                    "name": "use",
                    "inputs": {
                        "artifacts": [
                            {"name": "file", "path": "/tmp/in/readme.md"},
                            {"name": "dir", "path": "/tmp/in/bin"},
                        ]
                    },
                    "container": {"image": "alpine", "command": ["sh", "-c", use]},
                },
            ],
        },
    }


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    path = tmp_path / "wf.yaml"
    path.write_text(yaml.safe_dump(dag_workflow()))
    argv = ["run", str(path), "--state-dir", str(tmp_path / "state"), "-o", "json", *extra]
    code = main(argv)
    workflow: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == 0, json.dumps(workflow["status"], indent=1)
    return workflow


def results(workflow: dict[str, Any]) -> dict[str, str]:
    name = workflow["metadata"]["name"]
    found = {}
    for node in workflow["status"]["nodes"].values():
        if node["name"].startswith(f"{name}.use-"):
            found[node["name"].removeprefix(f"{name}.use-")] = node["outputs"]["result"]
    return found


EXPECTED = {kind: "# readme\n. ./sub ./sub/helper ./tool" for kind in KINDS}


def test_a_dag_passes_a_file_and_a_directory_of_each_archive_strategy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = run(tmp_path, capsys)
    assert results(workflow) == EXPECTED


def test_the_same_dag_works_against_s3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], s3_moto: Backend
) -> None:
    s3 = s3_moto.artifact("unused").to_wire()["s3"]
    secrets = tmp_path / "secrets"
    for ref in (s3["accessKeySecret"], s3["secretKeySecret"]):
        value = s3_moto.ctx.secrets.resolve(SecretKeySelector.model_validate(ref))
        (secrets / ref["name"]).mkdir(parents=True, exist_ok=True)
        (secrets / ref["name"] / ref["key"]).write_text(value)
    repository = tmp_path / "repository.yaml"
    bucket = {k: v for k, v in s3.items() if k != "key"}
    repository.write_text(yaml.safe_dump({"s3": bucket}))

    workflow = run(
        tmp_path, capsys, "--artifact-repository", str(repository), "--secrets-dir", str(secrets)
    )

    assert results(workflow) == EXPECTED
    keys = s3_moto.list_keys("")
    name = workflow["metadata"]["name"]
    assert any(k.startswith(f"{name}/") and k.endswith("/bin/sub/helper") for k in keys)
    assert not (tmp_path / "state" / "artifacts").exists()
