"""Make ``workflow.json``: the part of Argo's JSON schema that ``argoexec lint`` checks against.

Run ``python -m argoexec.controller.workflow.schema.trim tests/fixtures/argo/schema.json`` after
updating Argo's schema (see tests/fixtures/argo/README.md);
``tests/controller/test_workflow_lint.py`` fails when the vendored copy is out of sync. Only the
definitions reachable from the four kinds we read are kept, without descriptions, and a few
types are widened to what Argo's Go types really accept from YAML (the published schema says
``string`` for all of them). Two marks the published schema cannot express are added:
``x-any-string`` on Argo's ``AnyString`` fields (numbers and booleans are read as their text),
and ``additionalProperties: false`` on Go's empty structs (``archive: {none: {}}``), which take no
field at all. And ``minimum: 0`` on the counts, limits and durations of Argo's own types: the
published schema has no bounds, and Argo's validation checks only a template's
``activeDeadlineSeconds`` (and a CronWorkflow's ``startingDeadlineSeconds``, checked with the
CronWorkflow), but a negative value means nothing anywhere and some hang a run (a negative
``parallelism`` never lets a child start). Kubernetes' own types are left to Kubernetes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PREFIX = "io.argoproj.workflow.v1alpha1."
ROOTS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")
OUTPUT = Path(__file__).with_name("workflow.json")

_KEEP = frozenset(
    {
        "type",
        "properties",
        "items",
        "additionalProperties",
        "required",
        "$ref",
        "const",
        "enum",
        "minimum",
    }
)
ANY_STRING = "x-any-string"
# Argo's AnyString: a string in JSON, but its UnmarshalJSON also takes a number or a boolean.
_ANY_STRING: dict[str, Any] = {"type": ["string", "integer", "number", "boolean"], ANY_STRING: True}
# Definition -> replacement (or property -> replacement): types the Go code reads more loosely.
_WIDEN_DEFINITIONS: dict[str, dict[str, Any]] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": ["string", "integer"]},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": ["string", "integer", "number"]},
}
_WIDEN_PROPERTIES: dict[tuple[str, str], dict[str, Any]] = {
    (PREFIX + "Parameter", "value"): _ANY_STRING,
    (PREFIX + "Parameter", "default"): _ANY_STRING,
    (PREFIX + "Parameter", "description"): _ANY_STRING,
    (PREFIX + "Parameter", "enum"): {"type": "array", "items": _ANY_STRING},
    (PREFIX + "ValueFrom", "default"): _ANY_STRING,
}
# (definition, property) -> the least value: counts, limits and durations in seconds. An
# IntOrString with a minimum must also be an integer or an Argo variable (`{{...}}`).
_MINIMUMS: dict[tuple[str, str], int] = {
    (PREFIX + definition, prop): 0
    for definition, prop in (
        ("WorkflowSpec", "parallelism"),
        ("WorkflowSpec", "activeDeadlineSeconds"),
        ("Template", "parallelism"),
        ("Template", "activeDeadlineSeconds"),
        ("RetryStrategy", "limit"),
        ("ContainerSetRetryStrategy", "retries"),
        ("Backoff", "factor"),
        ("Sequence", "count"),
        ("TTLStrategy", "secondsAfterCompletion"),
        ("TTLStrategy", "secondsAfterFailure"),
        ("TTLStrategy", "secondsAfterSuccess"),
        ("CronWorkflowSpec", "successfulJobsHistoryLimit"),
        ("CronWorkflowSpec", "failedJobsHistoryLimit"),
        ("HTTP", "timeoutSeconds"),
        ("GitArtifact", "depth"),
        ("Artifact", "mode"),
        ("PluginArtifact", "connectionTimeoutSeconds"),
    )
}
# Kubernetes' API server refuses a negative probe setting (0 is its default); the local
# runtime's prober would otherwise probe without pause (a negative period) or never succeed.
_MINIMUMS.update({
    ("io.k8s.api.core.v1.Probe", prop): 0
    for prop in ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "successThreshold",
                 "failureThreshold", "terminationGracePeriodSeconds")
})  # fmt: skip
# Go structs without fields: any key in them is an unknown field. (Argo's `Plugin` and
# Kubernetes' `FieldsV1`, also published as a bare object, take anything.)
_EMPTY_STRUCTS = frozenset(
    PREFIX + name
    for name in ("NoneStrategy", "ZipStrategy", "SuppliedValueFrom", "RetryNodeAntiAffinity")
)
# `image` may come from `spec.templateDefaults`, so a template's container need not name one;
# Argo reads a gauge without `realtime` as false, and runs a script without `source` (its
# command alone; Go does not enforce the schema's `required`).
_NOT_REQUIRED = frozenset({"image", "realtime", "source"})


def _strip(node: Any) -> Any:
    if isinstance(node, list):
        return [_strip(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in _KEEP:
            continue
        if key == "properties":
            out[key] = {name: _strip(sub) for name, sub in value.items()}
        elif key == "required":
            kept = [name for name in value if name not in _NOT_REQUIRED]
            if kept:
                out[key] = kept
        else:
            out[key] = _strip(value)
    return out


def _refs(node: Any) -> list[str]:
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    if not isinstance(node, dict):
        return []
    found = [node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else []
    return found + [ref for value in node.values() for ref in _refs(value)]


def trim(schema: dict[str, Any]) -> dict[str, Any]:
    """The reachable, stripped, widened definitions plus the root names."""
    source: dict[str, Any] = schema["definitions"]
    todo = [PREFIX + root for root in ROOTS]
    kept: dict[str, Any] = {}
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        definition = _WIDEN_DEFINITIONS.get(name) or _strip(source[name])
        for (owner, prop), replacement in _WIDEN_PROPERTIES.items():
            if owner == name:
                definition["properties"][prop] = replacement
        for (owner, prop), minimum in _MINIMUMS.items():
            if owner == name:
                definition["properties"][prop] = {
                    **definition["properties"][prop],
                    "minimum": minimum,
                }
        if name in _EMPTY_STRUCTS:
            definition["additionalProperties"] = False
        kept[name] = definition
        todo.extend(_refs(definition))
    unknown = {owner for owner, _ in _MINIMUMS} - kept.keys()
    if unknown:
        raise ValueError(f"minimums for definitions the kinds do not use: {sorted(unknown)}")
    roots = {root: PREFIX + root for root in ROOTS}
    return {"roots": roots, "definitions": dict(sorted(kept.items()))}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(trim(schema), indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m argoexec.controller.workflow.schema.trim SCHEMA.json\n")
        return 2
    schema = json.loads(Path(args[0]).read_text())
    OUTPUT.write_text(render(schema))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
