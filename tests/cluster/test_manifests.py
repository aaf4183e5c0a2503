"""``manifests/`` (``kubectl apply -k``): it builds with the kustomize subset, applies to the fake
API, runs the controller as a locked-down non-root pod, and grants the controller and the
executor exactly the calls they make. (The CRDs: test_crds.py.)"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from argoexec.kube.client import KubeClient, resource_path
from argoexec.kube.errors import KubeError
from artifacts.locations import select_repository
from tests.cluster.kustomize import build
from tests.cluster.rbac import Authorizer, violations
from tests.servers.kube import FakeKube, Request

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
NAMESPACE = "argoexec"
CONTROLLER = f"system:serviceaccount:{NAMESPACE}:argoexec-controller"
EXECUTOR = f"system:serviceaccount:{NAMESPACE}:default"


def find(objects: Iterable[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind} {name}: {len(matches)} objects in manifests/"
    return matches[0]


def client(fake: FakeKube, tmp_path: Path) -> KubeClient:
    return KubeClient.from_kubeconfig([fake.kubeconfig(tmp_path / "kubeconfig", token=fake.token)])


def collection(fake: FakeKube, obj: dict[str, Any]) -> str:
    group, _, version = obj["apiVersion"].rpartition("/")
    kind = next(k for k in fake.store.kinds.values() if (k.group, k.kind) == (group, obj["kind"]))
    namespace = obj["metadata"].get("namespace") if kind.namespaced else None
    return resource_path(group, version, kind.plural, namespace=namespace)


# --- the build -------------------------------------------------------------------------------


def test_everything_namespaced_lands_in_argoexec_and_the_namespace_comes_first(objects) -> None:
    assert objects[0] == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    cluster_kinds = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        assert namespace == (None if obj["kind"] in cluster_kinds else NAMESPACE), obj["metadata"]
    kinds = sorted({o["kind"] for o in objects})
    assert kinds == sorted(
        cluster_kinds
        | {"ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Service"}
        | {"Deployment"}
    )


def test_every_object_applies_to_the_api_server(objects, kube_api: FakeKube, tmp_path) -> None:
    api = client(kube_api, tmp_path)
    for obj in objects:
        created = api.create(collection(kube_api, obj), obj)
        assert created["metadata"]["uid"], obj["metadata"]
    for obj in objects:
        meta = obj["metadata"]
        stored = api.get(f"{collection(kube_api, obj)}/{meta['name']}")
        assert stored["metadata"].get("namespace") == meta.get("namespace")
    creates = kube_api.requests("POST")
    assert [r.status for r in creates] == [201] * len(objects)


def test_the_image_override_rewrites_the_deployment_and_not_the_configmap(tmp_path) -> None:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [str(MANIFESTS)],
                "images": [{"name": "argoexec", "newName": "registry.test/ax", "newTag": "v9"}],
            }
        )
    )
    built = build(overlay)
    pod = find(built, "Deployment", "argoexec-controller")["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry.test/ax:v9"
    config = find(built, "ConfigMap", "workflow-controller-configmap")
    assert yaml.safe_load(config["data"]["executor"])["image"] == "argoexec:latest"


# --- the controller's Deployment -------------------------------------------------------------


def test_the_controller_runs_non_root_on_a_read_only_root_with_probes_on_the_health_port(
    objects,
) -> None:
    deployment = find(objects, "Deployment", "argoexec-controller")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert spec["replicas"] in (1, 2)
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    assert pod["serviceAccountName"] == "argoexec-controller"
    find(objects, "ServiceAccount", "argoexec-controller")
    [container] = pod["containers"]
    assert container["image"] == "argoexec:latest"
    assert container["args"] == [
        "controller",
        "--in-cluster",
        "--configmap",
        "workflow-controller-configmap",
    ]
    find(objects, "ConfigMap", "workflow-controller-configmap")
    env = {e["name"]: e for e in container["env"]}
    assert env["LEADER_ELECTION_IDENTITY"]["valueFrom"] == {
        "fieldRef": {"fieldPath": "metadata.name"}
    }
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": 6060, "metrics": 9090}
    for probe in (container["livenessProbe"], container["readinessProbe"]):
        assert probe["httpGet"]["path"] == "/healthz"
        assert ports.get(probe["httpGet"]["port"], probe["httpGet"]["port"]) == 6060
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 8737
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"memory": "512Mi"},
    }
    [mount] = container["volumeMounts"]
    assert mount["mountPath"] == "/tmp"
    assert {"name": mount["name"], "emptyDir": {}} in pod["volumes"]


def test_the_metrics_service_selects_the_controller_pods_metrics_port(objects) -> None:
    service = find(objects, "Service", "argoexec-controller-metrics")
    template = find(objects, "Deployment", "argoexec-controller")["spec"]["template"]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()
    [port] = service["spec"]["ports"]
    assert port["port"] == 9090 and port["targetPort"] == "metrics"


# --- configuration ---------------------------------------------------------------------------

# The keys Argo's controller reads from its ConfigMap (it refuses any other).
ARGO_CONFIG_KEYS = {
    "config",
    "executor",
    "mainContainer",
    "images",
    "artifactRepository",
    "parallelism",
    "namespaceParallelism",
    "resourceRateLimit",
    "podGCGracePeriodSeconds",
    "podGCDeleteDelayDuration",
    "instanceID",
    "namespace",
    "nodeEvents",
    "workflowEvents",
    "workflowDefaults",
    "initialDelay",
    "workflowRestrictions",
    "persistence",
    "synchronization",
    "podSpecLogStrategy",
    "kubeConfig",
    "retentionPolicy",
    "metricsConfig",
    "telemetryConfig",
    "artifactDrivers",
    "failedPodRestart",
    "disableAgentPodCreation",
    "initlessPod",
}


def test_the_controller_configmap_uses_argos_keys_with_yaml_values(objects) -> None:
    data = find(objects, "ConfigMap", "workflow-controller-configmap")["data"]
    assert set(data) <= ARGO_CONFIG_KEYS
    executor = yaml.safe_load(data["executor"])
    assert executor["image"] == "argoexec:latest"
    assert set(executor) <= {"image", "imagePullPolicy", "resources", "env", "securityContext"}
    assert executor["resources"]["requests"]


def test_the_artifact_repositories_example_is_argos_format_with_a_default() -> None:
    doc = yaml.safe_load(
        (MANIFESTS / "controller" / "artifact-repositories.example.yaml").read_text()
    )
    assert doc["metadata"]["name"] == "artifact-repositories"
    default = doc["metadata"]["annotations"]["workflows.argoproj.io/default-artifact-repository"]
    assert default in doc["data"]
    assert select_repository(doc).s3 is not None
    assert select_repository(doc, "gcs").gcs is not None


# --- RBAC ------------------------------------------------------------------------------------


def test_the_executor_may_create_and_patch_task_results_and_nothing_else(objects) -> None:
    role = find(objects, "ClusterRole", "argoexec-executor")
    assert role["rules"] == [
        {
            "apiGroups": ["argoproj.io"],
            "resources": ["workflowtaskresults"],
            "verbs": ["create", "patch"],
        }
    ]
    auth = Authorizer.from_objects(objects)
    results = ("argoproj.io", "workflowtaskresults")
    assert auth.allows(EXECUTOR, "create", *results, namespace=NAMESPACE)
    assert auth.allows(EXECUTOR, "patch", *results, namespace=NAMESPACE, name="wf-1")
    for verb in ("get", "list", "watch", "update", "delete"):
        assert not auth.allows(EXECUTOR, verb, *results, namespace=NAMESPACE, name="wf-1")
    assert not auth.allows(EXECUTOR, "create", *results, namespace="team-a")  # not bound there
    assert not auth.allows(EXECUTOR, "get", "", "secrets", namespace=NAMESPACE, name="s")


def test_an_artifact_gc_pod_may_list_its_tasks_and_patch_their_status_and_nothing_else(
    objects,
) -> None:
    auth = Authorizer.from_objects(objects)
    tasks = ("argoproj.io", "workflowartifactgctasks")
    assert auth.allows(EXECUTOR, "list", *tasks, namespace=NAMESPACE)
    assert auth.allows(EXECUTOR, "watch", *tasks, namespace=NAMESPACE)
    assert auth.allows(EXECUTOR, "patch", *tasks, "status", NAMESPACE, "t-0")
    for verb in ("get", "create", "update", "delete", "patch"):
        assert not auth.allows(EXECUTOR, verb, *tasks, namespace=NAMESPACE, name="t-0")
    assert not auth.allows(EXECUTOR, "list", *tasks, namespace="team-a")  # not bound there


def test_the_agent_may_read_its_task_sets_and_patch_their_status_and_nothing_else(
    objects,
) -> None:
    role = find(objects, "ClusterRole", "argoexec-agent")
    assert role["rules"] == [
        {
            "apiGroups": ["argoproj.io"],
            "resources": ["workflowtasksets"],
            "verbs": ["list", "watch"],
        },
        {
            "apiGroups": ["argoproj.io"],
            "resources": ["workflowtasksets/status"],
            "verbs": ["patch"],
        },
    ]
    auth = Authorizer.from_objects(objects)
    sets = ("argoproj.io", "workflowtasksets")
    assert auth.allows(EXECUTOR, "list", *sets, namespace=NAMESPACE)
    assert auth.allows(EXECUTOR, "watch", *sets, namespace=NAMESPACE)
    assert auth.allows(EXECUTOR, "patch", *sets, "status", namespace=NAMESPACE, name="wf-1")
    for verb in ("create", "update", "delete", "patch"):
        assert not auth.allows(EXECUTOR, verb, *sets, namespace=NAMESPACE, name="wf-1")


WF = "/apis/argoproj.io/v1alpha1"
WATCH = {"watch": "true", "timeoutSeconds": "0"}  # the fake ends such a watch at once
TEAM = "/namespaces/team-a"
# (method, path, query): the calls the controller makes (the ClusterRole's comments say why).
CONTROLLER_CALLS = [
    ("GET", f"{WF}/workflows", {}),
    ("GET", f"{WF}/workflows", {**WATCH, "resourceVersion": "1"}),
    ("GET", f"{WF}{TEAM}/workflows/wf-1", {}),
    ("PUT", f"{WF}{TEAM}/workflows/wf-1", {}),
    ("PATCH", f"{WF}{TEAM}/workflows/wf-1", {}),
    ("POST", f"{WF}{TEAM}/workflows", {}),  # a CronWorkflow's run
    ("DELETE", f"{WF}{TEAM}/workflows/wf-1", {}),  # history limits, ttlStrategy
    ("GET", f"{WF}{TEAM}/workflowtemplates/tmpl", {}),
    ("GET", f"{WF}/workflowtemplates", WATCH),
    ("GET", f"{WF}/clusterworkflowtemplates", {}),
    ("GET", f"{WF}/clusterworkflowtemplates/ctmpl", {}),
    ("GET", f"{WF}/workflowtaskresults", {"labelSelector": "workflows.argoproj.io/workflow"}),
    ("GET", f"{WF}/workflowtaskresults", WATCH),
    (
        "DELETE",
        f"{WF}{TEAM}/workflowtaskresults",
        {"labelSelector": "workflows.argoproj.io/workflow=wf-1"},
    ),
    ("POST", f"{WF}{TEAM}/workflowartifactgctasks", {}),
    ("GET", f"{WF}{TEAM}/workflowartifactgctasks/wf-1-artgc-wfcomp-1-0", {}),
    (
        "GET",
        f"{WF}{TEAM}/workflowartifactgctasks",
        {"labelSelector": "workflows.argoproj.io/artifact-gc-pod=1"},
    ),
    ("DELETE", f"{WF}{TEAM}/workflowartifactgctasks/wf-1-artgc-wfcomp-1-0", {}),
    ("GET", f"{WF}/workflowtasksets", {}),
    ("GET", f"{WF}/workflowtasksets", WATCH),
    ("POST", f"{WF}{TEAM}/workflowtasksets", {}),
    ("PATCH", f"{WF}{TEAM}/workflowtasksets/wf-1", {}),
    ("GET", f"{WF}/cronworkflows", WATCH),
    ("PATCH", f"{WF}{TEAM}/cronworkflows/cron", {}),
    ("POST", f"/api/v1{TEAM}/pods", {}),
    ("GET", f"/api/v1{TEAM}/pods/wf-1", {}),
    ("GET", "/api/v1/pods", {"labelSelector": "workflows.argoproj.io/completed=false"}),
    ("GET", "/api/v1/pods", WATCH),
    ("PATCH", f"/api/v1{TEAM}/pods/wf-1", {}),
    ("DELETE", f"/api/v1{TEAM}/pods/wf-1", {}),
    ("POST", f"/api/v1{TEAM}/pods/wf-1/exec", {"container": "main"}),
    ("GET", f"/api/v1{TEAM}/pods/wf-1/exec", {"container": "main"}),  # websocket, >= 1.31
    ("GET", f"/api/v1{TEAM}/configmaps/artifact-repositories", {}),
    (
        "GET",
        f"/api/v1/namespaces/{NAMESPACE}/configmaps",
        {**WATCH, "fieldSelector": "metadata.name=workflow-controller-configmap"},
    ),
    ("POST", f"/api/v1{TEAM}/configmaps", {}),
    ("PUT", f"/api/v1{TEAM}/configmaps/my-cache", {}),  # memoization caches, as Argo's
    ("POST", f"/api/v1{TEAM}/events", {}),
    ("PATCH", f"/api/v1{TEAM}/events/wf-1.1", {}),
    ("GET", f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/workflow-controller", {}),
    ("POST", f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases", {}),
    ("PUT", f"/apis/coordination.k8s.io/v1/namespaces/{NAMESPACE}/leases/workflow-controller", {}),
    ("GET", "/version", {}),
    ("GET", "/apis", {}),
    ("GET", "/apis/argoproj.io/v1alpha1", {}),
]
# Calls the controller has no business making: each must be refused.
REFUSED_CALLS = [
    ("GET", f"/api/v1{TEAM}/secrets/creds", {}),
    ("GET", "/api/v1/secrets", {}),
    ("DELETE", f"{WF}{TEAM}/workflows", {}),  # a whole collection
    ("PUT", f"{WF}{TEAM}/cronworkflows/cron", {}),  # its status goes in a merge PATCH
    ("GET", f"{WF}{TEAM}/workflowtaskresults/wf-1", {}),
    ("PATCH", f"{WF}{TEAM}/workflowartifactgctasks/wf-1-artgc-wfcomp-1-0/status", {}),
    ("POST", f"{WF}{TEAM}/workflowtaskresults", {}),
    ("PATCH", f"{WF}{TEAM}/workflowtasksets/wf-1/status", {}),
    ("DELETE", f"{WF}{TEAM}/workflowtasksets/wf-1", {}),
    ("DELETE", f"/api/v1{TEAM}/pods", {}),
    ("GET", f"/api/v1{TEAM}/pods/wf-1/log", {}),
    ("POST", f"/api/v1{TEAM}/pods/wf-1/attach", {}),
    ("DELETE", f"/api/v1{TEAM}/configmaps/artifact-repositories", {}),
    ("PUT", f"/apis/coordination.k8s.io/v1{TEAM}/leases/workflow-controller", {}),
    ("POST", f"/api/v1{TEAM}/serviceaccounts", {}),
    ("GET", "/api/v1/nodes", {}),
    ("GET", "/metrics", {}),
]


def journal_of(fake: FakeKube, tmp_path: Path, calls: list, user: str) -> list[Request]:
    """Send ``calls`` to the fake as ``user`` (a token of its own) and return its journal of
    them; what the fake answered does not matter here."""
    config = fake.kubeconfig(tmp_path / "user.kubeconfig", token=fake.add_token(user))
    api = KubeClient.from_kubeconfig([config])
    for method, path, query in calls:
        body = None if method in ("GET", "DELETE") else {}
        content = "application/merge-patch+json" if method == "PATCH" else "application/json"
        with contextlib.suppress(KubeError):
            api.request(method, path, body=body, query=query or None, content_type=content)
    return [entry for entry in fake.journal if entry.user == user]


def test_the_controller_may_make_every_call_it_makes(objects, kube_api, tmp_path) -> None:
    journal = journal_of(kube_api, tmp_path, CONTROLLER_CALLS, CONTROLLER)
    assert len(journal) == len(CONTROLLER_CALLS)
    assert violations(journal, Authorizer.from_objects(objects), CONTROLLER) == []


def test_the_controller_is_refused_everything_else(objects, kube_api, tmp_path) -> None:
    journal = journal_of(kube_api, tmp_path, REFUSED_CALLS, CONTROLLER)
    found = violations(journal, Authorizer.from_objects(objects), CONTROLLER)
    assert [v.split(":")[0] for v in found] == [f"{m} {p}" for m, p, _ in REFUSED_CALLS]


def test_pods_exec_is_granted_as_create_only(objects) -> None:
    auth = Authorizer.from_objects(objects)
    exec_ = ("", "pods", "exec", "team-a", "wf-1")
    assert auth.allows(CONTROLLER, "create", *exec_)
    assert not auth.allows(CONTROLLER, "get", *exec_)


def test_the_executor_calls_pass_in_its_namespace_only(objects, kube_api, tmp_path) -> None:
    calls = [
        ("POST", f"{WF}/namespaces/{NAMESPACE}/workflowtaskresults", {}),
        ("PATCH", f"{WF}/namespaces/{NAMESPACE}/workflowtaskresults/wf-1-123", {}),
        ("POST", f"{WF}{TEAM}/workflowtaskresults", {}),
    ]
    journal = journal_of(kube_api, tmp_path, calls, EXECUTOR)
    found = violations(journal, Authorizer.from_objects(objects), EXECUTOR)
    assert [v.split(":")[0] for v in found] == [f"POST {WF}{TEAM}/workflowtaskresults"]
