"""`argoexec artifact delete` (the artifact-GC pod's main) against the fake API server: it works
through the WorkflowArtifactGCTasks labelled with its ARGO_ARTIFACT_POD_NAME only, deletes their
artifacts from a local repository, and merge-patches each task's status with Argo's
`artifactResultsByNode`; a failed delete is recorded, not a failure of the command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from argoexec.cli import main
from tests.servers.kube import FakeKube

NS = "default"
LABEL = "workflows.argoproj.io/artifact-gc-pod"


def task(name: str, pod_hash: str, artifacts_by_node: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowArtifactGCTask",
        "metadata": {"name": name, "namespace": NS, "labels": {LABEL: pod_hash}},
        "spec": {"artifactsByNode": artifacts_by_node},
    }


def plant(root: Path, *keys: str) -> None:
    for key in keys:
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_text(key)


def files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def run(kube_api: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pod_hash: str) -> int:
    token = kube_api.add_token("system:serviceaccount:default:default")
    config = kube_api.kubeconfig(tmp_path / "kubeconfig", token=token)
    monkeypatch.setenv("ARGO_POD_NAME", "wf-artgc-wfcomp-1")
    if pod_hash:
        monkeypatch.setenv("ARGO_ARTIFACT_POD_NAME", pod_hash)
    monkeypatch.setenv("ARGOEXEC_VAR_RUN_DIR", str(tmp_path / "varrun"))
    return main(["artifact", "delete", "--kubeconfig", str(config), "-n", NS])


def test_the_pods_tasks_are_collected_and_their_status_patched(
    kube_api: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    plant(repo, "wf/p1/a.tgz", "wf/p1/dir/x", "wf/p2/b.tgz", "wf/other.tgz")
    archive = {"local": {"root": str(repo)}}
    kube_api.seed(
        task(
            "wf-artgc-wfcomp-1-0",
            "111",
            {
                "n1": {
                    "archiveLocation": archive,
                    "artifacts": {
                        "a": {"name": "a", "local": {"key": "wf/p1/a.tgz"}},
                        "dir": {"name": "dir", "local": {"key": "wf/p1/dir"}},
                        "bad": {"name": "bad", "local": {"key": "../escape"}},
                    },
                },
                "n2": {
                    "artifacts": {
                        "b": {"name": "b", "local": {"root": str(repo), "key": "wf/p2/b.tgz"}}
                    }
                },
            },
        )
    )
    other = {
        "n9": {
            "archiveLocation": archive,
            "artifacts": {"o": {"name": "o", "local": {"key": "wf/other.tgz"}}},
        }
    }
    kube_api.seed(task("wf-artgc-wfcomp-2-0", "222", other))

    assert run(kube_api, tmp_path, monkeypatch, "111") == 0

    assert files(repo) == ["wf/other.tgz"]
    mine = kube_api.get("workflowartifactgctasks", "wf-artgc-wfcomp-1-0", NS, group="argoproj.io")
    results = mine["status"]["artifactResultsByNode"]
    assert results["n1"]["artifactResults"]["a"] == {"name": "a", "success": True}
    assert results["n1"]["artifactResults"]["dir"] == {"name": "dir", "success": True}
    assert results["n2"]["artifactResults"]["b"] == {"name": "b", "success": True}
    bad = results["n1"]["artifactResults"]["bad"]
    assert bad["success"] is False and "escape" in bad["error"]
    theirs = kube_api.get("workflowartifactgctasks", "wf-artgc-wfcomp-2-0", NS, group="argoproj.io")
    assert "status" not in theirs
    patches = kube_api.requests("PATCH", r"/workflowartifactgctasks/")
    assert [r.path.rsplit("/", 2)[-2:] for r in patches] == [["wf-artgc-wfcomp-1-0", "status"]]


def test_without_its_pod_hash_the_command_does_nothing(
    kube_api: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARGO_ARTIFACT_POD_NAME", raising=False)
    assert run(kube_api, tmp_path, monkeypatch, "") == 0
    assert kube_api.requests(path=r"/workflowartifactgctasks") == []
