"""Artifact-related pod parts: secret volumes (§11.2), input-artifact mounts (§1.2) and
``archiveLocation`` filling (§13.3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from argoexec.controller.pod import PodBuildError, PodContext, build_pod, build_pod_objects
from argoexec.models import ArtifactRepository, Template

POD = "wf-hello-2592359500"


def ctx(**extra: Any) -> PodContext:
    return PodContext(workflow_name="wf", node_name="wf[0].hello", workflow_uid="u", **extra)


def s3(key: str, *secrets: tuple[str, str]) -> dict[str, Any]:
    loc: dict[str, Any] = {"endpoint": "minio:9000", "bucket": "b", "key": key}
    names = ("accessKeySecret", "secretKeySecret", "sessionTokenSecret")
    for field, (name, secret_key) in zip(names, secrets, strict=False):
        loc[field] = {"name": name, "key": secret_key}
    return loc


def template(**extra: Any) -> Template:
    return Template.model_validate(
        {"name": "hello", "container": {"image": "a", "command": ["x"]}, **extra}
    )


def by_name(items: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(i for i in items if i["name"] == name)


def mounts(container: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["name"], m["mountPath"]) for m in container["volumeMounts"]]


def test_each_referenced_secret_gets_one_volume_with_exactly_the_keys_used() -> None:
    creds = ("my-s3", "accesskey"), ("my-s3", "secretkey")
    tmpl = template(
        inputs={
            "artifacts": [
                {"name": "in", "path": "/in", "s3": s3("k1", *creds)},
                {"name": "again", "path": "/again", "s3": s3("k2", *creds)},
            ]
        },
        outputs={
            "artifacts": [
                {
                    "name": "out",
                    "path": "/out",
                    "gcs": {
                        "bucket": "g",
                        "key": "k",
                        "serviceAccountKeySecret": {"name": "gcs-cred", "key": "sa.json"},
                    },
                }
            ]
        },
    )
    pod = build_pod(tmpl, ctx())
    secret_volumes = [v for v in pod["spec"]["volumes"] if "secret" in v]
    assert secret_volumes == [
        {
            "name": "gcs-cred",
            "secret": {"secretName": "gcs-cred", "items": [{"key": "sa.json", "path": "sa.json"}]},
        },
        {
            "name": "my-s3",
            "secret": {
                "secretName": "my-s3",
                "items": [
                    {"key": "accesskey", "path": "accesskey"},
                    {"key": "secretkey", "path": "secretkey"},
                ],
            },
        },
    ]
    init = pod["spec"]["initContainers"][0]
    wait, main = pod["spec"]["containers"]
    expected = {"name": "my-s3", "mountPath": "/argo/secret/my-s3", "readOnly": True}
    assert expected in init["volumeMounts"]
    assert expected in wait["volumeMounts"]
    assert all(m["name"] != "my-s3" for m in main["volumeMounts"])


def test_the_customer_key_secret_is_mounted_only_when_encryption_is_enabled() -> None:
    sse = {"serverSideCustomerKeySecret": {"name": "sse", "key": "k"}}
    off = {**s3("k"), "encryptionOptions": sse}
    on = {**s3("k"), "encryptionOptions": {**sse, "enableEncryption": True}}
    for loc, expected in ((off, []), (on, ["sse"])):
        tmpl = template(outputs={"artifacts": [{"name": "o", "path": "/o", "s3": loc}]})
        volumes = build_pod(tmpl, ctx())["spec"]["volumes"]
        assert [v["name"] for v in volumes if "secret" in v] == expected


def test_input_artifacts_get_an_empty_dir_and_one_sub_path_mount_each() -> None:
    tmpl = template(
        container={
            "image": "a",
            "command": ["x"],
            "volumeMounts": [{"name": "work", "mountPath": "/work"}],
        },
        volumes=[{"name": "work", "emptyDir": {}}],
        inputs={
            "artifacts": [
                {"name": "src", "path": "/src/", "s3": s3("k")},
                {"name": "opt", "path": "/opt", "optional": True},
                {"name": "keyed", "path": "/keyed", "optional": True, "s3": {"key": "only/key"}},
                {"name": "inner", "path": "/work/inner", "s3": s3("k")},
            ]
        },
    )
    pod = build_pod(tmpl, ctx())
    assert {"name": "input-artifacts", "emptyDir": {}} in pod["spec"]["volumes"]
    init = pod["spec"]["initContainers"][0]
    wait, main = pod["spec"]["containers"]
    assert mounts(init) == [
        ("input-artifacts", "/argo/inputs/artifacts"),
        ("work", "/mainctrfs/work"),
        ("var-run-argo", "/var/run/argo"),
    ]
    artifact_mounts = [m for m in main["volumeMounts"] if m["name"] == "input-artifacts"]
    assert artifact_mounts == [
        {"name": "input-artifacts", "mountPath": "/src", "subPath": "src"},
        {"name": "input-artifacts", "mountPath": "/keyed", "subPath": "keyed"},
    ]
    assert mounts(wait) == [
        ("work", "/mainctrfs/work"),
        ("input-artifacts", "/mainctrfs/src"),
        ("input-artifacts", "/mainctrfs/keyed"),
        ("tmp-dir-argo", "/tmp"),
        ("var-run-argo", "/var/run/argo"),
    ]
    assert by_name(wait["volumeMounts"], "input-artifacts")["subPath"] == "src"


def test_an_artifact_path_escaping_its_safe_directory_is_refused() -> None:
    tmpl = template(
        inputs={"artifacts": [{"name": "a", "path": "/tmp/safe/../../etc", "raw": {"data": "x"}}]}
    )
    with pytest.raises(PodBuildError, match="outside its safe directory /tmp/safe"):
        build_pod(tmpl, ctx())


def test_a_key_only_artifact_takes_the_archive_location_from_the_repository() -> None:
    repo = ArtifactRepository.model_validate(
        {
            "s3": {
                "endpoint": "minio:9000",
                "bucket": "logs",
                "accessKeySecret": {"name": "repo-cred", "key": "ak"},
            }
        }
    )
    tmpl = template(outputs={"artifacts": [{"name": "out", "path": "/out"}]})
    objects = build_pod_objects(tmpl, ctx(artifact_repository=repo))
    location = objects.template.archive_location
    assert location is not None and location.s3 is not None
    assert location.s3.key == f"wf/{POD}"
    assert location.archive_logs is False
    init = objects.pod["spec"]["initContainers"][0]
    env = {e["name"]: e.get("value") for e in init["env"]}
    shipped = json.loads(env["ARGO_TEMPLATE"])["archiveLocation"]
    assert shipped["s3"]["key"] == f"wf/{POD}"
    assert shipped["archiveLogs"] is False
    assert by_name(objects.pod["spec"]["volumes"], "repo-cred")["secret"]["items"] == [
        {"key": "ak", "path": "ak"}
    ]


def test_archived_logs_need_a_location_even_without_artifacts() -> None:
    repo = ArtifactRepository.model_validate(
        {"s3": {"endpoint": "e", "bucket": "b", "keyFormat": "{{workflow.namespace}}/{{pod.name}}"}}
    )
    objects = build_pod_objects(
        template(),
        ctx(artifact_repository=repo, namespace="ns", workflow_spec={"archiveLogs": True}),
    )
    location = objects.template.archive_location
    assert location is not None and location.s3 is not None
    assert location.s3.key == f"ns/{POD}"
    assert location.archive_logs is True


def test_a_template_with_a_full_location_keeps_it() -> None:
    repo = ArtifactRepository.model_validate({"s3": {"endpoint": "e", "bucket": "repo"}})
    own = {"s3": s3("mine")}
    tmpl = template(archiveLocation=own, outputs={"artifacts": [{"name": "o", "path": "/o"}]})
    objects = build_pod_objects(tmpl, ctx(artifact_repository=repo))
    assert objects.template.archive_location is not None
    assert objects.template.archive_location.to_wire() == own


def test_located_artifacts_and_no_log_archiving_need_no_archive_location() -> None:
    repo = ArtifactRepository.model_validate({"s3": {"endpoint": "e", "bucket": "repo"}})
    tmpl = template(outputs={"artifacts": [{"name": "o", "path": "/o", "s3": s3("k")}]})
    assert build_pod_objects(tmpl, ctx(artifact_repository=repo)).template.archive_location is None


def test_an_unresolvable_key_format_fails_the_pod() -> None:
    repo = ArtifactRepository.model_validate(
        {"gcs": {"bucket": "b", "keyFormat": "{{workflow.labels.team}}/{{pod.name}}"}}
    )
    tmpl = template(outputs={"artifacts": [{"name": "o", "path": "/o"}]})
    with pytest.raises(PodBuildError, match=r"workflow\.labels\.team"):
        build_pod(tmpl, ctx(artifact_repository=repo))
    fine = ctx(artifact_repository=repo, variables={"workflow.labels.team": "t"})
    location = build_pod_objects(tmpl, fine).template.archive_location
    assert location is not None and location.gcs is not None
    assert location.gcs.key == f"t/{POD}"


def test_a_local_repository_becomes_a_local_archive_location_with_its_key_format() -> None:
    repo = ArtifactRepository.model_validate(
        {"local": {"root": "/srv/artifacts", "keyFormat": "{{workflow.namespace}}/{{pod.name}}"}}
    )
    tmpl = template(outputs={"artifacts": [{"name": "out", "path": "/out"}]})
    objects = build_pod_objects(tmpl, ctx(artifact_repository=repo, namespace="ns"))
    location = objects.template.archive_location
    assert location is not None
    assert location.location_kind() == "local"
    assert location.to_wire() == {
        "archiveLogs": False,
        "local": {"root": "/srv/artifacts", "key": f"ns/{POD}"},
    }
    init = objects.pod["spec"]["initContainers"][0]
    env = {e["name"]: e.get("value") for e in init["env"]}
    shipped = json.loads(env["ARGO_TEMPLATE"])["archiveLocation"]
    assert shipped["local"] == {"root": "/srv/artifacts", "key": f"ns/{POD}"}
    assert not [v for v in objects.pod["spec"]["volumes"] if "secret" in v]


def test_a_local_repository_without_a_key_format_uses_s3s_default() -> None:
    repo = ArtifactRepository.model_validate({"local": {"root": "/srv/artifacts"}})
    objects = build_pod_objects(
        template(), ctx(artifact_repository=repo, workflow_spec={"archiveLogs": True})
    )
    location = objects.template.archive_location
    assert location is not None and location.local is not None
    assert (location.local.root, location.local.key) == ("/srv/artifacts", f"wf/{POD}")
    assert location.archive_logs is True


def test_an_input_sub_path_that_is_not_a_clean_relative_path_is_refused() -> None:
    art = {"name": "in", "path": "/in", "s3": s3("k"), "subPath": "a/../../b"}
    with pytest.raises(PodBuildError, match=r"inputs\.artifacts\.in: subPath 'a/\.\./\.\./b'"):
        build_pod(template(inputs={"artifacts": [art]}), ctx())
    clean = {**art, "subPath": "a/b.txt"}
    pod = build_pod(template(inputs={"artifacts": [clean]}), ctx())
    # The executor applies it: the template it gets carries the subPath beside the key.
    [init] = pod["spec"]["initContainers"]
    carried = next(e["value"] for e in init["env"] if e["name"] == "ARGO_TEMPLATE")
    assert json.loads(carried)["inputs"]["artifacts"][0]["subPath"] == "a/b.txt"
