"""Locations and keys: Argo's HasLocation/HasKey, Relocate, output keys (argo-contract.md
§11.3-11.4), repositories (§13) and the CLI's URL shorthands."""

from __future__ import annotations

from typing import Any

import pytest

from argoexec.models import Artifact, ArtifactLocation, ArtifactRepository
from artifacts.errors import ArtifactError
from artifacts.locations import (
    LOCATION_NOT_SET,
    STORAGE_NOT_CONFIGURED,
    get_key,
    go_path_join,
    has_key,
    has_location,
    output_key,
    parse_location_url,
    parse_selector,
    prepare_output,
    relocate,
    repository_location,
    select_repository,
    substitute_key_format,
    with_key,
)

S3_REPO: dict[str, Any] = {
    "endpoint": "minio:9000",
    "bucket": "my-bucket",
    "insecure": True,
    "accessKeySecret": {"name": "my-s3", "key": "accessKey"},
    "secretKeySecret": {"name": "my-s3", "key": "secretKey"},
}
VARS = {"workflow.name": "wf-abc", "pod.name": "wf-abc-123"}


def art(**doc: Any) -> Artifact:
    return Artifact.model_validate({"name": "out", **doc})


def s3_location(key: str = "wf/pod") -> ArtifactLocation:
    return ArtifactLocation.model_validate({"s3": {**S3_REPO, "key": key}})


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"s3": {**S3_REPO, "key": "k"}}, True),
        ({"s3": {"key": "k"}}, False),
        ({"s3": {"endpoint": "e", "bucket": "b"}}, False),
        ({"gcs": {"bucket": "b", "key": "k"}}, True),
        ({"gcs": {"key": "k"}}, False),
        ({"http": {"url": "https://h/x"}}, True),
        ({"git": {"repo": "https://h/r.git"}}, True),
        ({"raw": {"data": ""}}, True),
        ({"artifactory": {"url": "https://a/x"}}, False),
        (
            {"artifactory": {"url": "https://a/x", "usernameSecret": {"name": "n", "key": "k"}}},
            True,
        ),
        ({"oss": {"endpoint": "e", "bucket": "b", "key": "k"}}, True),
        ({"azure": {"endpoint": "e", "container": "c"}}, False),
        ({"hdfs": {"addresses": ["nn:8020"]}}, True),
        ({"plugin": {"name": "p", "configuration": "c", "key": "k"}}, True),
        ({}, False),
    ],
)
def test_has_location_follows_argo(doc: dict[str, Any], expected: bool) -> None:
    assert has_location(art(**doc)) is expected


def test_keys_per_kind() -> None:
    assert get_key(art(s3={"key": "a/b"})) == "a/b"
    assert get_key(art(http={"url": "https://h:8/p/q.tgz?x=1"})) == "/p/q.tgz"
    assert get_key(art(azure={"blob": "b/c"})) == "b/c"
    assert has_key(art(gcs={"bucket": "b"})) is False
    assert has_key(art(git={"repo": "https://h/r"})) is False
    assert has_key(art(raw={"data": "x"})) is False
    with pytest.raises(ArtifactError, match="key unsupported"):
        get_key(art(git={"repo": "https://h/r"}))


def test_with_key_sets_the_typed_key_and_leaves_the_original_alone() -> None:
    original = art(s3={"key": "old"})
    assert with_key(original, "new").s3.key == "new"  # type: ignore[union-attr]
    assert original.s3.key == "old"  # type: ignore[union-attr]
    http = with_key(art(http={"url": "https://h/old?q=1"}), "new/key")
    assert http.http.url == "https://h/new/key?q=1"  # type: ignore[union-attr]
    assert with_key(art(oss={"bucket": "b"}), "k").oss == {"bucket": "b", "key": "k"}


def test_a_fully_located_artifact_is_not_relocated() -> None:
    full = art(gcs={"bucket": "b", "key": "k"})
    assert relocate(full, s3_location()) is full


def test_a_key_only_artifact_takes_the_archive_location_with_its_own_key() -> None:
    moved = relocate(art(s3={"key": "inputs/data.txt"}), s3_location())
    assert moved.s3 is not None
    assert moved.s3.key == "inputs/data.txt"
    assert moved.s3.bucket == "my-bucket"
    assert moved.s3.access_key_secret is not None


def test_relocation_takes_the_type_of_the_archive_location() -> None:
    gcs_archive = ArtifactLocation.model_validate({"gcs": {"bucket": "g", "key": "wf/pod"}})
    moved = relocate(art(s3={"key": "k"}), gcs_archive)
    assert moved.s3 is None
    assert moved.gcs is not None
    assert (moved.gcs.bucket, moved.gcs.key) == ("g", "k")


def test_relocation_copies_archive_logs() -> None:
    location = s3_location().model_copy(update={"archive_logs": True})
    assert relocate(art(s3={"key": "k"}), location).archive_logs is True


def test_relocating_without_an_archive_location_fails_with_argos_message() -> None:
    with pytest.raises(ArtifactError, match=LOCATION_NOT_SET):
        relocate(art(s3={"key": "k"}), None)


@pytest.mark.parametrize(
    ("archive", "path", "key"),
    [
        (None, "/tmp/out", "wf/pod/out.tgz"),
        ({"tar": {}}, "/tmp/out", "wf/pod/out.tgz"),
        ({"zip": {}}, "/tmp/out", "wf/pod/out.zip"),
        ({"none": {}}, "/tmp/result.json", "wf/pod/result.json"),
        ({"none": {}}, "/tmp/dir/", "wf/pod/dir"),
    ],
)
def test_output_keys_append_the_file_name_to_the_archive_key(
    archive: dict[str, Any] | None, path: str, key: str
) -> None:
    artifact = art(path=path, **({"archive": archive} if archive else {}))
    assert output_key(artifact, s3_location("wf/pod")) == key


def test_an_output_with_its_own_key_keeps_it_verbatim() -> None:
    artifact = art(path="/tmp/x", s3={"key": "mine/exact.bin"})
    assert output_key(artifact, s3_location()) == "mine/exact.bin"


def test_an_output_without_storage_fails_with_argos_message() -> None:
    with pytest.raises(ArtifactError) as info:
        output_key(art(path="/tmp/x"), None)
    assert info.value.message == STORAGE_NOT_CONFIGURED


def test_prepare_output_relocates_and_sets_the_key() -> None:
    prepared = prepare_output(art(path="/tmp/out"), s3_location("wf/pod"))
    assert prepared.s3 is not None
    assert (prepared.s3.bucket, prepared.s3.key) == ("my-bucket", "wf/pod/out.tgz")


def test_go_path_join_cleans_like_go() -> None:
    assert go_path_join("", "out.tgz") == "out.tgz"
    assert go_path_join("a/", "out.tgz") == "a/out.tgz"
    assert go_path_join("a//b/./c", "d") == "a/b/c/d"
    assert go_path_join("", "") == ""


def test_key_formats_substitute_variables_with_optional_spaces() -> None:
    assert substitute_key_format("{{workflow.name}}/{{ pod.name }}", VARS) == "wf-abc/wf-abc-123"


def test_an_unresolved_key_format_variable_is_an_error_naming_it() -> None:
    with pytest.raises(ArtifactError, match=r"no value for workflow\.uid"):
        substitute_key_format("{{workflow.uid}}/x", VARS)


def test_an_s3_repository_becomes_an_archive_location_with_the_default_key_format() -> None:
    repo = ArtifactRepository.model_validate({"archiveLogs": True, "s3": S3_REPO})
    location = repository_location(repo, VARS)
    assert location.archive_logs is True
    assert location.s3 is not None
    assert location.s3.key == "wf-abc/wf-abc-123"
    assert location.s3.bucket == "my-bucket"
    assert "keyFormat" not in location.s3.to_wire()


def test_an_s3_key_prefix_goes_before_the_default_key_format() -> None:
    repo = ArtifactRepository.model_validate({"s3": {**S3_REPO, "keyPrefix": "pre"}})
    assert repository_location(repo, VARS).s3.key == "pre/wf-abc/wf-abc-123"  # type: ignore[union-attr]


def test_a_key_format_wins_over_the_key_prefix() -> None:
    doc = {**S3_REPO, "keyPrefix": "pre", "keyFormat": "art/{{workflow.name}}"}
    repo = ArtifactRepository.model_validate({"s3": doc})
    assert repository_location(repo, VARS).s3.key == "art/wf-abc"  # type: ignore[union-attr]


def test_gcs_artifactory_and_azure_repositories_convert_too() -> None:
    gcs = ArtifactRepository.model_validate({"gcs": {"bucket": "g", "keyFormat": "x/{{pod.name}}"}})
    assert repository_location(gcs, VARS).gcs.key == "x/wf-abc-123"  # type: ignore[union-attr]
    af = ArtifactRepository.model_validate({"artifactory": {"repoURL": "https://a/repo/"}})
    url = repository_location(af, VARS).artifactory.url  # type: ignore[union-attr]
    assert url == "https://a/repo/wf-abc/wf-abc-123"
    az = ArtifactRepository.model_validate({"azure": {"container": "c", "blobNameFormat": "b"}})
    assert repository_location(az, VARS).azure == {"container": "c", "blob": "b"}


CONFIG_MAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "artifact-repositories",
        "annotations": {"workflows.argoproj.io/default-artifact-repository": "second"},
    },
    "data": {
        "first": "s3:\n  bucket: one\n  endpoint: e:1\n",
        "second": "s3:\n  bucket: two\n  endpoint: e:2\n",
    },
}


def test_the_config_maps_default_annotation_picks_the_repository() -> None:
    assert select_repository(CONFIG_MAP).s3.bucket == "two"  # type: ignore[union-attr]


def test_an_explicit_key_picks_another_repository() -> None:
    assert select_repository(CONFIG_MAP, "first").s3.bucket == "one"  # type: ignore[union-attr]


def test_a_missing_key_lists_the_available_ones() -> None:
    with pytest.raises(ArtifactError, match="available keys: first, second"):
        select_repository(CONFIG_MAP, "third")


def test_a_bare_repository_and_a_data_mapping_are_accepted() -> None:
    assert select_repository({"gcs": {"bucket": "g"}}).gcs is not None
    assert select_repository({"only": {"gcs": {"bucket": "g"}}}).gcs is not None
    controller = {"data": {"artifactRepository": "s3:\n  bucket: c\n", "other": "x: 1"}}
    assert select_repository(controller).s3.bucket == "c"  # type: ignore[union-attr]


def test_an_s3_url_becomes_an_s3_artifact() -> None:
    a = parse_location_url(
        "s3://bucket/dir/data.tgz",
        endpoint="127.0.0.1:9000",
        insecure=True,
        access_key_secret="creds/ak",
        secret_key_secret="creds/sk",
    )
    assert a.name == "data"
    assert a.s3 is not None
    assert (a.s3.endpoint, a.s3.bucket, a.s3.key, a.s3.insecure) == (
        "127.0.0.1:9000",
        "bucket",
        "dir/data.tgz",
        True,
    )
    assert a.s3.secret_key_secret is not None
    assert a.s3.secret_key_secret.key == "sk"
    assert a.s3.use_sdk_creds is None


def test_an_s3_url_without_secrets_uses_the_sdk_chain_and_aws_endpoint() -> None:
    a = parse_location_url("s3://bucket/k")
    assert a.s3 is not None
    assert a.s3.use_sdk_creds is True
    assert a.s3.endpoint == "s3.amazonaws.com"


def test_gs_git_and_https_urls() -> None:
    gcs = parse_location_url("gs://b/x/y").gcs
    assert gcs is not None
    assert (gcs.bucket, gcs.key) == ("b", "x/y")
    git = parse_location_url("git+https://host/org/repo.git@v1.2").git
    assert git is not None
    assert (git.repo, git.revision) == ("https://host/org/repo.git", "v1.2")
    ssh = parse_location_url("git+ssh://git@host/org/repo.git").git
    assert ssh is not None
    assert (ssh.repo, ssh.revision) == ("ssh://git@host/org/repo.git", None)
    http = parse_location_url("https://h/files/a.txt", name="a")
    assert (http.name, http.http.url) == ("a", "https://h/files/a.txt")  # type: ignore[union-attr]


def test_an_unknown_scheme_or_missing_bucket_is_rejected() -> None:
    with pytest.raises(ArtifactError, match="unsupported location URL scheme 'ftp'"):
        parse_location_url("ftp://h/x")
    with pytest.raises(ArtifactError, match="no bucket"):
        parse_location_url("s3:///key")


@pytest.mark.parametrize("text", ["name", "name/", "/key", "a/b/c"])
def test_secret_references_must_be_name_slash_key(text: str) -> None:
    with pytest.raises(ArtifactError, match="NAME/KEY"):
        parse_selector(text)
