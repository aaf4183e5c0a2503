"""Artifact GC on this machine: the controller deletes the artifacts itself, in-process, with the
same code the artifact-GC pod runs on a cluster (``artifacts.gc``), planned and recorded by the
pure ``controller.artgc``. Each planned GC pod becomes one in-process deletion whose results are
recorded as that pod's (``podsRecouped`` under the pod's name), so the status reads as Argo's.

`collect` is the loop's seam: called after each pass over a finished workflow (and by
``argoexec delete`` with ``deleting=True``); it changes the Workflow in place and says whether it
did. A failed delete keeps the finalizer (unless ``forceFinalizerRemoval``), so the run stays and
a later ``argoexec delete`` tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from argoexec.controller import artgc
from argoexec.models import Artifact
from artifacts.driver import DriverContext
from artifacts.gc import delete_artifacts_by_node
from artifacts.secrets import DirSecretResolver, NoSecrets, SecretResolver

from .seams import WorkflowStore

log = logging.getLogger("argoexec.controller")

Collector = Callable[[str, dict[str, Any]], bool]


def driver_context(secrets_dir: Path | None) -> DriverContext:
    """What the in-process deletes run with: the run's secrets directory (``<name>/<key>``,
    the layout of an Argo pod's ``/argo/secret``)."""
    secrets: SecretResolver = DirSecretResolver(secrets_dir) if secrets_dir else NoSecrets()
    return DriverContext(secrets=secrets)


class LocalArtifactGC:
    """Collects artifacts in this process. `contexts(name)` gives the driver context of a
    workflow (its run's secrets)."""

    def __init__(self, contexts: Callable[[str], DriverContext]) -> None:
        self.contexts = contexts

    def __call__(self, name: str, workflow: dict[str, Any]) -> bool:
        return self.collect(name, workflow)

    def collect(self, name: str, workflow: dict[str, Any], *, deleting: bool = False) -> bool:
        changed = artgc.add_finalizer(workflow)
        strategies = artgc.ready_strategies(workflow, deleting=deleting)
        any_success = False
        for strategy in strategies:
            for pod in artgc.plan(workflow, strategy):
                ctx = self.contexts(name)
                results = delete_artifacts_by_node(pod.artifacts_by_node, _same(ctx))
                artgc.record(workflow, pod.name, strategy, results)
                log.info("workflow %s: artifact GC %s done (%s)", name, strategy, pod.name)
            artgc.mark_processed(workflow, strategy)
            any_success = True
            changed = True
        return artgc.release_finalizer(workflow, any_success=any_success) or changed

    def retry(self, workflow: dict[str, Any]) -> None:
        """Forget what a previous collection processed, so artifacts not yet deleted are
        tried again (``argoexec delete`` of a run whose GC failed)."""
        gc_status = (workflow.get("status") or {}).get("artifactGCStatus") or {}
        gc_status.pop("strategiesProcessed", None)


def _same(ctx: DriverContext) -> Callable[[Artifact], DriverContext]:
    return lambda _artifact: ctx


class ArtifactGCError(Exception):
    """Artifacts to collect before a workflow may go could not all be deleted."""


def collect_for_deletion(
    store: WorkflowStore, name: str, contexts: Callable[[str], DriverContext]
) -> None:
    """What deleting a workflow does first (Argo: the finalizer holds the Workflow): collect
    its OnWorkflowDeletion artifacts (and OnWorkflowCompletion ones not yet deleted), store
    what was done, and raise ArtifactGCError while the finalizer stays (a failed delete, unless
    ``forceFinalizerRemoval``), naming what failed, so the caller keeps the run for a retry."""
    workflow = store.get(name)
    gc = LocalArtifactGC(contexts)
    gc.retry(workflow)
    if gc.collect(name, workflow, deleting=True):
        workflow = store.update(workflow)
    if artgc.has_finalizer(workflow):
        failed = [
            f"{node.get('name')}: {artifact.get('name')}"
            for node in ((workflow.get("status") or {}).get("nodes") or {}).values()
            for artifact in (node.get("outputs") or {}).get("artifacts") or []
            if artifact.get("deleted") is False
        ]
        condition = next(
            (
                c.get("message")
                for c in (workflow.get("status") or {}).get("conditions") or []
                if c.get("type") == artgc.CONDITION
            ),
            "",
        )
        raise ArtifactGCError(
            f"workflow {name!r}: artifact GC could not delete {', '.join(failed) or 'artifacts'}"
            f" ({condition}); the workflow is kept: fix the cause and delete it again, or set "
            "spec.artifactGC.forceFinalizerRemoval"
        )
