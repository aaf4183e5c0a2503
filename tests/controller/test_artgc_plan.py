"""The pure part of artifact GC (`argoexec.controller.artgc`), on Argo's rules: which artifacts
each strategy collects, how they are grouped into GC pods and named, what the results change,
and when the finalizer goes."""

from __future__ import annotations

import copy
from typing import Any

from argoexec.controller import artgc

REPOSITORY = {"s3": {"bucket": "b", "endpoint": "s3:9000", "keyFormat": "{{workflow.name}}/x"}}


def workflow(gc: dict[str, Any] | None = None, *artifacts: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "entrypoint": "main",
        "templates": [{"name": "main", "outputs": {"artifacts": list(artifacts)}}],
    }
    if gc is not None:
        spec["artifactGC"] = gc
    recorded = [{**a, "s3": {"key": f"wf/pod/{a['name']}.tgz"}} for a in artifacts]
    return {
        "metadata": {"name": "wf", "labels": {artgc.LABEL_COMPLETED: "true"}},
        "spec": spec,
        "status": {
            "artifactRepositoryRef": {"artifactRepository": REPOSITORY},
            "nodes": {
                "wf": {
                    "id": "wf",
                    "type": "Pod",
                    "templateName": "main",
                    "outputs": {"artifacts": recorded},
                }
            },
        },
    }


def art(name: str, **gc: Any) -> dict[str, Any]:
    return {"name": name, "path": "/tmp/x", **({"artifactGC": gc} if gc else {})}


def test_fnv32a_matches_the_published_test_vectors() -> None:
    assert artgc.fnv32a(b"") == 0x811C9DC5
    assert artgc.fnv32a(b"a") == 0xE40C292C
    assert artgc.fnv32a(b"foobar") == 0xBF9CF968


def test_a_workflow_without_a_strategy_gets_no_finalizer_and_no_status() -> None:
    wf = workflow(None, art("a"), art("b", strategy="Never"))
    assert not artgc.add_finalizer(wf)
    assert "finalizers" not in wf["metadata"] and "artifactGCStatus" not in wf["status"]
    assert not artgc.pending(wf)


def test_an_artifact_strategy_alone_asks_for_the_finalizer_once() -> None:
    wf = workflow(None, art("a", strategy="OnWorkflowCompletion"))
    assert artgc.add_finalizer(wf)
    assert not artgc.add_finalizer(wf)
    assert wf["metadata"]["finalizers"] == [artgc.FINALIZER]
    assert wf["status"]["artifactGCStatus"] == {"notSpecified": False}


def test_completion_is_ready_when_completed_and_deletion_only_when_deleted() -> None:
    wf = workflow({"strategy": "OnWorkflowDeletion"}, art("a"))
    artgc.add_finalizer(wf)
    assert artgc.ready_strategies(wf) == ["OnWorkflowCompletion"]
    assert artgc.ready_strategies(wf, deleting=True) == [
        "OnWorkflowCompletion",
        "OnWorkflowDeletion",
    ]
    wf["metadata"]["labels"] = {}
    assert artgc.ready_strategies(wf) == []


def test_artifacts_are_grouped_by_service_account_and_pod_metadata_into_named_pods() -> None:
    wf = workflow(
        {"strategy": "OnWorkflowCompletion", "serviceAccountName": "gc"},
        art("plain"),
        art("labelled", podMetadata={"labels": {"team": "a"}}),
        art("own-account", serviceAccountName="other"),
        art("never", strategy="Never"),
        art("later", strategy="OnWorkflowDeletion"),
    )
    pods = {p.name: p for p in artgc.plan(wf, "OnWorkflowCompletion")}
    gc_hash = artgc.fnv32a(b"gc")
    labelled_hash = artgc.fnv32a(b"gcteama")
    other_hash = artgc.fnv32a(b"other")
    assert sorted(pods) == sorted(
        f"wf-artgc-wfcomp-{h}" for h in (gc_hash, labelled_hash, other_hash)
    )
    labelled = pods[f"wf-artgc-wfcomp-{labelled_hash}"]
    assert (labelled.service_account, labelled.labels) == ("gc", {"team": "a"})
    assert list(labelled.artifacts_by_node["wf"]["artifacts"]) == ["labelled"]
    assert pods[f"wf-artgc-wfcomp-{other_hash}"].service_account == "other"
    assert [p.name for p in artgc.plan(wf, "OnWorkflowDeletion")] == [f"wf-artgc-wfdel-{gc_hash}"]


def test_each_node_carries_the_repository_as_its_archive_location() -> None:
    wf = workflow({"strategy": "OnWorkflowCompletion"}, art("a"))
    (pod,) = artgc.plan(wf, "OnWorkflowCompletion")
    location = pod.artifacts_by_node["wf"]["archiveLocation"]
    assert location["s3"]["bucket"] == "b" and location["s3"]["endpoint"] == "s3:9000"
    assert pod.artifacts_by_node["wf"]["artifacts"]["a"]["s3"] == {"key": "wf/pod/a.tgz"}


def test_results_mark_artifacts_deleted_and_a_failure_sets_the_condition() -> None:
    wf = workflow({"strategy": "OnWorkflowCompletion"}, art("a"), art("b"))
    artgc.add_finalizer(wf)
    results = {
        "wf": {
            "artifactResults": {
                "a": {"name": "a", "success": True},
                "b": {"name": "b", "success": False, "error": "access denied"},
            }
        }
    }
    artgc.mark_processed(wf, "OnWorkflowCompletion")
    artgc.record(wf, "wf-artgc-wfcomp-1", "OnWorkflowCompletion", results)
    outputs = wf["status"]["nodes"]["wf"]["outputs"]["artifacts"]
    assert [a["deleted"] for a in outputs] == [True, False]
    (condition,) = wf["status"]["conditions"]
    assert condition == {
        "type": "ArtifactGCError",
        "status": "True",
        "message": "access denied (artifactGCTask: wf-artgc-wfcomp-1-0)",
    }
    assert not artgc.release_finalizer(wf, any_success=True)  # b is not deleted
    forced = copy.deepcopy(wf)
    forced["spec"]["artifactGC"]["forceFinalizerRemoval"] = True
    assert artgc.release_finalizer(forced, any_success=False)
    assert "finalizers" not in forced["metadata"]


def test_the_finalizer_goes_once_everything_to_collect_is_deleted() -> None:
    wf = workflow({"strategy": "OnWorkflowCompletion"}, art("a"), art("k", strategy="Never"))
    artgc.add_finalizer(wf)
    (pod,) = artgc.plan(wf, "OnWorkflowCompletion")
    artgc.mark_processed(wf, "OnWorkflowCompletion")
    assert artgc.pending(wf)  # the pod has not ended
    ok = {"wf": {"artifactResults": {"a": {"name": "a", "success": True}}}}
    artgc.record(wf, pod.name, "OnWorkflowCompletion", ok)
    assert not artgc.pending(wf)
    assert artgc.release_finalizer(wf, any_success=True)
    assert artgc.plan(wf, "OnWorkflowCompletion") == []  # deleted ones are not planned again


def test_force_removal_waits_for_a_strategy_still_to_come() -> None:
    wf = workflow(
        {"strategy": "OnWorkflowDeletion", "forceFinalizerRemoval": True},
        art("now", strategy="OnWorkflowCompletion"),
        art("later"),
    )
    artgc.add_finalizer(wf)
    artgc.mark_processed(wf, "OnWorkflowCompletion")
    ok = {"wf": {"artifactResults": {"now": {"name": "now", "success": True}}}}
    artgc.record(wf, "p", "OnWorkflowCompletion", ok)
    assert not artgc.release_finalizer(wf, any_success=True)
    artgc.mark_processed(wf, "OnWorkflowDeletion")
    artgc.record(wf, "q", "OnWorkflowDeletion", {})
    assert artgc.release_finalizer(wf, any_success=False)


def test_a_key_only_archive_location_gives_way_to_the_repository_as_the_pod_s_did() -> None:
    # Argo's artifact-gc-workflow.yaml: `archiveLocation: {s3: {key: on-deletion}}` with a
    # repository of another kind; the pod stored its artifacts in the repository.
    wf = workflow({"strategy": "OnWorkflowCompletion"}, art("a"))
    wf["spec"]["templates"][0]["archiveLocation"] = {"s3": {"key": "on-deletion"}}
    (pod,) = artgc.plan(wf, "OnWorkflowCompletion")
    location = pod.artifacts_by_node["wf"]["archiveLocation"]
    assert location["s3"]["bucket"] == "b" and location["s3"]["endpoint"] == "s3:9000"


def test_a_full_archive_location_of_the_template_is_kept() -> None:
    wf = workflow({"strategy": "OnWorkflowCompletion"}, art("a"))
    own = {"s3": {"bucket": "own", "endpoint": "elsewhere:9000", "key": "k"}}
    wf["spec"]["templates"][0]["archiveLocation"] = own
    (pod,) = artgc.plan(wf, "OnWorkflowCompletion")
    assert pod.artifacts_by_node["wf"]["archiveLocation"] == own
