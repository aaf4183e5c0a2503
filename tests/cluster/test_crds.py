"""``manifests/crds/``: valid ``apiextensions.k8s.io/v1`` CRDs with Argo's names, scopes and
versions, five of them byte-for-byte as Argo ships them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.servers.kube import FakeKube

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
ARGO_SCHEMA = ROOT / "tests" / "fixtures" / "argo" / "schema.json"

# kind -> (plural, scope, short names)
ARGO_CRDS = {
    "Workflow": ("workflows", "Namespaced", ["wf"]),
    "WorkflowTemplate": ("workflowtemplates", "Namespaced", ["wftmpl"]),
    "ClusterWorkflowTemplate": ("clusterworkflowtemplates", "Cluster", ["clusterwftmpl", "cwft"]),
    "CronWorkflow": ("cronworkflows", "Namespaced", ["cwf", "cronwf"]),
    "WorkflowTaskResult": ("workflowtaskresults", "Namespaced", []),
    "WorkflowTaskSet": ("workflowtasksets", "Namespaced", ["wfts"]),
    "WorkflowArtifactGCTask": ("workflowartifactgctasks", "Namespaced", ["wfat"]),
}
# Argo's minimal CRDs as shipped (v4.1 line), by file (argoproj.io_<plural>.yaml): a changed
# byte fails here. Moving to a newer Argo (manifests/crds/README.md) means updating these
# digests with the files.
ARGO_CRD_SHA256 = {
    "workflows": "358d5f18eefbef7fca670b13ab0948cfd35deee6a1d0ed62260f5abf810bc3bb",
    "workflowtemplates": "8bbb80d961a262760e229af37fba7895a1e95289449981e28467738c0f06ba26",
    "clusterworkflowtemplates": "71b0cd5251bc7ae49e21887fb65530a90b7450bb7af041b9c17b92af8e32041d",
    "workflowtaskresults": "69490cddb4dcc71a6d0464e0db39b9e0d71315859d63d2bccbeeec4e947e88cc",
    "workflowartifactgctasks": "173dcdf008ef247077819633536c043f13839acfdf8a2672e2bcb9edd9f80136",
}


def test_the_crds_are_valid_v1_crds_with_argos_names_and_scopes(objects) -> None:
    crds = {
        o["spec"]["names"]["kind"]: o for o in objects if o["kind"] == "CustomResourceDefinition"
    }
    assert set(crds) == set(ARGO_CRDS)
    for kind, (plural, scope, short) in ARGO_CRDS.items():
        crd = crds[kind]
        spec, names = crd["spec"], crd["spec"]["names"]
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert crd["metadata"]["name"] == f"{plural}.argoproj.io"
        assert spec["group"] == "argoproj.io" and spec["scope"] == scope
        assert names == {
            "kind": kind,
            "listKind": f"{kind}List",
            "plural": plural,
            "singular": kind.lower(),
            **({"shortNames": short} if short else {}),
        }
        [version] = spec["versions"]
        assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
        schema = version["schema"]["openAPIV3Schema"]
        assert schema["type"] == "object" and "metadata" in schema["properties"]


def test_the_crds_match_the_kinds_of_argos_json_schema(objects) -> None:
    definitions = json.loads(ARGO_SCHEMA.read_text())["definitions"]
    published = {
        gvk["kind"]: (gvk["group"], gvk["version"])
        for definition in definitions.values()
        for gvk in definition.get("x-kubernetes-group-version-kind", [])
        if gvk["group"] == "argoproj.io"
    }
    for crd in (o for o in objects if o["kind"] == "CustomResourceDefinition"):
        kind = crd["spec"]["names"]["kind"]
        if kind in published:  # the schema lists only the kinds Argo's API server serves
            assert published[kind] == (crd["spec"]["group"], crd["spec"]["versions"][0]["name"])
    assert {"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow"} <= set(
        published
    )


@pytest.mark.parametrize("name", sorted(ARGO_CRD_SHA256))
def test_the_crds_copied_from_argo_are_unchanged(name: str) -> None:
    path = MANIFESTS / "crds" / f"argoproj.io_{name}.yaml"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == ARGO_CRD_SHA256[name], f"{path.relative_to(ROOT)} differs from Argo's"


def test_the_crds_define_the_kinds_the_fake_api_serves(objects, kube_api: FakeKube) -> None:
    """The fake's built-in Argo kinds must have the scope a cluster gets from our CRDs."""
    for crd in (o for o in objects if o["kind"] == "CustomResourceDefinition"):
        spec = crd["spec"]
        served = kube_api.store.kinds.get((spec["group"], spec["names"]["plural"]))
        if served is not None:
            assert served.kind == spec["names"]["kind"]
            assert served.namespaced == (spec["scope"] == "Namespaced")
            assert served.version == spec["versions"][0]["name"]
