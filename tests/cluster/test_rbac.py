"""The RBAC evaluator: each rule form allows what Kubernetes allows and refuses the rest."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.rbac import (
    Authorizer,
    RbacError,
    RequestAttributes,
    request_attributes,
    user_groups,
    violations,
)
from tests.servers.kube import Request

SA = "system:serviceaccount:work:runner"
OTHER_SA = "system:serviceaccount:elsewhere:runner"


def rule(groups: list[str], resources: list[str], verbs: list[str], **extra: Any) -> dict:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


def cluster_role(name: str, *rules: dict) -> dict:
    meta = {"name": name}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": meta,
        "rules": list(rules),
    }


def role(namespace: str, name: str, *rules: dict) -> dict:
    meta = {"name": name, "namespace": namespace}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": meta,
        "rules": list(rules),
    }


def binding(kind: str, name: str, ref_kind: str, ref: str, *subjects: dict, ns: str = "") -> dict:
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    ref_doc = {"apiGroup": "rbac.authorization.k8s.io", "kind": ref_kind, "name": ref}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": ref_doc,
        "subjects": list(subjects),
    }


def sa(name: str = "runner", namespace: str | None = "work") -> dict:
    return {
        "kind": "ServiceAccount",
        "name": name,
        **({"namespace": namespace} if namespace else {}),
    }


def authorizer(*objects: dict) -> Authorizer:
    return Authorizer.from_objects(objects)


# --- bindings --------------------------------------------------------------------------------


def test_a_rolebinding_grants_its_role_only_in_its_own_namespace() -> None:
    auth = authorizer(
        role("work", "reader", rule([""], ["pods"], ["get"])),
        binding("RoleBinding", "b", "Role", "reader", sa(), ns="work"),
    )
    assert auth.allows(SA, "get", "", "pods", namespace="work", name="p")
    assert not auth.allows(SA, "get", "", "pods", namespace="other", name="p")
    assert not auth.allows(SA, "get", "", "pods", name="p")  # cluster-wide: not from a RoleBinding
    assert not auth.allows(SA, "list", "", "pods", namespace="work")


def test_a_rolebinding_may_reference_a_clusterrole_and_still_grants_in_one_namespace() -> None:
    auth = authorizer(
        cluster_role("writer", rule(["argoproj.io"], ["workflowtaskresults"], ["create"])),
        binding("RoleBinding", "b", "ClusterRole", "writer", sa(), ns="work"),
    )
    assert auth.allows(SA, "create", "argoproj.io", "workflowtaskresults", namespace="work")
    assert not auth.allows(SA, "create", "argoproj.io", "workflowtaskresults", namespace="x")


def test_a_rolebinding_does_not_reach_a_role_of_another_namespace() -> None:
    auth = authorizer(
        role("other", "reader", rule([""], ["pods"], ["get"])),
        binding("RoleBinding", "b", "Role", "reader", sa(), ns="work"),
    )
    assert not auth.allows(SA, "get", "", "pods", namespace="work", name="p")
    assert not auth.allows(SA, "get", "", "pods", namespace="other", name="p")


def test_a_clusterrolebinding_grants_in_every_namespace_and_cluster_wide() -> None:
    auth = authorizer(
        cluster_role("reader", rule([""], ["namespaces", "pods"], ["list"])),
        binding("ClusterRoleBinding", "b", "ClusterRole", "reader", sa()),
    )
    assert auth.allows(SA, "list", "", "pods", namespace="any")
    assert auth.allows(SA, "list", "", "pods")
    assert auth.allows(SA, "list", "", "namespaces")
    assert not auth.allows(OTHER_SA, "list", "", "pods")


def test_a_binding_to_a_missing_role_grants_nothing() -> None:
    auth = authorizer(binding("ClusterRoleBinding", "b", "ClusterRole", "absent", sa()))
    assert not auth.allows(SA, "get", "", "pods", namespace="work", name="p")


# --- subjects --------------------------------------------------------------------------------


def test_service_account_subjects_match_their_user_name_only() -> None:
    auth = authorizer(
        cluster_role("r", rule([""], ["pods"], ["get"])),
        binding("RoleBinding", "b", "ClusterRole", "r", sa(namespace=None), ns="work"),
    )
    # No namespace on the subject of a RoleBinding: the binding's own.
    assert auth.allows(SA, "get", "", "pods", namespace="work", name="p")
    assert not auth.allows("system:serviceaccount:work:other", "get", "", "pods", namespace="work")
    assert not auth.allows("runner", "get", "", "pods", namespace="work", name="p")


def test_user_subjects_match_by_name_and_group_subjects_by_membership() -> None:
    auth = authorizer(
        cluster_role("r", rule([""], ["pods"], ["get"])),
        binding("ClusterRoleBinding", "u", "ClusterRole", "r", {"kind": "User", "name": "alice"}),
        binding("ClusterRoleBinding", "g", "ClusterRole", "r", {"kind": "Group", "name": "ops"}),
    )
    assert auth.allows("alice", "get", "", "pods", namespace="n", name="p")
    assert not auth.allows("bob", "get", "", "pods", namespace="n", name="p")
    assert auth.allows("bob", "get", "", "pods", namespace="n", name="p", groups=["ops"])


@pytest.mark.parametrize(
    ("group", "allowed"),
    [
        ("system:serviceaccounts", True),
        ("system:serviceaccounts:work", True),
        ("system:serviceaccounts:elsewhere", False),
        ("system:authenticated", True),
        ("system:unauthenticated", False),
    ],
)
def test_service_accounts_belong_to_their_groups(group: str, allowed: bool) -> None:
    auth = authorizer(
        cluster_role("r", rule([""], ["pods"], ["get"])),
        binding("ClusterRoleBinding", "g", "ClusterRole", "r", {"kind": "Group", "name": group}),
    )
    assert auth.allows(SA, "get", "", "pods", namespace="n", name="p") is allowed


def test_anonymous_is_not_authenticated() -> None:
    assert user_groups("system:anonymous") == {"system:unauthenticated"}
    assert "system:authenticated" in user_groups("alice")


# --- rules -----------------------------------------------------------------------------------


def test_wildcards_match_any_verb_group_and_resource() -> None:
    auth = authorizer(
        cluster_role("all", rule(["*"], ["*"], ["*"])),
        binding("ClusterRoleBinding", "b", "ClusterRole", "all", sa()),
    )
    assert auth.allows(SA, "deletecollection", "batch", "jobs", namespace="n")
    assert auth.allows(SA, "create", "", "pods", "exec", namespace="n", name="p")


def test_each_field_must_match_without_a_wildcard() -> None:
    auth = authorizer(
        cluster_role("r", rule(["argoproj.io"], ["workflows"], ["get", "list"])),
        binding("ClusterRoleBinding", "b", "ClusterRole", "r", sa()),
    )
    assert auth.allows(SA, "list", "argoproj.io", "workflows", namespace="n")
    assert not auth.allows(SA, "watch", "argoproj.io", "workflows", namespace="n")
    assert not auth.allows(SA, "list", "", "workflows", namespace="n")
    assert not auth.allows(SA, "list", "argoproj.io", "workflowtemplates", namespace="n")


def test_a_resource_rule_does_not_cover_its_subresources() -> None:
    auth = authorizer(
        cluster_role("r", rule([""], ["pods"], ["get", "create"])),
        binding("ClusterRoleBinding", "b", "ClusterRole", "r", sa()),
    )
    assert auth.allows(SA, "create", "", "pods", namespace="n")
    assert not auth.allows(SA, "create", "", "pods", "exec", namespace="n", name="p")
    assert not auth.allows(SA, "get", "", "pods", "log", namespace="n", name="p")


def test_subresource_rules_name_the_resource_or_use_a_star() -> None:
    auth = authorizer(
        cluster_role(
            "r",
            rule([""], ["pods/exec"], ["create"]),
            rule(["argoproj.io"], ["*/status"], ["patch"]),
        ),
        binding("ClusterRoleBinding", "b", "ClusterRole", "r", sa()),
    )
    assert auth.allows(SA, "create", "", "pods", "exec", namespace="n", name="p")
    assert not auth.allows(SA, "create", "", "pods", namespace="n")
    assert not auth.allows(SA, "create", "", "pods", "attach", namespace="n", name="p")
    assert auth.allows(SA, "patch", "argoproj.io", "workflowtasksets", "status", namespace="n")
    assert not auth.allows(SA, "patch", "argoproj.io", "workflowtasksets", namespace="n")


def test_resource_names_limit_a_rule_to_named_objects() -> None:
    names = {"resourceNames": ["workflow-controller"]}
    auth = authorizer(
        role("ctl", "lease", rule(["coordination.k8s.io"], ["leases"], ["get", "list"], **names)),
        binding("RoleBinding", "b", "Role", "lease", sa(), ns="ctl"),
    )
    lease = ("coordination.k8s.io", "leases")
    assert auth.allows(SA, "get", *lease, namespace="ctl", name="workflow-controller")
    assert not auth.allows(SA, "get", *lease, namespace="ctl", name="another")
    assert not auth.allows(SA, "list", *lease, namespace="ctl")  # no name: never matches


# --- refused objects -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "cause"),
    [
        (role("n", "r", {"apiGroups": [""], "resources": ["pods"]}), "verbs: Required"),
        (role("n", "r", {"nonResourceURLs": ["/x"], "verbs": ["get"]}), "namespaced rules"),
        (cluster_role("r", {"resources": ["pods"], "verbs": ["get"]}), "need both apiGroups"),
        (
            cluster_role("r", {**rule([""], ["pods"], ["get"]), "nonResourceURLs": ["/x"]}),
            "both resources and nonResourceURLs",
        ),
        (binding("ClusterRoleBinding", "b", "Role", "r", sa()), "only reference a ClusterRole"),
        (
            binding("ClusterRoleBinding", "b", "ClusterRole", "r", sa(namespace=None)),
            "namespace: Required value",
        ),
        (binding("RoleBinding", "b", "Role", "r", sa()), "no metadata.namespace"),
        ({**cluster_role("r"), "aggregationRule": {"x": 1}}, "aggregated"),
    ],
)
def test_objects_the_api_server_would_refuse_are_refused(obj: dict, cause: str) -> None:
    with pytest.raises(RbacError, match=cause):
        Authorizer.from_objects([obj])


def test_objects_of_other_kinds_are_skipped() -> None:
    auth = Authorizer.from_objects([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}])
    assert not auth.allows(SA, "get", "", "configmaps", namespace="n", name="c")


# --- request attributes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/namespaces/n/pods/p", {}, ("get", "", "pods", "", "n", "p")),
        ("HEAD", "/api/v1/namespaces/n/pods/p", {}, ("get", "", "pods", "", "n", "p")),
        ("GET", "/api/v1/namespaces/n/pods", {}, ("list", "", "pods", "", "n", "")),
        ("GET", "/api/v1/pods", {}, ("list", "", "pods", "", "", "")),
        ("GET", "/api/v1/pods", {"watch": "true"}, ("watch", "", "pods", "", "", "")),
        ("GET", "/api/v1/pods", {"watch": "1"}, ("watch", "", "pods", "", "", "")),
        ("GET", "/api/v1/pods", {"watch": "false"}, ("list", "", "pods", "", "", "")),
        (
            "GET",
            "/api/v1/namespaces/n/configmaps",
            {"watch": "true", "fieldSelector": "metadata.name=cm"},
            ("watch", "", "configmaps", "", "n", "cm"),
        ),
        ("POST", "/api/v1/namespaces/n/pods", {}, ("create", "", "pods", "", "n", "")),
        (
            "PUT",
            "/apis/argoproj.io/v1alpha1/namespaces/n/workflows/w",
            {},
            ("update", "argoproj.io", "workflows", "", "n", "w"),
        ),
        (
            "PATCH",
            "/apis/argoproj.io/v1alpha1/namespaces/n/workflowtaskresults/r",
            {},
            ("patch", "argoproj.io", "workflowtaskresults", "", "n", "r"),
        ),
        ("DELETE", "/api/v1/namespaces/n/pods/p", {}, ("delete", "", "pods", "", "n", "p")),
        (
            "DELETE",
            "/apis/argoproj.io/v1alpha1/namespaces/n/workflowtaskresults",
            {},
            ("deletecollection", "argoproj.io", "workflowtaskresults", "", "n", ""),
        ),
        (
            "PUT",
            "/apis/apps/v1/namespaces/n/deployments/d/status",
            {},
            ("update", "apps", "deployments", "status", "n", "d"),
        ),
        ("GET", "/api/v1/namespaces/n/pods/p/log", {}, ("get", "", "pods", "log", "n", "p")),
        ("GET", "/api/v1/namespaces/n/pods/p/exec", {}, ("create", "", "pods", "exec", "n", "p")),
        ("POST", "/api/v1/namespaces/n/pods/p/exec", {}, ("create", "", "pods", "exec", "n", "p")),
        (
            "POST",
            "/api/v1/namespaces/n/pods/p/binding",
            {},
            ("create", "", "pods", "binding", "n", "p"),
        ),
        ("GET", "/api/v1/namespaces", {}, ("list", "", "namespaces", "", "", "")),
        ("GET", "/api/v1/namespaces/n", {}, ("get", "", "namespaces", "", "n", "n")),
        (
            "PUT",
            "/api/v1/namespaces/n/status",
            {},
            ("update", "", "namespaces", "status", "n", "n"),
        ),
        (
            "GET",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/r",
            {},
            ("get", "rbac.authorization.k8s.io", "clusterroles", "", "", "r"),
        ),
        ("GET", "/api/v1/watch/namespaces/n/pods", {}, ("watch", "", "pods", "", "n", "")),
    ],
)
def test_request_attributes_follow_the_api_servers_request_info(
    method: str, path: str, query: dict[str, str], expected: tuple[str, ...]
) -> None:
    assert request_attributes(method, path, query) == RequestAttributes(*expected)


@pytest.mark.parametrize(
    "path",
    [
        "/version",
        "/api",
        "/api/v1",
        "/apis",
        "/apis/argoproj.io",
        "/apis/argoproj.io/v1alpha1",
        "/healthz",
        "/metrics",
    ],
)
def test_discovery_and_other_paths_are_non_resource_requests(path: str) -> None:
    assert request_attributes("GET", path, {}).resource == ""


def test_discovery_is_allowed_to_any_authenticated_user_and_nothing_more() -> None:
    auth = authorizer()
    for path in ("/version", "/api", "/api/v1", "/apis", "/apis/argoproj.io/v1alpha1"):
        assert auth.allows_non_resource(SA, "get", path)
        assert not auth.allows_non_resource("system:anonymous", "get", path)
    assert not auth.allows_non_resource(SA, "post", "/api")
    assert not auth.allows_non_resource(SA, "get", "/metrics")


def test_non_resource_urls_come_from_cluster_wide_bindings_with_prefix_stars() -> None:
    auth = authorizer(
        cluster_role("m", {"nonResourceURLs": ["/metrics", "/debug/*"], "verbs": ["get"]}),
        binding("ClusterRoleBinding", "b", "ClusterRole", "m", sa()),
        binding("RoleBinding", "rb", "ClusterRole", "m", sa(name="ns-only"), ns="work"),
    )
    assert auth.allows_non_resource(SA, "get", "/metrics")
    assert auth.allows_non_resource(SA, "get", "/debug/pprof/heap")
    assert not auth.allows_non_resource(SA, "get", "/metrics/extra")
    assert not auth.allows_non_resource("system:serviceaccount:work:ns-only", "get", "/metrics")


# --- violations ------------------------------------------------------------------------------


def entry(method: str, path: str, user: str = SA, **query: str) -> Request:
    return Request(method, path, user, query, "application/json", None, 200)


def test_violations_lists_each_refused_request_of_the_user() -> None:
    auth = authorizer(
        cluster_role("r", rule([""], ["pods"], ["list", "watch"])),
        binding("ClusterRoleBinding", "b", "ClusterRole", "r", sa()),
    )
    journal = [
        entry("GET", "/api/v1/pods", watch="true"),
        entry("GET", "/version"),
        entry("GET", "/api/v1/namespaces/n/secrets/s"),
        entry("DELETE", "/api/v1/namespaces/n/pods"),
        entry("GET", "/api/v1/namespaces/n/secrets/s", user=OTHER_SA),  # someone else's
    ]
    assert violations(journal, auth, SA) == [
        'GET /api/v1/namespaces/n/secrets/s: get secrets "s" of API group "" in namespace "n"',
        'DELETE /api/v1/namespaces/n/pods: deletecollection pods of API group "" in namespace "n"',
    ]


def test_violations_reports_non_resource_requests() -> None:
    found = violations([entry("POST", "/apis")], authorizer(), SA)
    assert found == ["POST /apis: post non-resource URL"]
