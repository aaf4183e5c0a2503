"""Artifact garbage collection, the pure part (Argo's ``workflow/controller/artifact_gc.go``).

A Workflow whose output artifacts have an ``artifactGC.strategy`` (on the artifact, else
``spec.artifactGC``) other than ``Never`` gets the finalizer ``workflows.argoproj.io/artifact-gc``.
``OnWorkflowCompletion`` artifacts are collected once the workflow is completed (or deleted
before that), ``OnWorkflowDeletion`` ones when it is deleted. For each strategy the artifacts are
grouped by what the deleting pod needs (service account, pod metadata): one group is one Argo
artifact-GC pod ``<wf>-artgc-<wfcomp|wfdel>-<fnv32a>`` with one ``WorkflowArtifactGCTask``
listing the artifacts by node (``artifactsByNode``, each node with its archive location).

The results (``artifactResultsByNode``) mark each artifact ``deleted``, a failure adds the
``ArtifactGCError`` condition, and the finalizer goes once every artifact to collect is deleted
(or, with ``spec.artifactGC.forceFinalizerRemoval``, once every GC pod ended).
``status.artifactGCStatus`` keeps ``strategiesProcessed`` and ``podsRecouped``, so any controller
can carry on where another stopped. No I/O here: the loop's collectors (in-process for this
machine, GC pods on a cluster) do the deleting.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from argoexec.contract import FINALIZER_ARTIFACT_GC
from argoexec.models import ArtifactLocation, ArtifactRepository
from artifacts.errors import ArtifactError
from artifacts.locations import has_location, repository_location

FINALIZER = FINALIZER_ARTIFACT_GC
ON_COMPLETION = "OnWorkflowCompletion"
ON_DELETION = "OnWorkflowDeletion"
NEVER = "Never"
STRATEGIES = (ON_COMPLETION, ON_DELETION)
ABBREVIATIONS = {ON_COMPLETION: "wfcomp", ON_DELETION: "wfdel"}
CONDITION = "ArtifactGCError"
LABEL_COMPLETED = "workflows.argoproj.io/completed"


@dataclass
class GCPod:
    """One artifact-GC pod's worth of work: a strategy, who deletes (service account, pod
    metadata), and the artifacts by node (its WorkflowArtifactGCTask's spec)."""

    name: str
    strategy: str
    service_account: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    artifacts_by_node: dict[str, Any] = field(default_factory=dict)

    @property
    def pod_hash(self) -> str:
        """The label value tying the pod's tasks to it (Argo's ``artifactGCPodLabel``)."""
        return str(fnv32a(self.name.encode()))


def fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


# --- what the workflow asks for --------------------------------------------------------------


def exec_spec(workflow: Mapping[str, Any]) -> Mapping[str, Any]:
    """The spec the workflow runs (a stored WorkflowTemplate spec wins, as Argo's execWf)."""
    status = workflow.get("status") or {}
    return status.get("storedWorkflowTemplateSpec") or workflow.get("spec") or {}


def workflow_gc(workflow: Mapping[str, Any]) -> Mapping[str, Any]:
    return (
        exec_spec(workflow).get("artifactGC")
        or (workflow.get("spec") or {}).get("artifactGC")
        or {}
    )


def strategy_of(workflow: Mapping[str, Any], artifact: Mapping[str, Any]) -> str:
    """The artifact's own strategy, else the workflow's, else "" (none)."""
    own = (artifact.get("artifactGC") or {}).get("strategy")
    return str(own or workflow_gc(workflow).get("strategy") or "")


def _templates(workflow: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from exec_spec(workflow).get("templates") or []
    yield from (workflow.get("spec") or {}).get("templates") or []
    yield from ((workflow.get("status") or {}).get("storedTemplates") or {}).values()


def has_artifact_gc(workflow: Mapping[str, Any]) -> bool:
    """Whether some output artifact of some template is to be collected (Argo's
    ``HasArtifactGC``)."""
    for template in _templates(workflow):
        for artifact in (template.get("outputs") or {}).get("artifacts") or []:
            if strategy_of(workflow, artifact) not in ("", NEVER):
                return True
    return False


def node_template(workflow: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    name = node.get("templateName") or (node.get("templateRef") or {}).get("template")
    return next((t for t in _templates(workflow) if t.get("name") == name), {})


def _node_strategy(
    workflow: Mapping[str, Any], template: Mapping[str, Any], artifact: Mapping[str, Any]
) -> str:
    """A node's output artifact takes its template's declaration when the recorded one lost
    its ``artifactGC``."""
    if not artifact.get("artifactGC"):
        for declared in (template.get("outputs") or {}).get("artifacts") or []:
            if declared.get("name") == artifact.get("name"):
                return strategy_of(workflow, declared)
    return strategy_of(workflow, artifact)


def _gc_of(
    workflow: Mapping[str, Any], template: Mapping[str, Any], artifact: Mapping[str, Any]
) -> Mapping[str, Any]:
    own = artifact.get("artifactGC")
    if not own:
        for declared in (template.get("outputs") or {}).get("artifacts") or []:
            if declared.get("name") == artifact.get("name"):
                own = declared.get("artifactGC")
    return own or {}


# --- the plan ---------------------------------------------------------------------------------


def _gc_status(workflow: dict[str, Any]) -> dict[str, Any]:
    status: dict[str, Any] = workflow.setdefault("status", {})
    found: dict[str, Any] = status.setdefault("artifactGCStatus", {})
    return found


def add_finalizer(workflow: dict[str, Any]) -> bool:
    """Argo's first step: the finalizer on a workflow with artifacts to collect. True if the
    workflow changed. (Argo also writes ``notSpecified: true`` on every other workflow; we
    leave their status alone.)"""
    meta = workflow.setdefault("metadata", {})
    finalizers = meta.get("finalizers") or []
    if FINALIZER in finalizers or (workflow.get("status") or {}).get("artifactGCStatus"):
        return False
    if not has_artifact_gc(workflow):
        return False
    meta["finalizers"] = [*finalizers, FINALIZER]
    _gc_status(workflow)["notSpecified"] = False
    return True


def has_finalizer(workflow: Mapping[str, Any]) -> bool:
    return FINALIZER in ((workflow.get("metadata") or {}).get("finalizers") or [])


def ready_strategies(workflow: Mapping[str, Any], *, deleting: bool = False) -> list[str]:
    """The strategies whose time has come and that were not processed yet."""
    if not has_finalizer(workflow):
        return []
    processed = ((workflow.get("status") or {}).get("artifactGCStatus") or {}).get(
        "strategiesProcessed"
    ) or {}
    completed = ((workflow.get("metadata") or {}).get("labels") or {}).get(LABEL_COMPLETED)
    ready = []
    if (completed == "true" or deleting) and not processed.get(ON_COMPLETION):
        ready.append(ON_COMPLETION)
    if deleting and not processed.get(ON_DELETION):
        ready.append(ON_DELETION)
    return ready


def plan(workflow: Mapping[str, Any], strategy: str) -> list[GCPod]:
    """The GC pods for `strategy`: the not yet deleted output artifacts of Pod nodes whose
    strategy it is, grouped by service account and pod metadata."""
    name = str((workflow.get("metadata") or {}).get("name") or "")
    pods: dict[str, GCPod] = {}
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    for node_id, node in sorted(nodes.items()):
        if node.get("type") != "Pod":
            continue
        template = node_template(workflow, node)
        for artifact in (node.get("outputs") or {}).get("artifacts") or []:
            if artifact.get("deleted") or _node_strategy(workflow, template, artifact) != strategy:
                continue
            pod = _pod_for(workflow, name, strategy, _gc_of(workflow, template, artifact), pods)
            entry = pod.artifacts_by_node.setdefault(
                node_id, {"archiveLocation": archive_location(workflow, template), "artifacts": {}}
            )
            entry["artifacts"][str(artifact.get("name"))] = dict(artifact)
    return list(pods.values())


def _pod_for(
    workflow: Mapping[str, Any],
    name: str,
    strategy: str,
    own: Mapping[str, Any],
    pods: dict[str, GCPod],
) -> GCPod:
    """Argo's ``getArtifactGCPodInfo`` (the workflow's settings overridden by the artifact's)
    and ``artGCPodName``."""
    account, labels, annotations = "", {}, {}
    for gc in (workflow_gc(workflow), own):
        account = str(gc.get("serviceAccountName") or account)
        meta = gc.get("podMetadata") or {}
        labels.update({str(k): str(v) for k, v in (meta.get("labels") or {}).items()})
        annotations.update({str(k): str(v) for k, v in (meta.get("annotations") or {}).items()})
    digest = account.encode()
    for pairs in (labels, annotations):
        for key in sorted(pairs):
            digest += key.encode() + pairs[key].encode()
    pod_name = f"{name}-artgc-{ABBREVIATIONS[strategy]}-{fnv32a(digest)}"
    if pod_name not in pods:
        pods[pod_name] = GCPod(pod_name, strategy, account, labels, annotations)
    return pods[pod_name]


class _AnyVariable(dict[str, str]):
    """Key-format variables: a recorded artifact has its own key already, so the archive
    location's key is never used; any tag reads as ""."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return ""


def archive_location(
    workflow: Mapping[str, Any], template: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The template's archiveLocation when it is a full location, else the workflow's
    repository as a location (Argo: ``artifactRepository.ToArtifactLocation()``); None when
    neither is. A key-only archiveLocation (``s3: {key: k}``) is not used: the pod's was
    filled from the repository too, and the recorded artifacts carry their keys already."""
    own = template.get("archiveLocation")
    if own and _full_location(own):
        return dict(own)
    ref = (workflow.get("status") or {}).get("artifactRepositoryRef") or {}
    repository = ref.get("artifactRepository")
    if not repository:
        return None
    try:
        repo = ArtifactRepository.model_validate(repository)
        return repository_location(repo, _AnyVariable()).to_wire()
    except (ArtifactError, ValueError):
        return None


def _full_location(wire: Mapping[str, Any]) -> bool:
    try:
        return has_location(ArtifactLocation.model_validate(wire))
    except ValueError:
        return False


# --- the results ------------------------------------------------------------------------------


def mark_processed(workflow: dict[str, Any], strategy: str) -> None:
    _gc_status(workflow).setdefault("strategiesProcessed", {})[strategy] = True


def record(
    workflow: dict[str, Any],
    pod_name: str,
    strategy: str,
    results_by_node: Mapping[str, Any],
    *,
    pod_failed: bool = False,
) -> None:
    """A GC pod ended: its task's results onto the nodes' artifacts (``deleted``), failures
    into the ``ArtifactGCError`` condition, the pod recouped."""
    if pod_failed:
        upsert_condition(
            workflow,
            f"Artifact Garbage Collection failed for strategy {strategy}, pod {pod_name} exited "
            "with non-zero exit code: check pod logs for more information",
        )
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    for node_id, node_results in (results_by_node or {}).items():
        by_name = (node_results or {}).get("artifactResults") or {}
        node = nodes.get(node_id) or {}
        for artifact in (node.get("outputs") or {}).get("artifacts") or []:
            result = by_name.get(artifact.get("name"))
            if result is None:
                continue
            artifact["deleted"] = bool(result.get("success"))
            if result.get("error"):
                upsert_condition(workflow, f"{result['error']} (artifactGCTask: {pod_name}-0)")
    _gc_status(workflow).setdefault("podsRecouped", {})[pod_name] = True


def upsert_condition(workflow: dict[str, Any], message: str) -> None:
    """Argo keeps one condition per type: the most recent error."""
    conditions = workflow.setdefault("status", {}).setdefault("conditions", [])
    wanted = {"type": CONDITION, "status": "True", "message": message}
    for index, condition in enumerate(conditions):
        if condition.get("type") == CONDITION:
            conditions[index] = wanted
            return
    conditions.append(wanted)


def _undeleted_strategies(workflow: Mapping[str, Any]) -> set[str]:
    """The strategies of the output artifacts still to collect."""
    found: set[str] = set()
    for node in ((workflow.get("status") or {}).get("nodes") or {}).values():
        if node.get("type") != "Pod":
            continue
        template = node_template(workflow, node)
        for artifact in (node.get("outputs") or {}).get("artifacts") or []:
            strategy = _node_strategy(workflow, template, artifact)
            if strategy not in ("", NEVER) and not artifact.get("deleted"):
                found.add(strategy)
    return found


def all_deleted(workflow: Mapping[str, Any]) -> bool:
    """Every output artifact that has a strategy (not Never) is deleted."""
    return not _undeleted_strategies(workflow)


def release_finalizer(workflow: dict[str, Any], *, any_success: bool) -> bool:
    """Remove the finalizer when there is nothing left to collect (Argo: a GC pod succeeded
    this pass and every artifact is deleted) or, with ``forceFinalizerRemoval``, once every GC
    pod ended. True if it was removed."""
    if not has_finalizer(workflow):
        return False
    gc_status = (workflow.get("status") or {}).get("artifactGCStatus") or {}
    if workflow_gc(workflow).get("forceFinalizerRemoval"):
        # Every GC pod ended, and no strategy with artifacts left is still to come (Argo
        # would let go after the first strategy's pods).
        recouped = gc_status.get("podsRecouped") or {}
        processed = gc_status.get("strategiesProcessed") or {}
        waiting = {s for s in _undeleted_strategies(workflow) if not processed.get(s)}
        release = bool(recouped) and all(recouped.values()) and not waiting
    else:
        release = any_success and all_deleted(workflow)
    if release:
        meta = workflow["metadata"]
        meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        if not meta["finalizers"]:
            del meta["finalizers"]
    return release


def deleting(workflow: Mapping[str, Any]) -> bool:
    """Deleted, and held by a finalizer (Kubernetes sets ``deletionTimestamp``)."""
    return bool((workflow.get("metadata") or {}).get("deletionTimestamp"))


def pending(workflow: Mapping[str, Any]) -> bool:
    """Whether GC still has work for this workflow: a strategy whose time has come, or GC
    pods of a processed strategy that have not ended (planned again: the names are a function
    of what is left to delete, and a recouped pod's failures are not retried)."""
    if not has_finalizer(workflow):
        return False
    if ready_strategies(workflow, deleting=deleting(workflow)):
        return True
    gc_status = (workflow.get("status") or {}).get("artifactGCStatus") or {}
    processed = gc_status.get("strategiesProcessed") or {}
    recouped = gc_status.get("podsRecouped") or {}
    return any(
        pod.name not in recouped
        for strategy in STRATEGIES
        if processed.get(strategy)
        for pod in plan(workflow, strategy)
    )
