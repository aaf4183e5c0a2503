"""``resource`` building blocks: flags, manifests, JSONPath, jq and API discovery (§6, §16.7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from argoexec.errors import ExecutorError
from argoexec.executor.paths import PodPaths
from argoexec.executor.resource.flags import parse_flags
from argoexec.executor.resource.jsonpath import JSONPathError, render
from argoexec.executor.resource.manifest import (
    manifest_path,
    owner_reference,
    read_manifest,
    with_owner_reference,
)
from argoexec.executor.resource.outputs import jq_filter, resource_parameters
from argoexec.kube.client import KubeClient, KubeClientConfig
from argoexec.kube.resources import ApiResource, ResourceClient, ResourceMappingError
from argoexec.models import Parameter, Template
from tests.servers.kube import FakeKube

# --- flags ----------------------------------------------------------------------------------


def test_supported_flags_are_translated() -> None:
    flags = parse_flags(
        [
            "-n",
            "team",
            "--ignore-not-found",
            "--cascade=orphan",
            "--grace-period=10",
            "--wait=false",
            "--field-manager",
            "me",
            "--force-conflicts=false",
            "--subresource=status",
            "--dry-run=server",
            "--validate=warn",
        ]
    )
    assert flags.namespace == "team"
    assert flags.ignore_not_found is True
    assert flags.propagation_policy == "Orphan"
    assert flags.grace_period_seconds() == 10
    assert flags.wait is False
    assert flags.field_manager == "me"
    assert flags.force_conflicts is False
    assert flags.subresource == "status"
    assert flags.query() == {"dryRun": "All", "fieldValidation": "Warn"}


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        ([], None),
        (["--force"], 0),
        (["--grace-period=0"], 1),  # kubectl: 0 without --force means 1
        (["--grace-period=0", "--force"], 0),
        (["--grace-period", "7", "--force"], 7),
    ],
)
def test_grace_period_follows_kubectl(given: list[str], seconds: int | None) -> None:
    assert parse_flags(given).grace_period_seconds() == seconds


@pytest.mark.parametrize(
    ("given", "kind", "name"),
    [(["pod", "mypod"], "pod", "mypod"), (["pod/mypod"], "pod", "mypod"), (["-nx"], None, None)],
)
def test_the_target_object_can_be_named_in_flags(
    given: list[str], kind: str | None, name: str | None
) -> None:
    flags = parse_flags(given)
    assert (flags.target_type, flags.target_name) == (kind, name)


@pytest.mark.parametrize(
    "given",
    [["--fake=true"], ["-l", "app=x"], ["--type", "merge"], ["a", "b", "c"], ["--cascade=maybe"]],
)
def test_unsupported_flags_are_refused_with_the_supported_list(given: list[str]) -> None:
    with pytest.raises(ExecutorError) as caught:
        parse_flags(given)
    assert "is not supported" in str(caught.value)
    assert "--ignore-not-found" in str(caught.value)


def test_a_flag_missing_its_value_is_refused() -> None:
    with pytest.raises(ExecutorError, match="--namespace needs a value"):
        parse_flags(["--namespace"])


# --- manifests ------------------------------------------------------------------------------


def test_an_unreadable_manifest_names_the_os_error(tmp_path: Path) -> None:
    with pytest.raises(ExecutorError, match=r"failed to read the manifest: .*No such file"):
        read_manifest(tmp_path / "unknown-location")


def test_manifests_may_hold_several_documents_and_lists(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "kind: ConfigMap\nmetadata: {name: a}\n---\n---\n"
        "kind: List\nitems:\n- {kind: ConfigMap, metadata: {name: b}}\n"
        "- {kind: ConfigMap, metadata: {name: c}}\n"
    )
    names = [o["metadata"]["name"] for o in read_manifest(path).objects]
    assert names == ["a", "b", "c"]


def test_invalid_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("kind: [unclosed\n")
    with pytest.raises(ExecutorError, match="is not valid YAML"):
        read_manifest(path)


def test_the_manifest_comes_from_the_named_input_artifact() -> None:
    template = Template.model_validate(
        {
            "resource": {"action": "create", "manifestFrom": {"artifact": {"name": "m"}}},
            "inputs": {"artifacts": [{"name": "m", "path": "/in/m.yaml"}]},
        }
    )
    assert manifest_path(template, PodPaths()) == Path("/in/m.yaml")
    plain = Template.model_validate({"resource": {"action": "create", "manifest": "x"}})
    assert manifest_path(plain, PodPaths()) == Path("/tmp/manifest.yaml")


def test_a_manifest_from_artifact_that_is_not_an_input_is_refused() -> None:
    template = Template.model_validate(
        {"resource": {"action": "create", "manifestFrom": {"artifact": {"name": "m"}}}}
    )
    with pytest.raises(ExecutorError, match="'m' is not an input artifact"):
        manifest_path(template, PodPaths())


def test_the_owner_reference_is_added_once() -> None:
    owner = owner_reference("wf", "uid-1")
    obj: dict[str, Any] = {"kind": "ConfigMap", "metadata": {"name": "a"}}
    once = with_owner_reference(obj, owner)
    assert with_owner_reference(once, owner) == once
    assert once["metadata"]["ownerReferences"] == [owner]
    assert "ownerReferences" not in obj["metadata"]


def test_the_owner_reference_needs_the_workflow_identity() -> None:
    with pytest.raises(ExecutorError, match="ARGO_WORKFLOW_UID"):
        owner_reference("wf", "")


# --- JSONPath -------------------------------------------------------------------------------

OBJ = {
    "metadata": {"name": "foo", "labels": {"app.kubernetes.io/name": "web"}},
    "status": {"phase": "Running", "replicas": 3, "ratio": 0.5, "ready": True},
    "items": [
        {"metadata": {"name": "a"}, "phase": "Ready", "n": 1},
        {"metadata": {"name": "b"}, "phase": "Pending", "n": 2},
    ],
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{.status.phase}", "Running"),
        ("{.items[*].metadata.name}", "a b"),
        ("{.items[0].metadata.name}", "a"),
        ("{.items[-1].metadata.name}", "b"),
        ("{.items[0:1].metadata.name}", "a"),
        ("{.status.replicas}/{.status.ratio}/{.status.ready}", "3/0.5/true"),
        ("{.items[0].metadata}", '{"name":"a"}'),
        ("{.metadata.labels['app.kubernetes.io/name']}", "web"),
        ("{.metadata.labels.app\\.kubernetes\\.io/name}", "web"),
        ('{.items[?(@.phase=="Ready")].metadata.name}', "a"),
        ("{.items[?(@.n > 1)].metadata.name}", "b"),
        ("{.status.missing}", ""),
        ("name={.metadata.name}", "name=foo"),
        ('{.metadata.name}{"\\n"}', "foo\n"),
        ("{$.metadata.name}", "foo"),
        ("{.status.phase,.metadata.name}", "Running foo"),
        ("{..n}", "1 2"),
    ],
)
def test_json_path_prints_like_kubectl(template: str, expected: str) -> None:
    assert render(template, OBJ) == expected


@pytest.mark.parametrize("template", ["{.items[", "{range .items[*]}{.x}{end}", "{.a[x]}"])
def test_bad_json_path_templates_are_refused(template: str) -> None:
    with pytest.raises(JSONPathError):
        render(template, OBJ)


# --- jq -------------------------------------------------------------------------------------


def test_jq_filter_emits_a_raw_string() -> None:
    assert jq_filter(".metadata.name", {"metadata": {"name": "foo"}}) == "foo"


@pytest.mark.parametrize("program", [".items[].key", ".items.[].key"])
def test_jq_filter_joins_several_values_with_newlines(program: str) -> None:
    assert jq_filter(program, {"items": [{"key": "foo"}, {"key": "bar"}]}) == "foo\nbar"


def test_jq_filter_renders_non_strings_as_compact_json() -> None:
    obj = {"spec": {"b": [1, 2], "a": {"x": True}}, "n": 3}
    assert jq_filter(".spec, .n", obj) == '{"a":{"x":true},"b":[1,2]}\n3'


def test_parameters_without_an_object_take_their_default() -> None:
    declared = [
        Parameter.model_validate({"name": "a", "valueFrom": {"jsonPath": "{.x}", "default": "d"}}),
        Parameter.model_validate({"name": "b", "valueFrom": {"jqFilter": ".x"}}),
    ]
    values = [p.value for p in resource_parameters(declared, None)]
    assert values == ["d", ""]


# --- discovery ------------------------------------------------------------------------------


@pytest.fixture
def resources(kube_api: FakeKube) -> ResourceClient:
    config = KubeClientConfig(server=kube_api.url, token=kube_api.token, timeout=5)
    return ResourceClient(KubeClient(config))


def test_discovery_maps_kinds_to_their_resources(resources: ResourceClient) -> None:
    assert resources.for_kind("v1", "ConfigMap") == ApiResource("", "v1", "ConfigMap", "configmaps")
    namespace = resources.for_kind("v1", "Namespace")
    assert not namespace.namespaced
    assert namespace.path("ignored", "test-name") == "/api/v1/namespaces/test-name"
    workflow = resources.for_kind("argoproj.io/v1alpha1", "Workflow")
    assert workflow.path("ns", "wf") == "/apis/argoproj.io/v1alpha1/namespaces/ns/workflows/wf"


def test_discovery_is_cached(kube_api: FakeKube, resources: ResourceClient) -> None:
    resources.for_kind("v1", "ConfigMap")
    resources.for_kind("v1", "Pod")
    assert len(kube_api.requests("GET", "^/api/v1$")) == 1


@pytest.mark.parametrize(
    ("type_name", "plural"),
    [
        ("pods", "pods"),
        ("pod", "pods"),
        ("po", "pods"),
        ("Pod", "pods"),
        ("cm", "configmaps"),
        ("wf", "workflows"),
        ("workflows.argoproj.io", "workflows"),
        ("workflow.v1alpha1.argoproj.io", "workflows"),
        ("deployments.apps", "deployments"),
    ],
)
def test_kubectl_type_names_resolve(resources: ResourceClient, type_name: str, plural: str) -> None:
    assert resources.for_type(type_name).plural == plural


def test_unknown_kinds_and_types_are_mapping_errors(resources: ResourceClient) -> None:
    with pytest.raises(ResourceMappingError, match='no matches for kind "Nope"'):
        resources.for_kind("v1", "Nope")
    with pytest.raises(ResourceMappingError, match='no matches for kind "Gadget"'):
        resources.for_kind("example.com/v1", "Gadget")
    with pytest.raises(ResourceMappingError, match='resource type "gadgets"'):
        resources.for_type("gadgets")


def test_unreadable_discovery_falls_back_to_the_guessed_plural(
    kube_api: FakeKube, resources: ResourceClient
) -> None:
    kube_api.fault("GET", "^/apis/batch/v1$", 500, times=1)
    assert resources.for_kind("batch/v1", "Job").plural == "jobs"
