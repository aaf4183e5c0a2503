"""`argoexec run --artifact-repository FILE`: the same workflow that uses the local directory
repository by default stores its artifacts in S3 (moto on loopback) given Argo's
`artifact-repositories` ConfigMap, with credentials from `--secrets-dir`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from argoexec.cli import main
from argoexec.controller.sandbox import find_bubblewrap
from argoexec.models import SecretKeySelector
from tests.servers.backend import Backend
from tests.servers.procs import require

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "examples" / "demo.yaml"


def _config_map(s3_moto: Backend, secrets: Path) -> dict[str, object]:
    s3 = s3_moto.artifact("unused").to_wire()["s3"]
    for ref in (s3["accessKeySecret"], s3["secretKeySecret"]):
        value = s3_moto.ctx.secrets.resolve(SecretKeySelector.model_validate(ref))
        (secrets / ref["name"]).mkdir(parents=True, exist_ok=True)
        (secrets / ref["name"] / ref["key"]).write_text(value)
    bucket = {k: v for k, v in s3.items() if k != "key"}
    bucket["keyFormat"] = "runs/{{workflow.name}}/{{pod.name}}"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "artifact-repositories",
            "annotations": {"workflows.argoproj.io/default-artifact-repository": "moto"},
        },
        "data": {"moto": yaml.safe_dump({"s3": bucket})},
    }


def _artifacts(workflow: dict[str, object]) -> list[dict[str, object]]:
    nodes = workflow["status"]["nodes"]  # type: ignore[index]
    found = []
    for node in nodes.values():
        found += (node.get("outputs") or {}).get("artifacts") or []
    return found


def test_the_same_workflow_stores_its_artifacts_in_s3_given_a_repository(
    tmp_path: Path, s3_moto: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    secrets = tmp_path / "secrets"
    repository = tmp_path / "repositories.yaml"
    repository.write_text(yaml.safe_dump(_config_map(s3_moto, secrets)))
    state = tmp_path / "state"
    argv = ["run", str(WORKFLOW), "--state-dir", str(state), "-o", "json"]
    argv += ["--artifact-repository", str(repository), "--secrets-dir", str(secrets)]

    code = main(argv)

    workflow = json.loads(capsys.readouterr().out)
    assert code == 0, json.dumps(workflow["status"], indent=1)
    [stored] = _artifacts(workflow)
    assert stored["name"] == "words"
    key = stored["s3"]["key"]  # type: ignore[index]
    name = workflow["metadata"]["name"]
    assert key.startswith(f"runs/{name}/") and key.endswith("/words.tgz")
    assert key in s3_moto.list_keys("runs/")  # the independent client sees it
    assert not (state / "artifacts").exists()  # nothing went to the local repository


def test_by_default_artifacts_go_to_the_local_directory_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")
    state = tmp_path / "state"

    code = main(["run", str(WORKFLOW), "--state-dir", str(state), "-o", "json"])

    workflow = json.loads(capsys.readouterr().out)
    assert code == 0, json.dumps(workflow["status"], indent=1)
    [stored] = _artifacts(workflow)
    # Key-only, as Argo reports artifacts of the default repository; the next pod relocates it.
    key = stored["local"]["key"]  # type: ignore[index]
    assert (state / "artifacts" / key).is_file()
