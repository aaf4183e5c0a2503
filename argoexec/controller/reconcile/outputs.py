"""Global outputs (`globalName`): kept in `status.outputs`, as Argo's, and read back into every
pass's scope (`workflow.outputs.parameters.<p>`, `workflow.outputs.artifacts.<a>`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argoexec.controller.engine.scope import Scope, parameter_text, with_outputs

from .context import Pass


def export_globals(p: Pass, template: Mapping[str, Any], outputs: Mapping[str, Any] | None) -> None:
    """Publish the outputs whose declaration carries `globalName`."""
    if not outputs:
        return
    declared = template.get("outputs") or {}
    for kind in ("parameters", "artifacts"):
        names = {d.get("name"): d.get("globalName") for d in declared.get(kind) or []}
        for item in outputs.get(kind) or []:
            global_name = item.get("globalName") or names.get(item.get("name"))
            if not global_name:
                continue
            if kind == "parameters":
                entry: dict[str, Any] = {
                    "name": str(global_name),
                    "value": str(item.get("value") or ""),
                }
            else:
                entry = {**{k: v for k, v in item.items() if k != "name"}, "name": str(global_name)}
            _put(p, kind, entry)


def _put(p: Pass, kind: str, entry: dict[str, Any]) -> None:
    items = p.status.setdefault("outputs", {}).setdefault(kind, [])
    if entry in items:
        return
    items[:] = [i for i in items if i.get("name") != entry["name"]]
    items.append(entry)
    p.nodes.changed += 1
    load_globals(p, p.globals_base)


def load_globals(p: Pass, base: Scope) -> None:
    """`p.globals` and `p.global_artifacts`: `base` with the global outputs exported so far."""
    outputs = p.status.get("outputs") or {}
    params = {str(i["name"]): str(i.get("value") or "") for i in outputs.get("parameters") or []}
    p.globals = with_outputs(base, params) if params else base
    p.exported = {f"workflow.outputs.parameters.{k}": v for k, v in params.items()}
    p.global_artifacts = {
        f"workflow.outputs.artifacts.{a['name']}": {k: v for k, v in a.items() if k != "name"}
        for a in outputs.get("artifacts") or []
    }


def suspend_outputs(
    template: Mapping[str, Any], supplied: Mapping[str, str]
) -> dict[str, Any] | None:
    """A resumed suspend node's output parameters: the value supplied with the resume, else
    `valueFrom.default`; a `supplied` one with neither is an error."""
    params = []
    for param in (template.get("outputs") or {}).get("parameters") or []:
        name = str(param.get("name"))
        value_from = param.get("valueFrom") or {}
        value = supplied.get(name, param.get("value"))
        if value is None and value_from.get("default") is not None:
            value = parameter_text(value_from["default"])
        if value is None and "supplied" in value_from:
            raise ValueError(
                f"output parameter {name!r} was not supplied: resume with -p {name}=VALUE"
            )
        if value is not None:
            entry = {k: v for k, v in param.items() if k != "valueFrom"}
            params.append({**entry, "value": str(value)})
    return {"parameters": params} if params else None
