"""The fake API server as the cluster controller sees it: more kinds, several identities,
delete-collection, owner-reference garbage collection and list-then-watch, checked with the
official ``kubernetes`` client."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiClient, CoordinationV1Api, CoreV1Api, CustomObjectsApi
from kubernetes.client.rest import ApiException

from tests.kube.test_fake_api import call, names, pod
from tests.servers.kube import TOKEN_USER, FakeKube

NS = "argo"
ARGO = ("argoproj.io", "v1alpha1")
PODS = f"/api/v1/namespaces/{NS}/pods"
RESULTS = f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/workflowtaskresults"


def client(fake: FakeKube, tmp_path: Path, token: str | None = None) -> ApiClient:
    path = fake.kubeconfig(tmp_path / "kubeconfig", token=token or fake.token)
    return kubernetes.config.new_client_from_config(config_file=str(path))


def owned(name: str, owner: dict[str, Any], **extra: Any) -> dict[str, Any]:
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    return {"metadata": {"name": name, "ownerReferences": [ref]}, **extra}


# --- kinds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group_version", "plural", "namespaced"),
    [
        ("coordination.k8s.io/v1", "leases", True),
        ("rbac.authorization.k8s.io/v1", "roles", True),
        ("rbac.authorization.k8s.io/v1", "rolebindings", True),
        ("rbac.authorization.k8s.io/v1", "clusterroles", False),
        ("rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
        ("apiextensions.k8s.io/v1", "customresourcedefinitions", False),
        ("argoproj.io/v1alpha1", "cronworkflows", True),
        ("argoproj.io/v1alpha1", "workflowtasksets", True),
        ("argoproj.io/v1alpha1", "workflowartifactgctasks", True),
        ("policy/v1", "poddisruptionbudgets", True),
        ("v1", "events", True),
        ("v1", "serviceaccounts", True),
        ("v1", "nodes", False),
    ],
)
def test_the_controllers_kinds_are_served_and_discovered(
    kube_api: FakeKube, group_version: str, plural: str, namespaced: bool
) -> None:
    root = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    resources = {r["name"]: r for r in call(kube_api, "GET", root)[1]["resources"]}
    assert resources[plural]["namespaced"] is namespaced
    collection = f"{root}/namespaces/{NS}/{plural}" if namespaced else f"{root}/{plural}"
    code, created = call(kube_api, "POST", collection, {"metadata": {"name": "x"}})
    assert code == 201 and created["apiVersion"] == group_version
    assert call(kube_api, "GET", f"{collection}/x")[1]["metadata"]["uid"]


def test_task_sets_have_a_status_subresource_and_cron_workflows_none(kube_api: FakeKube) -> None:
    base = f"/apis/argoproj.io/v1alpha1/namespaces/{NS}"
    call(kube_api, "POST", f"{base}/workflowtasksets", {"metadata": {"name": "s"}})
    call(kube_api, "POST", f"{base}/cronworkflows", {"metadata": {"name": "c"}})
    merge = "application/merge-patch+json"
    status = {"status": {"nodes": {"n": {"phase": "Succeeded"}}}}
    code, patched = call(
        kube_api, "PATCH", f"{base}/workflowtasksets/s/status", status, ctype=merge
    )
    assert code == 200 and patched["status"] == status["status"]
    assert call(kube_api, "GET", f"{base}/cronworkflows/c/status")[0] == 404


def test_a_lease_is_created_read_and_renewed_with_optimistic_concurrency(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    leases = CoordinationV1Api(client(kube_api, tmp_path))
    body = {
        "metadata": {"name": "workflow-controller"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15},
    }
    created = leases.create_namespaced_lease(NS, body)
    got = leases.read_namespaced_lease("workflow-controller", NS)
    assert got.spec.holder_identity == "a" and got.metadata.uid == created.metadata.uid
    got.spec.holder_identity = "b"
    renewed = leases.replace_namespaced_lease("workflow-controller", NS, got)
    assert renewed.spec.holder_identity == "b"
    with pytest.raises(ApiException) as stale:
        leases.replace_namespaced_lease("workflow-controller", NS, got)  # the old version
    assert stale.value.status == 409
    with pytest.raises(ApiException) as exists:
        leases.create_namespaced_lease(NS, body)
    assert exists.value.status == 409


# --- identities -------------------------------------------------------------------------------


def test_each_added_token_is_its_own_user_in_the_journal(kube_api: FakeKube) -> None:
    controller = kube_api.add_token("system:serviceaccount:argo:argoexec-controller")
    agent = kube_api.add_token("system:node:node-1")
    assert controller not in (agent, kube_api.token)
    call(kube_api, "GET", PODS, token=controller)
    call(kube_api, "GET", PODS, token=agent)
    call(kube_api, "GET", PODS)
    assert [r.user for r in kube_api.journal] == [
        "system:serviceaccount:argo:argoexec-controller",
        "system:node:node-1",
        TOKEN_USER,
    ]
    kube_api.reset()
    assert call(kube_api, "GET", PODS, token=controller)[0] == 401, "reset forgets the tokens"


def test_the_kubernetes_client_authenticates_with_an_added_token(
    kube_api_tls: FakeKube, tmp_path: Path
) -> None:
    token = kube_api_tls.add_token("system:serviceaccount:argo:argoexec-controller")
    CoreV1Api(client(kube_api_tls, tmp_path, token)).list_namespaced_pod(NS)
    (entry,) = kube_api_tls.journal
    assert entry.user == "system:serviceaccount:argo:argoexec-controller"


# --- delete collection ------------------------------------------------------------------------


def test_delete_collection_answers_the_deleted_objects_and_emits_deleted_events(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    start = kube_api.store.rv
    for name, wf in (("a", "w1"), ("b", "w1"), ("c", "w2")):
        body = {"metadata": {"name": name, "labels": {"workflows.argoproj.io/workflow": wf}}}
        call(kube_api, "POST", RESULTS, body)
    custom = CustomObjectsApi(client(kube_api, tmp_path))
    answer = custom.delete_collection_namespaced_custom_object(
        *ARGO, NS, "workflowtaskresults", label_selector="workflows.argoproj.io/workflow=w1"
    )
    assert answer["kind"] == "WorkflowTaskResultList"
    assert [i["metadata"]["name"] for i in answer["items"]] == ["a", "b"]
    assert names(call(kube_api, "GET", RESULTS)[1]) == ["c"]
    events = [(e.type, e.obj["metadata"]["name"]) for e in kube_api.store.events_since(start)]
    assert events[-2:] == [("DELETED", "a"), ("DELETED", "b")]
    (entry,) = kube_api.requests("DELETE")
    assert entry.query == {"labelSelector": "workflows.argoproj.io/workflow=w1"}


def test_delete_collection_is_authorized_as_its_own_verb(kube_api: FakeKube) -> None:
    call(kube_api, "POST", RESULTS, {"metadata": {"name": "a"}})
    kube_api.deny("deletecollection", "workflowtaskresults", group="argoproj.io")
    code, status = call(kube_api, "DELETE", RESULTS)
    assert code == 403 and "cannot deletecollection resource" in status["message"]
    assert call(kube_api, "DELETE", f"{RESULTS}/a")[0] == 200, "a single delete stays allowed"


# --- garbage collection -----------------------------------------------------------------------


def workflow_with_pods(fake: FakeKube) -> dict[str, Any]:
    path = f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/workflows"
    _, wf = call(fake, "POST", path, {"metadata": {"name": "wf"}, "spec": {}})
    for name in ("p1", "p2"):
        call(fake, "POST", PODS, owned(name, wf, spec={"containers": []}))
    _, p1 = call(fake, "GET", f"{PODS}/p1")
    call(fake, "POST", f"/api/v1/namespaces/{NS}/configmaps", owned("p1-cm", p1))
    call(fake, "POST", "/api/v1/namespaces/other/pods", owned("elsewhere", wf))
    return wf


def test_deleting_an_owner_deletes_its_dependents_transitively(kube_api: FakeKube) -> None:
    wf = workflow_with_pods(kube_api)
    start = kube_api.store.rv
    code, _ = call(kube_api, "DELETE", f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/workflows/wf")
    assert code == 200
    assert names(call(kube_api, "GET", PODS)[1]) == []
    assert kube_api.get("configmaps", "p1-cm", NS) is None
    assert kube_api.get("pods", "elsewhere", "other") is not None, "owners are namespace-local"
    deleted = [
        (e.kind.plural, e.obj["metadata"]["name"])
        for e in kube_api.store.events_since(start)
        if e.type == "DELETED"
    ]
    assert deleted == [("workflows", "wf"), ("pods", "p1"), ("configmaps", "p1-cm"), ("pods", "p2")]
    assert wf["metadata"]["uid"]


def test_a_finalizer_holds_a_deleted_object_until_a_write_removes_it(kube_api: FakeKube) -> None:
    wf = workflow_with_pods(kube_api)
    path = f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/workflows/wf"
    held = {"metadata": {"finalizers": ["workflows.argoproj.io/artifact-gc"]}}
    ctype = "application/merge-patch+json"
    assert call(kube_api, "PATCH", path, held, ctype=ctype)[0] == 200
    code, marked = call(kube_api, "DELETE", path)
    assert code == 200 and marked["metadata"]["deletionTimestamp"]
    assert (
        call(kube_api, "DELETE", path)[1]["metadata"]["resourceVersion"]
        == (marked["metadata"]["resourceVersion"])
    ), "a second DELETE changes nothing"
    assert len(names(call(kube_api, "GET", PODS)[1])) == 2, "dependents stay meanwhile"
    kept = call(kube_api, "GET", path)[1]
    assert kept["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]
    released = {"metadata": {"finalizers": None}}
    assert call(kube_api, "PATCH", path, released, ctype=ctype)[0] == 200
    assert call(kube_api, "GET", path)[0] == 404
    assert names(call(kube_api, "GET", PODS)[1]) == []
    assert wf["metadata"]["uid"]


def test_a_dependent_with_another_live_owner_only_loses_the_dangling_reference(
    kube_api: FakeKube,
) -> None:
    _, keeper = call(
        kube_api, "POST", f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "k"}}
    )
    _, gone = call(
        kube_api, "POST", f"/api/v1/namespaces/{NS}/configmaps", {"metadata": {"name": "g"}}
    )
    body = owned("shared", gone)
    body["metadata"]["ownerReferences"] += owned("x", keeper)["metadata"]["ownerReferences"]
    call(kube_api, "POST", PODS, body)
    call(kube_api, "DELETE", f"/api/v1/namespaces/{NS}/configmaps/g")
    shared = kube_api.get("pods", "shared", NS)
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["k"]


@pytest.mark.parametrize("where", ["body", "query"])
def test_orphan_propagation_leaves_dependents_without_the_reference(
    kube_api: FakeKube, where: str
) -> None:
    workflow_with_pods(kube_api)
    path = f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/workflows/wf"
    if where == "body":
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"}
        assert call(kube_api, "DELETE", path, options)[0] == 200
    else:
        assert call(kube_api, "DELETE", path, propagationPolicy="Orphan")[0] == 200
    assert names(call(kube_api, "GET", PODS)[1]) == ["p1", "p2"]
    assert "ownerReferences" not in kube_api.get("pods", "p1", NS)["metadata"]
    assert kube_api.get("configmaps", "p1-cm", NS) is not None, "p1 still owns its config map"


def test_foreground_deletes_the_dependents_first(kube_api: FakeKube, tmp_path: Path) -> None:
    workflow_with_pods(kube_api)
    start = kube_api.store.rv
    custom = CustomObjectsApi(client(kube_api, tmp_path))
    custom.delete_namespaced_custom_object(
        *ARGO, NS, "workflows", "wf", propagation_policy="Foreground"
    )
    deleted = [e.obj["metadata"]["name"] for e in kube_api.store.events_since(start)]
    assert deleted == ["p1-cm", "p1", "p2", "wf"]


def test_an_unknown_propagation_policy_is_invalid(kube_api: FakeKube) -> None:
    call(kube_api, "POST", PODS, pod("a"))
    code, status = call(kube_api, "DELETE", f"{PODS}/a", propagationPolicy="Sometimes")
    assert (code, status["reason"]) == (422, "Invalid")
    assert 'Unsupported value: "Sometimes"' in status["message"]
    assert kube_api.get("pods", "a", NS) is not None


def test_a_pod_deleted_with_a_grace_period_is_gone_at_once(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    call(kube_api, "POST", PODS, pod("a"))
    core = CoreV1Api(client(kube_api, tmp_path))
    core.delete_namespaced_pod("a", NS, grace_period_seconds=30)
    assert kube_api.get("pods", "a", NS) is None
    (entry,) = kube_api.requests("DELETE")
    assert entry.query == {"gracePeriodSeconds": "30"} and entry.status == 200
    assert call(kube_api, "DELETE", f"{PODS}/b", gracePeriodSeconds="soon")[0] == 400


# --- list then watch --------------------------------------------------------------------------


def test_a_watch_from_the_lists_resource_version_misses_nothing_created_in_between(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    core = CoreV1Api(client(kube_api, tmp_path))
    call(kube_api, "POST", PODS, pod("before"))
    listed = core.list_namespaced_pod(NS)
    call(kube_api, "POST", PODS, pod("between"))  # after the list, before the watch connects
    watch = kubernetes.watch.Watch()
    seen = [
        (event["type"], event["object"].metadata.name)
        for event in watch.stream(
            core.list_namespaced_pod,
            NS,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=1,
        )
    ]
    assert [i.metadata.name for i in listed.items] == ["before"]
    assert seen == [("ADDED", "between")]


def test_list_then_watch_sees_every_object_while_others_keep_creating(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    core = CoreV1Api(client(kube_api, tmp_path))
    created: list[str] = []
    stop = threading.Event()

    def creator() -> None:
        for index in range(60):
            if stop.is_set():
                return
            call(kube_api, "POST", PODS, pod(f"p{index:02d}"))
            created.append(f"p{index:02d}")

    thread = threading.Thread(target=creator)
    thread.start()
    try:
        listed = core.list_namespaced_pod(NS)
        seen = {i.metadata.name for i in listed.items}
        watch = kubernetes.watch.Watch()
        for event in watch.stream(
            core.list_namespaced_pod,
            NS,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=5,
        ):
            assert event["object"].metadata.name not in seen, "no object twice"
            seen.add(event["object"].metadata.name)
            if len(seen) == 60:
                watch.stop()
    finally:
        stop.set()
        thread.join()
    assert seen == set(created) and len(seen) == 60
