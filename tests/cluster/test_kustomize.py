"""The kustomize subset that builds ``manifests/``: what it does, and what it refuses."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cluster.conftest import MANIFESTS
from tests.cluster.kustomize import KustomizeError, build, image_name


def write(directory: Path, kustomization: dict[str, Any], **files: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    for name, docs in files.items():
        listed = docs if isinstance(docs, list) else [docs]
        (directory / f"{name}.yaml").write_text(yaml.safe_dump_all(listed))
    return directory


def cm(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def deployment(*images: str) -> dict[str, Any]:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    template = {"spec": {"containers": containers[:1], "initContainers": containers[1:]}}
    meta = {"name": "d"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {"template": template},
    }


def images_of(objects: list[dict[str, Any]]) -> list[str]:
    spec = objects[0]["spec"]["template"]["spec"]
    return [c["image"] for c in spec["containers"] + spec["initContainers"]]


def test_namespace_goes_on_namespaced_objects_and_default_subjects_only(tmp_path: Path) -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
        "subjects": [
            {"kind": "ServiceAccount", "name": "default", "namespace": "old"},
            {"kind": "ServiceAccount", "name": "other", "namespace": "old"},
        ],
    }
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "old"}}
    root = write(
        tmp_path, {"namespace": "new", "resources": ["a.yaml"]}, a=[binding, cm("c", "old"), ns]
    )
    built = build(root)
    assert [o["kind"] for o in built] == ["Namespace", "ClusterRoleBinding", "ConfigMap"]
    assert built[0]["metadata"] == {"name": "old"}
    assert [s["namespace"] for s in built[1]["subjects"]] == ["new", "old"]
    assert "namespace" not in built[1]["metadata"]
    assert built[2]["metadata"]["namespace"] == "new"


def test_an_outer_namespace_overrides_a_bases_own(tmp_path: Path) -> None:
    write(tmp_path / "base", {"namespace": "inner", "resources": ["c.yaml"]}, c=cm("c"))
    root = write(tmp_path / "top", {"namespace": "outer", "resources": ["../base"]})
    assert build(root)[0]["metadata"]["namespace"] == "outer"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"name": "ax", "newTag": "v2"}, ["ax:v2", "ax:v2", "other:1"]),
        ({"name": "ax", "newName": "reg.test/ax"}, ["reg.test/ax:1", "reg.test/ax", "other:1"]),
        ({"name": "ax", "digest": "sha256:ab"}, ["ax@sha256:ab", "ax@sha256:ab", "other:1"]),
        ({"name": "reg.test:5000/ax"}, ["ax:1", "ax", "other:1"]),
    ],
)
def test_images_rewrite_matching_containers_and_init_containers(
    tmp_path: Path, entry: dict[str, str], expected: list[str]
) -> None:
    root = write(
        tmp_path,
        {"resources": ["d.yaml"], "images": [entry]},
        d=deployment("ax:1", "ax", "other:1"),
    )
    assert images_of(build(root)) == expected


def test_image_names_split_off_tags_but_not_registry_ports() -> None:
    assert image_name("reg.test:5000/ax:v1") == ("reg.test:5000/ax", "v1", "")
    assert image_name("reg.test:5000/ax") == ("reg.test:5000/ax", "", "")
    assert image_name("ax@sha256:ab") == ("ax", "", "sha256:ab")


@pytest.mark.parametrize(
    ("kustomization", "files", "cause"),
    [
        (
            {"resources": ["c.yaml"], "patches": []},
            {"c": cm("c")},
            r"outside the supported subset: \['patches'\]",
        ),
        (
            {"resources": ["c.yaml"], "images": [{"name": "x", "newTag": "1", "tagSuffix": "-a"}]},
            {"c": cm("c")},
            "images fields outside",
        ),
        (
            {"resources": ["j.yaml"]},
            {"j": {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}}},
            "kind Job is not in the supported subset",
        ),
        ({"resources": ["c.yaml", "d.yaml"]}, {"c": cm("c"), "d": cm("c")}, "registered id"),
        ({"resources": ["missing.yaml"]}, {}, "no such file or directory"),
        ({"resources": ["https://example.test/x.yaml"]}, {}, "remote resources"),
        ({"resources": ["c.yaml"]}, {"c": {"kind": "ConfigMap"}}, "not a Kubernetes object"),
        ({"kind": "Component"}, {}, "is not Kustomization"),
    ],
)
def test_anything_outside_the_subset_is_refused(
    tmp_path: Path, kustomization: dict[str, Any], files: dict[str, Any], cause: str
) -> None:
    with pytest.raises(KustomizeError, match=cause):
        build(write(tmp_path, kustomization, **files))


def test_a_file_outside_the_kustomization_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cm("c")))
    root = write(tmp_path / "k", {"resources": ["../c.yaml"]})
    with pytest.raises(KustomizeError, match="outside the kustomization's directory"):
        build(root)


def test_a_directory_without_a_kustomization_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    root = write(tmp_path / "k", {"resources": ["../plain"]})
    with pytest.raises(KustomizeError, match=r"no kustomization\.yaml"):
        build(root)


def test_the_subset_builds_the_manifests_exactly_as_kubectl_kustomize(objects) -> None:
    # A second opinion where kubectl happens to be installed (no package registry here has it,
    # so it is not a prerequisite the test setup could install: skipped, even under CI).
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: no second opinion on the kustomize subset")
    built = subprocess.run(
        [kubectl, "kustomize", str(MANIFESTS)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert objects == [doc for doc in yaml.safe_load_all(built) if doc is not None]
