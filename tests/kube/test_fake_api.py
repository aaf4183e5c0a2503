"""The fake Kubernetes API server itself, spoken to with a bare ``http.client``."""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from tests.servers._kube_store import Kind
from tests.servers.kube import FakeKube

PODS = "/api/v1/namespaces/argo/pods"
RESULTS = "/apis/argoproj.io/v1alpha1/namespaces/argo/workflowtaskresults"


def call(
    fake: FakeKube,
    method: str,
    path: str,
    body: Any = None,
    *,
    ctype: str = "application/json",
    token: str | None = None,
    **query: str,
) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection(
        urlsplit(fake.url).hostname, urlsplit(fake.url).port, timeout=10
    )
    headers = {"Authorization": f"Bearer {fake.token if token is None else token}"}
    payload = None
    if body is not None:
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        headers["Content-Type"] = ctype
    target = path + (f"?{urlencode(query)}" if query else "")
    try:
        conn.request(method, target, body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def pod(name: str, labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels or {}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"containers": []},
        **extra,
    }


def names(doc: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in doc["items"]]


# --- create / get -------------------------------------------------------------------------------


def test_a_create_answers_201_with_server_filled_metadata(kube_api: FakeKube) -> None:
    code, created = call(kube_api, "POST", PODS, pod("a"))
    assert code == 201
    meta = created["metadata"]
    assert meta["namespace"] == "argo" and meta["generation"] == 1
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    code, got = call(kube_api, "GET", f"{PODS}/a")
    assert code == 200 and got == created


def test_resource_versions_come_from_one_global_counter(kube_api: FakeKube) -> None:
    _, first = call(kube_api, "POST", PODS, pod("a"))
    _, second = call(
        kube_api, "POST", "/api/v1/namespaces/argo/configmaps", {"metadata": {"name": "c"}}
    )
    assert (
        int(second["metadata"]["resourceVersion"]) == int(first["metadata"]["resourceVersion"]) + 1
    )


def test_a_second_create_of_the_same_name_is_already_exists(kube_api: FakeKube) -> None:
    call(kube_api, "POST", PODS, pod("a"))
    code, status = call(kube_api, "POST", PODS, pod("a"))
    assert code == 409
    assert status["kind"] == "Status" and status["reason"] == "AlreadyExists"
    assert status["message"] == 'pods "a" already exists'
    assert status["details"] == {"name": "a", "group": "", "kind": "pods"}


def test_generate_name_makes_a_unique_name(kube_api: FakeKube) -> None:
    body = {"metadata": {"generateName": "wf-"}, "spec": {}}
    path = "/apis/argoproj.io/v1alpha1/namespaces/argo/workflows"
    made = {call(kube_api, "POST", path, body)[1]["metadata"]["name"] for _ in range(3)}
    assert len(made) == 3 and all(n.startswith("wf-") and len(n) == 8 for n in made)


def test_a_create_without_a_name_is_invalid(kube_api: FakeKube) -> None:
    code, status = call(kube_api, "POST", PODS, {"metadata": {}})
    assert (code, status["reason"]) == (422, "Invalid")


def test_a_missing_object_is_not_found_with_details(kube_api: FakeKube) -> None:
    code, status = call(kube_api, "GET", f"{RESULTS}/nope")
    assert code == 404 and status["reason"] == "NotFound"
    assert status["message"] == 'workflowtaskresults.argoproj.io "nope" not found'
    assert status["details"]["name"] == "nope"


def test_an_unknown_resource_type_is_not_found_without_details(kube_api: FakeKube) -> None:
    code, status = call(kube_api, "GET", "/apis/example.com/v1/namespaces/argo/widgets")
    assert (code, status["message"]) == (404, "the server could not find the requested resource")
    assert "details" not in status


def test_a_registered_kind_is_served(kube_api: FakeKube) -> None:
    kube_api.register(Kind("example.com", "v1", "widgets", "Widget", custom=True))
    path = "/apis/example.com/v1/namespaces/argo/widgets"
    assert call(kube_api, "POST", path, {"metadata": {"name": "w"}})[0] == 201
    assert call(kube_api, "GET", f"{path}/w")[1]["kind"] == "Widget"


def test_cluster_scoped_kinds_have_no_namespace(kube_api: FakeKube) -> None:
    path = "/apis/argoproj.io/v1alpha1/clusterworkflowtemplates"
    code, created = call(kube_api, "POST", path, {"metadata": {"name": "t"}})
    assert code == 201 and "namespace" not in created["metadata"]
    assert call(kube_api, "POST", "/api/v1/namespaces", {"metadata": {"name": "argo"}})[0] == 201
    assert call(kube_api, "GET", "/api/v1/namespaces/argo")[1]["kind"] == "Namespace"
    assert (
        call(
            kube_api, "GET", "/apis/argoproj.io/v1alpha1/namespaces/argo/clusterworkflowtemplates"
        )[0]
        == 404
    )


def test_requests_without_valid_credentials_are_unauthorized(kube_api: FakeKube) -> None:
    code, status = call(kube_api, "GET", PODS, token="wrong")
    assert (code, status["reason"]) == (401, "Unauthorized")


def test_deny_rules_answer_forbidden_in_the_api_servers_words(kube_api: FakeKube) -> None:
    kube_api.deny("create", "workflowtaskresults", group="argoproj.io")
    code, status = call(kube_api, "POST", RESULTS, {"metadata": {"name": "n"}})
    assert (code, status["reason"]) == (403, "Forbidden")
    assert status["message"] == (
        'workflowtaskresults.argoproj.io is forbidden: User "system:serviceaccount:default:tester"'
        ' cannot create resource "workflowtaskresults" in API group "argoproj.io"'
        ' in the namespace "argo"'
    )
    assert call(kube_api, "GET", RESULTS)[0] == 200, "other verbs stay allowed"


# --- list and selectors -------------------------------------------------------------------------


@pytest.fixture
def labelled(kube_api: FakeKube) -> FakeKube:
    for name, labels in [
        ("a", {"app": "x", "tier": "web"}),
        ("b", {"app": "y", "tier": "db"}),
        ("c", {"app": "z"}),
    ]:
        call(kube_api, "POST", PODS, pod(name, labels))
    call(kube_api, "POST", "/api/v1/namespaces/other/pods", pod("d", {"app": "x"}))
    return kube_api


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=x", ["a"]),
        ("app==y", ["b"]),
        ("app!=x", ["b", "c"]),
        ("app in (x, z)", ["a", "c"]),
        ("app notin (x,z)", ["b"]),
        ("tier", ["a", "b"]),
        ("!tier", ["c"]),
        ("app in (x,y),tier!=db", ["a"]),
        ("tier notin (web)", ["b", "c"]),
        ("", ["a", "b", "c"]),
    ],
)
def test_label_selectors_filter_lists(
    labelled: FakeKube, selector: str, expected: list[str]
) -> None:
    code, listed = call(labelled, "GET", PODS, labelSelector=selector)
    assert code == 200 and names(listed) == expected


def test_a_malformed_label_selector_is_a_bad_request(kube_api: FakeKube) -> None:
    assert call(kube_api, "GET", PODS, labelSelector="app in x")[0] == 400


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=b", ["b"]),
        ("metadata.name!=b", ["a", "c", "d"]),
        ("metadata.namespace==other", ["d"]),
        ("metadata.namespace=argo,metadata.name!=a", ["b", "c"]),
    ],
)
def test_field_selectors_filter_lists_across_namespaces(
    labelled: FakeKube, selector: str, expected: list[str]
) -> None:
    code, listed = call(labelled, "GET", "/api/v1/pods", fieldSelector=selector)
    assert code == 200 and names(listed) == expected


def test_an_unsupported_field_is_a_bad_request(kube_api: FakeKube) -> None:
    code, status = call(kube_api, "GET", PODS, fieldSelector="status.phase=Running")
    assert code == 400 and "field label not supported" in status["message"]


def test_a_list_carries_the_current_resource_version(labelled: FakeKube) -> None:
    _, listed = call(labelled, "GET", PODS)
    assert listed["kind"] == "PodList"
    assert listed["metadata"]["resourceVersion"] == str(labelled.store.rv)


# --- update, patch, delete ----------------------------------------------------------------------


def test_put_with_a_stale_resource_version_is_a_conflict(kube_api: FakeKube) -> None:
    _, created = call(kube_api, "POST", PODS, pod("a"))
    created["spec"]["nodeName"] = "n1"
    code, updated = call(kube_api, "PUT", f"{PODS}/a", created)
    assert code == 200 and updated["metadata"]["generation"] == 2
    created["spec"]["nodeName"] = "n2"  # still the first resourceVersion
    code, status = call(kube_api, "PUT", f"{PODS}/a", created)
    assert (code, status["reason"]) == (409, "Conflict")
    assert "the object has been modified" in status["message"]


def test_a_no_op_update_keeps_the_resource_version(kube_api: FakeKube) -> None:
    _, created = call(kube_api, "POST", PODS, pod("a"))
    _, again = call(kube_api, "PUT", f"{PODS}/a", created)
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_a_merge_patch_merges_and_null_deletes(kube_api: FakeKube) -> None:
    call(kube_api, "POST", PODS, pod("a", {"keep": "1", "drop": "2"}))
    patch = {"metadata": {"labels": {"drop": None, "new": "3"}}}
    code, patched = call(
        kube_api, "PATCH", f"{PODS}/a", patch, ctype="application/merge-patch+json"
    )
    assert code == 200 and patched["metadata"]["labels"] == {"keep": "1", "new": "3"}
    assert patched["metadata"]["generation"] == 1, "metadata changes do not bump generation"


def test_a_json_patch_applies_operations_and_a_failed_test_is_invalid(kube_api: FakeKube) -> None:
    call(kube_api, "POST", PODS, pod("a", {"x": "1"}))
    ops = [
        {"op": "test", "path": "/metadata/labels/x", "value": "1"},
        {"op": "add", "path": "/metadata/labels/y", "value": "2"},
        {"op": "replace", "path": "/spec/containers", "value": [{"name": "main"}]},
    ]
    code, patched = call(kube_api, "PATCH", f"{PODS}/a", ops, ctype="application/json-patch+json")
    assert code == 200 and patched["metadata"]["labels"] == {"x": "1", "y": "2"}
    assert patched["metadata"]["generation"] == 2
    bad = [{"op": "test", "path": "/metadata/labels/x", "value": "other"}]
    code, status = call(kube_api, "PATCH", f"{PODS}/a", bad, ctype="application/json-patch+json")
    assert (code, status["reason"]) == (422, "Invalid")
    missing = [{"op": "remove", "path": "/spec/nothing"}]
    assert (
        call(kube_api, "PATCH", f"{PODS}/a", missing, ctype="application/json-patch+json")[0] == 422
    )


def test_strategic_merge_is_a_merge_for_built_ins_and_refused_for_custom_resources(
    kube_api: FakeKube,
) -> None:
    strategic = "application/strategic-merge-patch+json"
    call(kube_api, "POST", PODS, pod("a"))
    patch = {"metadata": {"labels": {"s": "1"}}}
    assert call(kube_api, "PATCH", f"{PODS}/a", patch, ctype=strategic)[1]["metadata"][
        "labels"
    ] == {"s": "1"}
    call(kube_api, "POST", RESULTS, {"metadata": {"name": "r"}})
    assert call(kube_api, "PATCH", f"{RESULTS}/r", patch, ctype=strategic)[0] == 415


def test_server_side_apply_creates_then_merges_and_needs_a_field_manager(
    kube_api: FakeKube,
) -> None:
    apply = "application/apply-patch+yaml"
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: '1'\n"
    path = "/api/v1/namespaces/argo/configmaps/cfg"
    assert call(kube_api, "PATCH", path, doc, ctype=apply)[0] == 400
    code, created = call(kube_api, "PATCH", path, doc, ctype=apply, fieldManager="argoexec")
    assert code == 201 and created["data"] == {"a": "1"}
    code, merged = call(
        kube_api,
        "PATCH",
        path,
        {"data": {"b": "2"}},
        ctype=apply,
        fieldManager="argoexec",
        force="true",
    )
    assert code == 200 and merged["data"] == {"a": "1", "b": "2"}


def test_an_unknown_patch_type_is_unsupported(kube_api: FakeKube) -> None:
    call(kube_api, "POST", PODS, pod("a"))
    assert call(kube_api, "PATCH", f"{PODS}/a", {}, ctype="text/plain")[0] == 415


def test_patching_a_missing_object_is_not_found(kube_api: FakeKube) -> None:
    code, status = call(
        kube_api, "PATCH", f"{RESULTS}/gone", {}, ctype="application/merge-patch+json"
    )
    assert (code, status["reason"]) == (404, "NotFound")


def test_delete_answers_the_object_and_honours_preconditions(kube_api: FakeKube) -> None:
    _, created = call(kube_api, "POST", PODS, pod("a"))
    stale = {"preconditions": {"uid": "not-it"}}
    assert call(kube_api, "DELETE", f"{PODS}/a", stale)[0] == 409
    code, deleted = call(kube_api, "DELETE", f"{PODS}/a")
    assert code == 200 and deleted["metadata"]["uid"] == created["metadata"]["uid"]
    assert call(kube_api, "GET", f"{PODS}/a")[0] == 404
    assert call(kube_api, "DELETE", f"{PODS}/a")[0] == 404


def test_delete_collection_removes_what_the_selector_matches(labelled: FakeKube) -> None:
    code, _ = call(labelled, "DELETE", PODS, labelSelector="tier")
    assert code == 200 and names(call(labelled, "GET", PODS)[1]) == ["c"]


# --- status subresource -------------------------------------------------------------------------


def test_status_is_isolated_from_the_main_resource(kube_api: FakeKube) -> None:
    _, created = call(kube_api, "POST", PODS, pod("a", status={"phase": "Running"}))
    assert "status" not in created, "status on create is dropped"
    merge = "application/merge-patch+json"
    code, main = call(
        kube_api,
        "PATCH",
        f"{PODS}/a",
        {"status": {"phase": "Failed"}, "metadata": {"labels": {"l": "1"}}},
        ctype=merge,
    )
    assert code == 200 and "status" not in main and main["metadata"]["labels"] == {"l": "1"}
    code, with_status = call(
        kube_api,
        "PATCH",
        f"{PODS}/a/status",
        {"status": {"phase": "Succeeded"}, "metadata": {"labels": {"l": "2"}}},
        ctype=merge,
    )
    assert code == 200 and with_status["status"] == {"phase": "Succeeded"}
    assert with_status["metadata"]["labels"] == {"l": "1"}, "/status changes only status"
    with_status["spec"]["nodeName"] = "ignored"
    with_status["status"]["phase"] = "Failed"
    code, put = call(kube_api, "PUT", f"{PODS}/a/status", with_status)
    assert put["status"]["phase"] == "Failed" and "nodeName" not in put["spec"]
    assert put["metadata"]["generation"] == 1


def test_argo_kinds_have_no_status_subresource(kube_api: FakeKube) -> None:
    call(kube_api, "POST", RESULTS, {"metadata": {"name": "r"}})
    assert call(kube_api, "GET", f"{RESULTS}/r/status")[0] == 404


def test_seeded_objects_keep_their_status(kube_api: FakeKube) -> None:
    seeded = kube_api.seed(
        pod("a", status={"phase": "Running"}) | {"metadata": {"name": "a", "namespace": "argo"}}
    )
    assert seeded["status"] == {"phase": "Running"}
    assert kube_api.get("pods", "a", "argo")["status"]["phase"] == "Running"


# --- watch --------------------------------------------------------------------------------------


def watch(fake: FakeKube, path: str, **query: str) -> list[dict[str, Any]]:
    """Read a whole watch stream (it ends at ``timeoutSeconds``)."""
    url = urlsplit(fake.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request(
        "GET",
        f"{path}?{urlencode({'watch': 'true', **query})}",
        headers={"Authorization": f"Bearer {fake.token}"},
    )
    response = conn.getresponse()
    assert response.status == 200
    events = [json.loads(line) for line in response.read().splitlines() if line.strip()]
    conn.close()
    return events


def test_a_watch_streams_changes_after_a_resource_version(kube_api: FakeKube) -> None:
    _, first = call(kube_api, "POST", PODS, pod("a"))
    start = first["metadata"]["resourceVersion"]
    merge = "application/merge-patch+json"
    call(kube_api, "PATCH", f"{PODS}/a", {"metadata": {"labels": {"x": "1"}}}, ctype=merge)
    call(kube_api, "POST", "/api/v1/namespaces/other/pods", pod("elsewhere"))
    call(kube_api, "DELETE", f"{PODS}/a")
    events = watch(kube_api, PODS, resourceVersion=start, timeoutSeconds="1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("MODIFIED", "a"),
        ("DELETED", "a"),
    ]


def test_a_watch_without_a_resource_version_starts_with_the_current_objects(
    kube_api: FakeKube,
) -> None:
    call(kube_api, "POST", PODS, pod("a", {"app": "x"}))
    call(kube_api, "POST", PODS, pod("b", {"app": "y"}))

    def later() -> None:
        call(kube_api, "POST", PODS, pod("c", {"app": "x"}))
        call(kube_api, "POST", PODS, pod("d", {"app": "y"}))

    timer = threading.Timer(0.3, later)
    timer.start()
    events = watch(kube_api, PODS, labelSelector="app=x", timeoutSeconds="1")
    timer.join()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("ADDED", "c"),
    ]


def test_a_quiet_watch_sends_bookmarks_when_asked(kube_api: FakeKube) -> None:
    kube_api.bookmark_interval = 0.2
    _, created = call(kube_api, "POST", PODS, pod("a"))
    rv = created["metadata"]["resourceVersion"]
    events = watch(
        kube_api, PODS, resourceVersion=rv, timeoutSeconds="1", allowWatchBookmarks="true"
    )
    assert events and {e["type"] for e in events} == {"BOOKMARK"}
    assert events[-1]["object"] == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": rv},
    }
    assert watch(kube_api, PODS, resourceVersion=rv, timeoutSeconds="1") == []


def test_a_watch_from_a_compacted_resource_version_gets_410_expired(kube_api: FakeKube) -> None:
    _, created = call(kube_api, "POST", PODS, pod("a"))
    call(kube_api, "POST", PODS, pod("b"))
    kube_api.compact()
    events = watch(
        kube_api, PODS, resourceVersion=created["metadata"]["resourceVersion"], timeoutSeconds="1"
    )
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"


# --- discovery ----------------------------------------------------------------------------------


def test_discovery_describes_groups_versions_and_resources(kube_api: FakeKube) -> None:
    assert call(kube_api, "GET", "/api")[1]["versions"] == ["v1"]
    core = call(kube_api, "GET", "/api/v1")[1]
    pods = next(r for r in core["resources"] if r["name"] == "pods")
    assert pods["kind"] == "Pod" and pods["namespaced"] and "watch" in pods["verbs"]
    assert any(r["name"] == "pods/status" for r in core["resources"])
    groups = {g["name"]: g for g in call(kube_api, "GET", "/apis")[1]["groups"]}
    assert groups["argoproj.io"]["preferredVersion"]["groupVersion"] == "argoproj.io/v1alpha1"
    assert {"apps", "batch"} <= set(groups)
    argo = call(kube_api, "GET", "/apis/argoproj.io/v1alpha1")[1]
    scoped = {r["name"]: r["namespaced"] for r in argo["resources"]}
    assert scoped["workflowtaskresults"] is True and scoped["clusterworkflowtemplates"] is False
    assert call(kube_api, "GET", "/apis/argoproj.io")[1]["kind"] == "APIGroup"
    assert call(kube_api, "GET", "/apis/nope.example.com/v1")[0] == 404


# --- faults and journal -------------------------------------------------------------------------


def test_faults_answer_the_next_matching_requests_then_stop(kube_api: FakeKube) -> None:
    kube_api.fault("POST", r"/pods$", 503, times=2)
    kube_api.fault("*", r"/configmaps", 429)
    first, second = call(kube_api, "POST", PODS, pod("a")), call(kube_api, "POST", PODS, pod("a"))
    assert [first[0], second[0]] == [503, 503]
    assert second[1]["reason"] == "ServiceUnavailable"
    assert call(kube_api, "POST", PODS, pod("a"))[0] == 201
    code, status = call(kube_api, "GET", "/api/v1/namespaces/argo/configmaps")
    assert (code, status["reason"]) == (429, "TooManyRequests")
    assert [r.status for r in kube_api.requests("POST")] == [503, 503, 201]


def test_a_fault_can_carry_a_custom_message(kube_api: FakeKube) -> None:
    kube_api.fault("POST", "pods", 403, reason="Forbidden", message="exceeded quota: compute")
    code, status = call(kube_api, "POST", PODS, pod("a"))
    assert (code, status["reason"], status["message"]) == (
        403,
        "Forbidden",
        "exceeded quota: compute",
    )


def test_a_dropped_connection_gets_no_answer(kube_api: FakeKube) -> None:
    kube_api.fault("POST", "pods", drop=True)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        call(kube_api, "POST", PODS, pod("a"))
    assert kube_api.get("pods", "a", "argo") is None


def test_a_drop_after_the_write_loses_only_the_answer(kube_api: FakeKube) -> None:
    kube_api.fault("POST", "pods", drop="after")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        call(kube_api, "POST", PODS, pod("a"))
    assert kube_api.get("pods", "a", "argo") is not None


def test_the_journal_records_each_request(kube_api: FakeKube) -> None:
    call(kube_api, "POST", RESULTS, {"metadata": {"name": "r"}})
    call(kube_api, "GET", RESULTS, labelSelector="a=b")
    post, get = kube_api.journal
    assert post[:3] == ("POST", RESULTS, "system:serviceaccount:default:tester")
    assert post.body == {"metadata": {"name": "r"}} and post.status == 201
    assert post.content_type == "application/json"
    assert get.query == {"labelSelector": "a=b"} and get.status == 200
