"""A Workflow seen for the first time (no `status.phase`), made ready to run, as Argo's
controller does before its first operation: the `workflowTemplateRef` merged in, the workflow's
arguments resolved (ConfigMap references read from its namespace), the spec checked. One that
cannot run ends at once: `Failed`, with Argo's `invalid spec: <cause>` message.

Argo keeps the referenced template's spec in `status.storedWorkflowTemplateSpec` and leaves
`spec` alone; this controller merges it into `spec` (what the engine runs from), so the stored
Workflow shows what ran (a documented difference).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from argoexec.contract import LABEL_COMPLETED, LABEL_PHASE
from argoexec.controller.loop.clone import clone
from argoexec.controller.loop.options import EngineError, RunOptions
from argoexec.controller.loop.runner import check_entrypoint, resolve_workflow_arguments
from argoexec.controller.workflow.defaults import DefaultsError, with_defaults
from argoexec.controller.workflow.errors import DocumentError
from argoexec.controller.workflow.lint import lint_workflow
from argoexec.controller.workflow.merge import merge_workflow_template
from argoexec.controller.workflow.schema import decode
from argoexec.controller.workflow.store import TemplateStore
from argoexec.durations import rfc3339

ConfigMaps = Mapping[str, Mapping[str, str]]


def started(workflow: Mapping[str, Any]) -> bool:
    return bool((workflow.get("status") or {}).get("phase"))


def admit(
    workflow: Mapping[str, Any],
    templates: TemplateStore,
    config_maps: ConfigMaps,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The workflow to run (its template's spec and then the controller's `workflowDefaults`
    under its own, as Argo's `JoinWorkflowSpec`), or the workflow Failed with the reason it
    cannot."""
    try:
        merged = with_defaults(merge_workflow_template(lenient(workflow), templates), defaults)
        problems = lint_workflow(merged, templates, schema=False)
        if problems:
            raise EngineError("; ".join(str(p) for p in problems[:5]))
        spec = merged["spec"]
        options = RunOptions(config_maps=config_maps)
        parameters = resolve_workflow_arguments(spec, options)
        spec["arguments"] = {**(spec.get("arguments") or {}), "parameters": parameters}
        check_entrypoint(spec)
    except (DocumentError, EngineError, DefaultsError) as exc:
        return refused(workflow, str(exc))
    merged["status"] = dict(merged.get("status") or {})
    return merged


def lenient(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document's spec as Argo's Go types read it (field names in any case, unknown fields
    dropped: the CRD keeps what a client sent, Go's decoder is lenient); a field of the wrong
    type refuses it."""
    kept = clone(dict(document))
    decoded = decode(kept, str(kept.get("kind") or "Workflow"), strict=False)
    if decoded.problems:
        raise EngineError("; ".join(str(p) for p in decoded.problems[:5]))
    if "spec" in decoded.document:
        kept["spec"] = decoded.document["spec"]
    return kept


def refused(workflow: Mapping[str, Any], cause: str) -> dict[str, Any]:
    failed = clone(dict(workflow))
    now = rfc3339(time.time())
    failed["status"] = {
        "phase": "Failed",
        "message": f"invalid spec: {cause}",
        "startedAt": now,
        "finishedAt": now,
        "nodes": {},
    }
    labels = failed.setdefault("metadata", {}).setdefault("labels", {})
    labels[LABEL_COMPLETED] = "true"
    labels[LABEL_PHASE] = "Failed"
    return failed
