"""Artifact GC deletes (``artifacts.gc``) on every store that can delete: S3 (moto and
SeaweedFS), GCS (fake-gcs-server) and the local directory store. Objects are planted and read
back with each store's independent client, never with our driver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from argoexec.models import Artifact
from artifacts.driver import DriverContext
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.gc import delete_artifacts_by_node, delete_for_gc
from artifacts.secrets import NoSecrets
from tests.servers.backend import Backend

STORES = ["s3_moto", "s3_seaweed", "gcs_backend", "local_store"]


@pytest.fixture
def local_store(tmp_path: Path) -> Backend:
    root = tmp_path / "repo"
    root.mkdir()

    def make_artifact(key: str, name: str = "art", **fields: Any) -> Artifact:
        return Artifact.model_validate(
            {"name": name, "local": {"root": str(root), "key": key}, **fields}
        )

    def put_object(key: str, data: bytes) -> None:
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def list_keys(prefix: str) -> list[str]:
        found = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
        return sorted(k for k in found if k.startswith(prefix))

    return Backend(
        name="local",
        ctx=DriverContext(secrets=NoSecrets()),
        make_artifact=make_artifact,
        put_object=put_object,
        get_object=lambda key: (root / key).read_bytes(),
        list_keys=list_keys,
    )


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> Backend:
    backend: Backend = request.getfixturevalue(request.param)
    return backend


def keys(store: Backend) -> list[str]:
    return sorted(store.list_keys(""))


def plant(store: Backend, *names: str) -> None:
    for name in names:
        store.put_object(name, name.encode())


def test_deleting_a_file_key_leaves_keys_that_only_share_its_prefix(store: Backend) -> None:
    plant(store, "run/a/b", "run/a/bc", "run/a/b.tgz", "run/a/bb/x")
    delete_for_gc(store.artifact("run/a/b"), store.ctx)
    assert keys(store) == ["run/a/b.tgz", "run/a/bb/x", "run/a/bc"]


def test_deleting_a_directory_key_removes_every_object_under_it_and_nothing_beside(
    store: Backend,
) -> None:
    plant(store, "run/out/one", "run/out/deep/two", "run/outer", "run/out.tgz", "run/outx/3")
    delete_for_gc(store.artifact("run/out"), store.ctx)
    assert keys(store) == ["run/out.tgz", "run/outer", "run/outx/3"]


def test_a_key_with_a_trailing_slash_keeps_the_same_boundary(store: Backend) -> None:
    plant(store, "run/dir/f", "run/dirt")
    delete_for_gc(store.artifact("run/dir/"), store.ctx)
    assert keys(store) == ["run/dirt"]


def test_deleting_what_is_already_gone_succeeds(store: Backend) -> None:
    plant(store, "run/keep")
    art = store.artifact("run/gone.tgz")
    delete_for_gc(art, store.ctx)
    delete_for_gc(art, store.ctx)
    assert keys(store) == ["run/keep"]


@pytest.mark.parametrize("key", ["", "/"])
def test_an_artifact_without_a_key_is_refused_and_nothing_is_deleted(
    store: Backend, key: str
) -> None:
    plant(store, "run/keep")
    with pytest.raises(ArtifactError) as err:
        delete_for_gc(store.artifact(key, name="everything"), store.ctx)
    assert err.value.code is ErrorCode.BAD_REQUEST
    assert "without a key" in str(err.value)
    assert keys(store) == ["run/keep"]


def test_a_task_spec_is_deleted_node_by_node_relocating_key_only_artifacts(
    store: Backend,
) -> None:
    plant(store, "wf/pod-1/message.tgz", "wf/pod-1/reports/a", "wf/pod-2/log.tgz", "wf/keep")
    located = store.artifact("wf/pod-2/log.tgz").to_wire()
    archive = {k: v for k, v in store.artifact("ignored").to_wire().items() if k != "name"}
    kind = next(k for k in ("s3", "gcs", "local") if k in archive)
    spec = {
        "node-1": {
            "archiveLocation": archive,
            "artifacts": {
                "message": {"name": "message", kind: {"key": "wf/pod-1/message.tgz"}},
                "reports": {"name": "reports", kind: {"key": "wf/pod-1/reports"}},
            },
        },
        "node-2": {"artifacts": {"log": located}},
    }
    results = delete_artifacts_by_node(spec, lambda _a: store.ctx)
    assert results == {
        "node-1": {
            "artifactResults": {
                "message": {"name": "message", "success": True},
                "reports": {"name": "reports", "success": True},
            }
        },
        "node-2": {"artifactResults": {"log": {"name": "log", "success": True}}},
    }
    assert keys(store) == ["wf/keep"]


def test_a_failed_artifact_is_recorded_and_the_others_are_still_deleted(
    local_store: Backend,
) -> None:
    plant(local_store, "wf/a.tgz")
    spec = {
        "n": {
            "artifacts": {
                "nowhere": {"name": "nowhere", "local": {"key": "x"}},  # no archive location
                "a": local_store.artifact("wf/a.tgz", name="a").to_wire(),
            }
        }
    }
    results = delete_artifacts_by_node(spec, lambda _a: local_store.ctx)["n"]["artifactResults"]
    assert results["a"] == {"name": "a", "success": True}
    assert results["nowhere"]["success"] is False
    assert "nowhere" in results["nowhere"]["error"]
    assert keys(local_store) == []
