"""Kubernetes' strategic merge patch typed for a PodSpec (`pod.strategic`): one row per rule
(merge keys, atomic lists, directives, the order of a merged list)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from argoexec.controller.pod.strategic import PatchError, check_pod_spec_patch, strategic_merge

MAIN = {"name": "main", "image": "alpine", "args": ["a"], "env": [{"name": "A", "value": "1"}]}
WAIT = {"name": "wait", "image": "argoexec"}
BASE: dict[str, Any] = {
    "containers": [WAIT, MAIN],
    "volumes": [{"name": "var-run-argo", "emptyDir": {}}, {"name": "tmp-dir", "emptyDir": {}}],
    "tolerations": [{"key": "a", "operator": "Exists"}],
    "nodeSelector": {"disk": "ssd", "zone": "a"},
}

B3 = {"name": "B", "value": "3"}
HOST_TMP = {"name": "tmp-dir", "hostPath": {"path": "/x"}}

CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "containers merge by name, a container's fields by key",
        {"containers": [{"name": "main", "resources": {"limits": {"memory": "64Mi"}}}]},
        {"containers": [WAIT, {**MAIN, "resources": {"limits": {"memory": "64Mi"}}}]},
    ),
    (
        "env merges by name: a new variable is added, a known one changed",
        {"containers": [{"name": "main", "env": [{"name": "A", "value": "2"}, B3]}]},
        {"containers": [WAIT, {**MAIN, "env": [{"name": "A", "value": "2"}, B3]}]},
    ),
    (
        "args are atomic: replaced whole",
        {"containers": [{"name": "main", "args": ["x", "y"]}]},
        {"containers": [WAIT, {**MAIN, "args": ["x", "y"]}]},
    ),
    (
        "tolerations are atomic: replaced whole",
        {"tolerations": [{"key": "b", "operator": "Exists"}]},
        {"tolerations": [{"key": "b", "operator": "Exists"}]},
    ),
    (
        "a mapping merges key by key; null deletes a key",
        {"nodeSelector": {"zone": "b", "disk": None}},
        {"nodeSelector": {"zone": "b"}},
    ),
    (
        "a container the original lacks goes before those only the original has",
        {"containers": [{"name": "extra", "image": "busybox"}]},
        {"containers": [{"name": "extra", "image": "busybox"}, WAIT, MAIN]},
    ),
    (
        "$patch: delete on an item removes it by its merge key",
        {"volumes": [{"name": "tmp-dir", "$patch": "delete"}]},
        {"volumes": [{"name": "var-run-argo", "emptyDir": {}}]},
    ),
    (
        "$patch: replace as an item replaces the whole list",
        {"volumes": [{"$patch": "replace"}, {"name": "only", "emptyDir": {}}]},
        {"volumes": [{"name": "only", "emptyDir": {}}]},
    ),
    (
        "$patch: replace on a mapping replaces it",
        {"nodeSelector": {"$patch": "replace", "gpu": "yes"}},
        {"nodeSelector": {"gpu": "yes"}},
    ),
    (
        "$patch: delete on a mapping removes the field",
        {"nodeSelector": {"$patch": "delete"}},
        {"nodeSelector": None},
    ),
    (
        "$retainKeys drops the keys it does not list",
        {"volumes": [{**HOST_TMP, "$retainKeys": ["name", "hostPath"]}]},
        {"volumes": [{"name": "var-run-argo", "emptyDir": {}}, HOST_TMP]},
    ),
    (
        "$setElementOrder orders the merged list",
        {"$setElementOrder/containers": [{"name": "main"}, {"name": "wait"}],
         "containers": [{"name": "main", "image": "busybox"}]},
        {"containers": [{**MAIN, "image": "busybox"}, WAIT]},
    ),
    (
        "volumeMounts merge by mountPath",
        {"containers": [{"name": "wait", "volumeMounts": [{"name": "v", "mountPath": "/m"}]}]},
        {"containers": [{**WAIT, "volumeMounts": [{"name": "v", "mountPath": "/m"}]}, MAIN]},
    ),
    (
        "hostAliases merge by ip",
        {"hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a"]}]},
        {"hostAliases": [{"ip": "10.0.0.1", "hostnames": ["a"]}]},
    ),
    (
        "a field the PodSpec lacks is set as the patch has it, directives dropped",
        {"priorityClassName": "high", "affinity": {"nodeAffinity": {"$patch": "merge", "x": 1}}},
        {"priorityClassName": "high", "affinity": {"nodeAffinity": {"x": 1}}},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "patch", "changed"), CASES, ids=[c[0] for c in CASES])
def test_a_strategic_merge_rule(rule: str, patch: dict[str, Any], changed: dict[str, Any]) -> None:
    expected = {**BASE, **changed}
    expected = {k: v for k, v in expected.items() if v is not None}
    assert strategic_merge(BASE, patch) == expected, rule


def test_the_original_is_not_changed() -> None:
    before = repr(BASE)
    strategic_merge(BASE, {"containers": [{"name": "main", "args": ["z"]}], "nodeSelector": None})
    assert repr(BASE) == before


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"containers": "main"}, "containers: expected a list, got a string"),
        ({"containers": [{"name": "main", "env": {"A": "1"}}]},
         "containers[0].env: expected a list, got a mapping"),
        ({"affinity": ["x"]}, "affinity: expected a mapping, got a list"),
        (["containers"], "expected a mapping (a PodSpec), got a list"),
    ],
)  # fmt: skip
def test_a_patch_that_is_not_a_pod_spec_is_refused_naming_the_field(
    patch: Any, message: str
) -> None:
    with pytest.raises(PatchError) as caught:
        check_pod_spec_patch(patch)
    assert str(caught.value) == message


def test_an_item_without_its_merge_key_is_refused() -> None:
    with pytest.raises(PatchError, match=r"containers\[0\]: does not contain declared merge key"):
        strategic_merge(BASE, {"containers": [{"image": "x"}]})


def test_an_unknown_patch_directive_is_refused() -> None:
    with pytest.raises(PatchError, match="unknown \\$patch directive 'shuffle'"):
        strategic_merge(BASE, {"nodeSelector": {"$patch": "shuffle"}})


def test_a_patch_of_ten_thousand_containers_merges_in_well_under_seconds() -> None:
    """Items are found by their merge key in constant time (a scan per item took about a
    minute for this patch, and minutes for a larger one, in the controller's pod build)."""
    patch = {"containers": [{"name": f"c{i}", "image": "x"} for i in range(10_000)]}
    started = time.monotonic()
    merged = strategic_merge({"containers": [{"name": "wait"}, {"name": "main"}]}, patch)
    assert time.monotonic() - started < 5
    names = [c["name"] for c in merged["containers"]]
    assert len(names) == 10_002 and names[:2] == ["c0", "c1"] and names[-2:] == ["wait", "main"]
