"""Artifact GC on a (fake) cluster, as Argo's controller does it: a WorkflowArtifactGCTask and a
GC pod running `argoexec artifact delete` (run by the node agent) per strategy; the finalizer
holds a deleted Workflow until its OnWorkflowDeletion artifacts are gone. Artifacts live in an
S3 repository (moto), checked with boto3. Every call the controller and the GC pod made is
allowed by the manifests' RBAC."""

from __future__ import annotations

import time
from typing import Any

from argoexec.controller.artgc import FINALIZER
from tests.cluster.harness import CONTROLLER_USER, Cluster
from tests.cluster.rbac import Authorizer, violations
from tests.cluster.test_examples_on_cluster import seed_repository
from tests.servers.s3 import S3Server

NS = "argoexec"  # where the manifests bind the executor and artifact-GC roles
BUCKET = "gc-artifacts"
WORKFLOW = {
    "metadata": {"name": "gc"},
    "spec": {
        "entrypoint": "main",
        "artifactGC": {"strategy": "OnWorkflowDeletion"},
        "templates": [
            {
                "name": "main",
                "container": {"image": "busybox", "command": ["sh", "-c", "echo hi > /tmp/m"]},
                "outputs": {
                    "artifacts": [
                        {
                            "name": "on-completion",
                            "path": "/tmp/m",
                            "artifactGC": {"strategy": "OnWorkflowCompletion"},
                        },
                        {"name": "on-deletion", "path": "/tmp/m"},
                        {"name": "kept", "path": "/tmp/m", "artifactGC": {"strategy": "Never"}},
                    ]
                },
            }
        ],
    },
}


def _repository(cluster: Cluster, s3: S3Server) -> Any:
    return seed_repository(cluster, s3, bucket=BUCKET, secrets_namespace=NS)


def _keys(boto: Any) -> list[str]:
    listed = boto.list_objects_v2(Bucket=BUCKET).get("Contents") or []
    return sorted(str(o["Key"]).rsplit("/", 1)[-1] for o in listed)


def _delete_as_user(cluster: Cluster, name: str) -> None:
    path = f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/workflows/{name}"
    from argoexec.controller.cluster.api import ClusterApi, Connection

    kubeconfig = cluster.fake.kubeconfig(cluster.tmp / "user.kubeconfig", token=cluster.fake.token)
    api = ClusterApi.connect(Connection(kubeconfig=str(kubeconfig)))
    try:
        api.delete(path)
    finally:
        api.close()


def _gone(cluster: Cluster, name: str, timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cluster.fake.get("workflows", name, NS, group="argoproj.io") is None:
            return True
        time.sleep(0.1)
    return False


def test_gc_pods_delete_completion_artifacts_at_the_end_and_deletion_ones_before_the_workflow_goes(
    cluster: Cluster, moto_server: S3Server, objects: list[dict[str, Any]]
) -> None:
    boto = _repository(cluster, moto_server)
    cluster.start_controller()
    cluster.submit(WORKFLOW, NS)
    assert cluster.wait_finished("gc", NS)["status"]["phase"] == "Succeeded"
    done = cluster.wait_collected("gc", NS)
    assert _keys(boto) == ["kept.tgz", "on-deletion.tgz"]
    (node,) = [n for n in done["status"]["nodes"].values() if n["type"] == "Pod"]
    deleted = {a["name"]: a.get("deleted") for a in node["outputs"]["artifacts"]}
    assert deleted == {"on-completion": True, "on-deletion": None, "kept": None}
    assert done["metadata"]["finalizers"] == [FINALIZER]
    pod_name = "gc-artgc-wfcomp-2166136261"
    assert done["status"]["artifactGCStatus"]["podsRecouped"] == {pod_name: True}

    # The pod as created (deleted since with its task, its owner, as in Argo).
    assert cluster.fake.get("pods", pod_name, NS) is None
    (pod,) = [
        r.body
        for r in cluster.fake.requests("POST", r"/pods$")
        if (r.body or {}).get("metadata", {}).get("name") == pod_name
    ]
    assert pod["metadata"]["labels"]["workflows.argoproj.io/component"] == "artifact-gc"
    assert pod["metadata"]["annotations"] == {
        "workflows.argoproj.io/artifact-gc-strategy": "OnWorkflowCompletion"
    }
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "WorkflowArtifactGCTask"
    (main,) = pod["spec"]["containers"]
    assert main["args"][:2] == ["artifact", "delete"] and "command" not in main
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert env["ARGO_ARTIFACT_POD_NAME"] == "2738740293"  # fnv32a of the pod's name
    assert [m["mountPath"] for m in main["volumeMounts"]] == ["/argo/secret/s3-creds"]
    # Its task was deleted once every artifact in it was, and the pod with it.
    assert (
        cluster.fake.get("workflowartifactgctasks", f"{pod_name}-0", NS, group="argoproj.io")
        is None
    )

    _delete_as_user(cluster, "gc")
    assert _gone(cluster, "gc"), cluster.fake.get("workflows", "gc", NS, group="argoproj.io")
    assert _keys(boto) == ["kept.tgz"]

    authorizer = Authorizer.from_objects(objects)
    journal = cluster.fake.requests()
    gc_calls = [r for r in journal if "workflowartifactgctasks" in r.path]
    assert {r.user for r in gc_calls} == {CONTROLLER_USER, "system:serviceaccount:argoexec:default"}
    assert violations(journal, authorizer, CONTROLLER_USER) == []
    assert violations(journal, authorizer, "system:serviceaccount:argoexec:default") == []


def test_a_failed_delete_keeps_the_deleted_workflow_its_finalizer_and_its_task(
    cluster: Cluster, moto_server: S3Server
) -> None:
    boto = _repository(cluster, moto_server)
    held = {
        **WORKFLOW,
        "metadata": {"name": "gc-held"},
        "spec": {**WORKFLOW["spec"], "templates": [_only_on_deletion()]},
    }
    cluster.start_controller()
    cluster.submit(held, NS)
    cluster.wait_finished("gc-held", NS)
    for key in boto.list_objects_v2(Bucket=BUCKET).get("Contents") or []:
        boto.delete_object(Bucket=BUCKET, Key=key["Key"])
    boto.delete_bucket(Bucket=BUCKET)  # every delete now fails: NoSuchBucket
    _delete_as_user(cluster, "gc-held")
    end = time.monotonic() + 60
    found = cluster.workflow("gc-held", NS)
    while time.monotonic() < end and not _recouped(found):
        time.sleep(0.1)
        found = cluster.workflow("gc-held", NS)
    assert _recouped(found), found["status"]
    time.sleep(1.0)  # the controller has let go: the workflow stays
    found = cluster.workflow("gc-held", NS)
    assert found["metadata"]["deletionTimestamp"] and found["metadata"]["finalizers"] == [FINALIZER]
    (node,) = [n for n in found["status"]["nodes"].values() if n["type"] == "Pod"]
    assert node["outputs"]["artifacts"][0]["deleted"] is False
    (condition,) = [c for c in found["status"]["conditions"] if c["type"] == "ArtifactGCError"]
    assert "NoSuchBucket" in condition["message"] or "bucket" in condition["message"].lower()
    task = "gc-held-artgc-wfdel-2166136261-0"
    assert cluster.fake.get("workflowartifactgctasks", task, NS, group="argoproj.io") is not None


def _only_on_deletion() -> dict[str, Any]:
    template = dict(WORKFLOW["spec"]["templates"][0])  # type: ignore[index]
    template["outputs"] = {"artifacts": [{"name": "on-deletion", "path": "/tmp/m"}]}
    return template


def _recouped(workflow: dict[str, Any]) -> bool:
    gc_status = (workflow.get("status") or {}).get("artifactGCStatus") or {}
    return bool((gc_status.get("podsRecouped") or {}).get("gc-held-artgc-wfdel-2166136261"))
