"""Artifact GC on this machine: `argoexec run` deletes OnWorkflowCompletion artifacts when the
workflow completes, `argoexec delete` deletes OnWorkflowDeletion ones before the run goes, an
artifact's own strategy overrides the workflow's (`Never` keeps it), and a failed delete keeps
the run (and its finalizer) for a retry unless `forceFinalizerRemoval`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from argoexec.cli import main
from argoexec.controller.artgc import FINALIZER
from argoexec.controller.loop.state_store import DirectoryStore
from argoexec.controller.sandbox import find_bubblewrap
from tests.servers.procs import require

WORKFLOW = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {{name: {name}}}
spec:
  entrypoint: main
  artifactGC: {{strategy: OnWorkflowDeletion{force}}}
  templates:
  - name: main
    steps:
    - - {{name: make, template: make}}
  - name: make
    container:
      image: alpine
      command: [sh, -c, "mkdir -p /tmp/dir/sub && echo a > /tmp/dir/sub/a && echo m > /tmp/m"]
    outputs:
      artifacts:
      - {{name: done, path: /tmp/m, artifactGC: {{strategy: OnWorkflowCompletion}}}}
      - {{name: tree, path: /tmp/dir, archive: {{none: {{}}}}}}
      - {{name: kept, path: /tmp/m, artifactGC: {{strategy: Never}}}}
"""


@pytest.fixture(autouse=True)
def _bwrap() -> None:
    require(find_bubblewrap() is not None, "bubblewrap (bwrap) is not installed")


def run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, force: bool = False
) -> dict[str, Any]:
    doc = tmp_path / f"{name}.yaml"
    extra = ", forceFinalizerRemoval: true" if force else ""
    doc.write_text(WORKFLOW.format(name=name, force=extra))
    code = main(["run", str(doc), "-o", "json", "--state-dir", str(tmp_path / "state")])
    out, err = capsys.readouterr()
    assert code == 0, err
    workflow: dict[str, Any] = json.loads(out)
    return workflow


def repository(tmp_path: Path) -> list[str]:
    root = tmp_path / "state" / "artifacts"
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def artifacts(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (node,) = [n for n in workflow["status"]["nodes"].values() if n["type"] == "Pod"]
    return {a["name"]: a for a in node["outputs"]["artifacts"]}


def delete(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str) -> tuple[int, str]:
    code = main(["delete", name, "--state-dir", str(tmp_path / "state")])
    out, err = capsys.readouterr()
    return code, out + err


def test_completion_artifacts_are_deleted_when_the_run_ends_and_the_rest_stay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = run(tmp_path, capsys, "gc-one")
    arts = artifacts(workflow)
    assert arts["done"]["deleted"] is True
    assert "deleted" not in arts["tree"] and "deleted" not in arts["kept"]
    # <workflow>/<pod>/...: the tree (archive: none) and `kept` stay, `done` is gone.
    assert [k.split("/", 2)[2] for k in repository(tmp_path)] == ["dir/sub/a", "kept.tgz"]
    gc_status = workflow["status"]["artifactGCStatus"]
    assert gc_status["strategiesProcessed"] == {"OnWorkflowCompletion": True}
    assert gc_status["podsRecouped"] == {"gc-one-artgc-wfcomp-2166136261": True}
    assert workflow["metadata"]["finalizers"] == [FINALIZER]  # the deletion strategy is left


def test_delete_collects_the_deletion_artifacts_then_removes_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, capsys, "gc-two")
    code, said = delete(tmp_path, capsys, "gc-two")
    assert code == 0, said
    assert [k.rsplit("/", 1)[-1] for k in repository(tmp_path)] == ["kept.tgz"]
    assert not (tmp_path / "state" / "gc-two").exists()


def _break_repository(tmp_path: Path, name: str) -> None:
    """Point the run's repository at a relative root, which the local driver refuses."""
    store = DirectoryStore(tmp_path / "state")
    workflow = store.get(name)
    workflow["status"]["artifactRepositoryRef"]["artifactRepository"]["local"]["root"] = "rel"
    store.update(workflow)


def test_a_failed_delete_keeps_the_run_and_a_later_delete_retries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, capsys, "gc-three")
    store = DirectoryStore(tmp_path / "state")
    good = store.get("gc-three")["status"]["artifactRepositoryRef"]
    _break_repository(tmp_path, "gc-three")
    code, said = delete(tmp_path, capsys, "gc-three")
    assert code != 0
    assert "artifact GC could not delete gc-three[0].make: tree" in said
    kept = store.get("gc-three")
    assert kept["metadata"]["finalizers"] == [FINALIZER]
    assert artifacts(kept)["tree"]["deleted"] is False
    (condition,) = [c for c in kept["status"]["conditions"] if c["type"] == "ArtifactGCError"]
    assert "root" in condition["message"]
    assert any(k.endswith("/dir/sub/a") for k in repository(tmp_path))

    kept["status"]["artifactRepositoryRef"] = good
    store.update(kept)
    code, said = delete(tmp_path, capsys, "gc-three")
    assert code == 0, said
    assert [k.rsplit("/", 1)[-1] for k in repository(tmp_path)] == ["kept.tgz"]
    assert not (tmp_path / "state" / "gc-three").exists()


def test_force_finalizer_removal_lets_the_run_go_despite_a_failed_delete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, capsys, "gc-four", force=True)
    _break_repository(tmp_path, "gc-four")
    code, said = delete(tmp_path, capsys, "gc-four")
    assert code == 0, said
    assert not (tmp_path / "state" / "gc-four").exists()
    assert any(k.endswith("/dir/sub/a") for k in repository(tmp_path))  # left behind


ARGO_EXAMPLE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: argo-artifact-gc
spec:
  entrypoint: main
  artifactGC:
    strategy: OnWorkflowDeletion # the overall strategy, which can be overridden
  templates:
    - name: main
      archiveLocation:
        s3:
          key: on-deletion # default archive location for any artifacts that don't define it
          # themselves
      container:
        image: argoproj/argosay:v2
        command:
          - sh
          - -c
        args:
          - |
            echo "hello world" > /tmp/message
      outputs:
        artifacts:
          - name: on-completion
            path: /tmp/message
            s3:
              key: on-completion
            artifactGC:
              strategy: OnWorkflowCompletion
          - name: on-deletion
            path: /tmp/message
"""


def test_argos_own_example_with_a_key_only_archive_location_is_collected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Argo's examples/artifact-gc-workflow.yaml as published: its s3 key-only locations take
    # the repository (here a local one) when the pod stores them, and so must GC.
    doc = tmp_path / "argo.yaml"
    doc.write_text(ARGO_EXAMPLE)
    code = main(["run", str(doc), "-o", "json", "--state-dir", str(tmp_path / "state")])
    out, err = capsys.readouterr()
    assert code == 0, err
    workflow = json.loads(out)
    assert artifacts(workflow)["on-completion"]["deleted"] is True
    assert not any(c["type"] == "ArtifactGCError" for c in workflow["status"]["conditions"])
    assert [k.rsplit("/", 1)[-1] for k in repository(tmp_path)] == ["on-deletion.tgz"]
    code, said = delete(tmp_path, capsys, "argo-artifact-gc")
    assert code == 0, said
    assert repository(tmp_path) == []
