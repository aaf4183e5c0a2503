"""Artifact garbage collection: deleting a workflow's output artifacts (Argo's artifact GC).

One code path for both places GC runs: the artifact-GC pod's ``argoexec artifact delete`` (which
reads Argo's ``WorkflowArtifactGCTask``s) and the local runtime's controller (in-process). Both
hand over Argo's task shapes: ``spec.artifactsByNode``
(``{nodeID: {archiveLocation, artifacts: {name: Artifact}}}``) in, ``status.artifactResultsByNode``
(``{nodeID: {artifactResults: {name: {name, success, error}}}}``) out.

Deleting is idempotent (a key that is already gone is success, so GC can be run again after a
partial failure) and never reaches outside the artifact's own objects: the exact key, and for
stores with prefixes (S3, GCS) the objects under ``key + "/"`` (what an ``archive: none``
directory upload wrote). A key ``a/b`` never deletes ``a/bc``. An empty key (the whole bucket) is
refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from argoexec.models import Artifact, ArtifactLocation
from artifacts.driver import DriverContext
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.locations import get_key, has_key, relocate, with_key
from artifacts.transfer import delete_artifact

log = logging.getLogger(__name__)

# Stores where a "directory" is the objects under a prefix: an artifact's key may have both an
# object and objects under `key/` (Argo's S3 driver deletes by prefix only for a key ending in
# `/`; GC deletes both, so a directory upload is collected whatever its key looks like).
PREFIX_KINDS = frozenset({"s3", "gcs"})

Deleter = Callable[[Artifact, DriverContext], None]


def delete_for_gc(
    artifact: Artifact, ctx: DriverContext, *, delete: Deleter = delete_artifact
) -> None:
    """Delete everything the artifact stored: its key, and in a prefix store everything under
    ``key/``. Nothing there is success. A location without a key is refused (it would name the
    whole bucket or repository)."""
    key = get_key(artifact) if has_key(artifact) else ""
    if not key.strip("/"):
        raise ArtifactError(
            "refusing to delete an artifact without a key (that would mean the whole bucket)",
            code=ErrorCode.BAD_REQUEST,
            artifact=artifact.name,
        )
    delete(artifact, ctx)
    if artifact.location_kind() in PREFIX_KINDS and not key.endswith("/"):
        delete(with_key(artifact, key + "/"), ctx)


def delete_artifacts_by_node(
    artifacts_by_node: Mapping[str, Any],
    ctx_for: Callable[[Artifact], DriverContext],
    *,
    delete: Deleter = delete_artifact,
) -> dict[str, Any]:
    """Delete every artifact of a task's ``spec.artifactsByNode``, each relocated onto its
    node's ``archiveLocation`` when it has only a key (Argo's ``Relocate``). A failure is
    recorded (``success: false`` and the error), never raised: the other artifacts are still
    deleted, and the controller decides what a failure means. Returns
    ``artifactResultsByNode``."""
    results: dict[str, Any] = {}
    for node_id, node_spec in artifacts_by_node.items():
        archive = (node_spec or {}).get("archiveLocation")
        location = ArtifactLocation.model_validate(archive) if archive else None
        by_name: dict[str, Any] = {}
        for name, wire in ((node_spec or {}).get("artifacts") or {}).items():
            by_name[name] = _delete_one(str(name), wire, location, ctx_for, delete)
        results[node_id] = {"artifactResults": by_name}
    return results


def _delete_one(
    name: str,
    wire: Mapping[str, Any],
    location: ArtifactLocation | None,
    ctx_for: Callable[[Artifact], DriverContext],
    delete: Deleter,
) -> dict[str, Any]:
    try:
        artifact = relocate(Artifact.model_validate({**wire, "name": name}), location)
        delete_for_gc(artifact, ctx_for(artifact), delete=delete)
    except ArtifactError as exc:
        log.warning("artifact GC: %s", exc, extra={"artifact": name})
        return {"name": name, "success": False, "error": str(exc)}
    except (ValueError, OSError) as exc:  # a malformed artifact, a local store's I/O
        log.warning("artifact GC: %s: %s", name, exc, extra={"artifact": name})
        return {"name": name, "success": False, "error": f"artifact {name!r}: {exc}"}
    log.info("artifact GC: deleted %s", name, extra={"artifact": name})
    return {"name": name, "success": True}
