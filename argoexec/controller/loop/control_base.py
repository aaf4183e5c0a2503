"""What the control transforms (`control`, `retry_workflow`) share: their error, the Workflow
document's parts, and Argo's parameter override (`workflow/util/util.go: overrideParameters`).

The transforms work on plain Workflow dicts as stored (JSON), never in place: each returns a
new document. Fields Go leaves at its zero value with `omitempty` are removed rather than set
to "" or [], so the result serialises as Argo's would; a zero `metav1.Time` (which Go writes as
`null`) is None.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from argoexec.controller.loop import fieldselector
from argoexec.durations import rfc3339

Workflow = dict[str, Any]
Node = dict[str, Any]


class ControlError(Exception):
    """An action Argo refuses (a completed workflow stopped, a retry of a running one, a node
    selector that matches nothing ...); the message names the workflow and node."""


def name_of(workflow: Mapping[str, Any]) -> str:
    return str((workflow.get("metadata") or {}).get("name") or "")


def nodes_of(workflow: Mapping[str, Any]) -> dict[str, Node]:
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    return nodes if isinstance(nodes, dict) else {}


def timestamp(now: float | None) -> str:
    """Kubernetes' time format for `now` (epoch seconds; the current time when None)."""
    return rfc3339(time.time() if now is None else now)


def selector(text: str) -> fieldselector.FieldSelector:
    try:
        return fieldselector.parse(text)
    except fieldselector.SelectorError as exc:
        raise ControlError(str(exc)) from exc


def set_or_drop(obj: dict[str, Any], key: str, value: Any) -> None:
    """`obj[key] = value`, or no `key` for a Go zero value ("", [], {}, None) under omitempty."""
    if value in ("", None) or (isinstance(value, list | dict) and not value):
        obj.pop(key, None)
    else:
        obj[key] = value


def override_parameters(workflow: Workflow, parameters: Mapping[str, str] | None) -> None:
    """Argo's `overrideParameters` (`-p NAME=VALUE`), in place on a copy: the given parameters
    first, as `{name, value}` (any other field of the one they replace is dropped), then the
    workflow's other parameters. A name the workflow does not declare is added, as Argo does.
    The stored workflow-template spec, if any, gets the same list."""
    if not parameters:
        return
    given = [{"name": str(k), "value": str(v)} for k, v in parameters.items()]
    spec = workflow.setdefault("spec", {})
    arguments = spec.setdefault("arguments", {})
    kept = [p for p in arguments.get("parameters") or [] if p.get("name") not in parameters]
    arguments["parameters"] = given + kept
    stored = (workflow.get("status") or {}).get("storedWorkflowTemplateSpec")
    if isinstance(stored, dict):
        stored.setdefault("arguments", {})["parameters"] = [dict(p) for p in given + kept]
