"""``spec.workflowTemplateRef``: the referenced template's spec overlaid with the workflow's.

Argo joins the two with a Kubernetes strategic merge of the workflow onto the WorkflowTemplate:
mappings merge key by key (the workflow's value wins), most lists are replaced whole, and the
lists Argo's types declare with a merge key are merged element by element on that key. Then,
as Argo does: an argument parameter that has a value (``value``, ``default`` or ``valueFrom``)
is taken whole from the workflow if the workflow gives it one, else whole from the template; an
argument artifact is the workflow's, keeping the template's location fields only when both use
the same storage. ``suspend`` is never inherited.

Templates are the one place we differ on purpose: a workflow's template replaces the
WorkflowTemplate's of the same name whole, where the strategic merge would mix their fields.
"""

from __future__ import annotations

import copy
from typing import Any

from argoexec.controller.workflow.errors import TemplateReferenceError
from argoexec.controller.workflow.store import TemplateStore
from argoexec.models.artifacts import LOCATION_KINDS

# Paths (within spec) of the lists merged by key, and whether same-keyed elements merge (True)
# or the workflow's replaces the template's (False).
_MERGE_KEYS: dict[tuple[str, ...], tuple[str, bool]] = {
    ("arguments", "parameters"): ("name", True),
    ("arguments", "artifacts"): ("name", True),
    ("templates",): ("name", False),
    ("volumes",): ("name", True),
    ("imagePullSecrets",): ("name", True),
    ("tolerations",): ("key", True),
    ("hostAliases",): ("ip", True),
}


def _merge_list(base: list[Any], over: list[Any], key: str, deep: bool) -> list[Any]:
    result = list(base)
    index = {item.get(key): i for i, item in enumerate(result) if isinstance(item, dict)}
    for item in over:
        at = index.get(item.get(key)) if isinstance(item, dict) else None
        if at is None:
            result.append(item)
        elif deep:
            result[at] = _overlay(result[at], item, ())
        else:
            result[at] = item
    return result


def _overlay(base: Any, over: Any, path: tuple[str, ...]) -> Any:
    if over is None:
        return base
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for name, value in over.items():
            merged[name] = _overlay(base.get(name), value, (*path, name))
        return merged
    rule = _MERGE_KEYS.get(path)
    if rule is not None and isinstance(base, list) and isinstance(over, list):
        return _merge_list(base, over, *rule)
    return over


_VALUE_FIELDS = ("value", "default", "valueFrom")


def _has_value(parameter: Any) -> bool:
    return isinstance(parameter, dict) and any(
        parameter.get(key) is not None for key in _VALUE_FIELDS
    )


def _by_name(items: Any) -> dict[Any, dict[str, Any]]:
    if not isinstance(items, list):
        return {}
    return {item.get("name"): item for item in items if isinstance(item, dict)}


def _location(artifact: dict[str, Any]) -> str | None:
    found = [key for key in LOCATION_KINDS if artifact.get(key) is not None]
    return found[0] if len(found) == 1 else None


def _arguments(merged: dict[str, Any], template: dict[str, Any], own: dict[str, Any]) -> None:
    """Argo's precedence for argument values, applied after the merge."""
    arguments = merged.get("arguments")
    if not isinstance(arguments, dict):
        return
    theirs, ours = template.get("arguments") or {}, own.get("arguments") or {}
    parameters = arguments.get("parameters")
    if isinstance(parameters, list):
        mine = _by_name(ours.get("parameters"))
        base = _by_name(theirs.get("parameters"))
        for index, parameter in enumerate(parameters):
            if not _has_value(parameter):
                continue
            name = parameter.get("name")
            for source in (mine, base):
                if _has_value(source.get(name)):
                    parameters[index] = copy.deepcopy(source[name])
                    break
    artifacts = arguments.get("artifacts")
    if isinstance(artifacts, list):
        mine = _by_name(ours.get("artifacts"))
        base = _by_name(theirs.get("artifacts"))
        for index, artifact in enumerate(artifacts):
            name = artifact.get("name") if isinstance(artifact, dict) else None
            if name in mine:
                artifacts[index] = _artifact_override(base.get(name), mine[name])


def _artifact_override(base: dict[str, Any] | None, override: dict[str, Any]) -> dict[str, Any]:
    """The workflow's artifact; the template's location fields stay when both name the same
    storage (a workflow can give just the key of the template's bucket)."""
    result = copy.deepcopy(override)
    kind = _location(override)
    if base is not None and kind is not None and _location(base) == kind:
        result[kind] = _overlay(copy.deepcopy(base[kind]), override[kind], ())
    return result


def merge_workflow_template(workflow: dict[str, Any], store: TemplateStore) -> dict[str, Any]:
    """A new workflow whose spec is the referenced (Cluster)WorkflowTemplate's spec overlaid
    with the workflow's own; ``spec.workflowTemplateRef`` stays. Without a reference, a copy."""
    result = copy.deepcopy(workflow)
    spec = result.get("spec") or {}
    ref = spec.get("workflowTemplateRef")
    if not ref:
        return result
    name = ref.get("name") if isinstance(ref, dict) else None
    if not isinstance(name, str) or not name:
        raise TemplateReferenceError("workflowTemplateRef.name is required", path="spec")
    template = store.get(name, cluster_scope=bool(ref.get("clusterScope")))
    template_spec = template.get("spec") or {}
    merged = _overlay(copy.deepcopy(template_spec), copy.deepcopy(spec), ())
    _arguments(merged, template_spec, spec)
    # As Argo: `suspend` is the workflow's own, never inherited from the template.
    merged.pop("suspend", None)
    if spec.get("suspend") is not None:
        merged["suspend"] = spec["suspend"]
    result["spec"] = merged
    return result
