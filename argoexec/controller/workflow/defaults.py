"""The controller configuration's `workflowDefaults`, merged into every workflow as Argo's
controller merges them (`wfutil.MergeTo(defaults, wf)`: the workflow applied to the defaults
as a Kubernetes strategic merge patch typed by `wfv1.Workflow`, so the workflow wins).

The schema is the `patchStrategy: merge` list fields of Argo's types (its OpenAPI schema's
`x-kubernetes-patch-merge-key`): templates, DAG tasks, parameters and artifacts, volumes,
sidecars, init containers and host aliases merge item by item on their key; every other list
is replaced whole, and mappings (metadata labels and annotations, `podGC`, `ttlStrategy`...)
merge key by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argoexec.controller.pod.strategic import (
    CONTAINER,
    MergeList,
    PatchError,
    Struct,
    strategic_merge,
)


class DefaultsError(ValueError):
    """The defaults cannot be merged into the workflow (the message names where)."""


_IO = Struct(lists={"parameters": MergeList("name"), "artifacts": MergeList("name")})
_TASK = Struct(structs={"arguments": _IO})
_TEMPLATE = Struct(
    lists={
        "hostAliases": MergeList("ip"),
        "initContainers": MergeList("name", CONTAINER),
        "sidecars": MergeList("name", CONTAINER),
        "tolerations": MergeList("key"),
        "volumes": MergeList("name"),
    },
    structs={
        "inputs": _IO,
        "outputs": _IO,
        "container": CONTAINER,
        "script": CONTAINER,
        "dag": Struct(lists={"tasks": MergeList("name", _TASK)}),
    },
)
WORKFLOW = Struct(
    structs={
        "spec": Struct(
            lists={
                "hostAliases": MergeList("ip"),
                "imagePullSecrets": MergeList("name"),
                "templates": MergeList("name", _TEMPLATE),
                "tolerations": MergeList("key"),
                "volumes": MergeList("name"),
            },
            structs={"arguments": _IO},
        )
    }
)


def _as_decoded(value: Any) -> Any:
    """The workflow as Argo's Go types hold it: no nulls (omitted when marshalled), no
    `$`-directives (unknown fields, dropped when decoded)."""
    if isinstance(value, Mapping):
        return {
            str(k): _as_decoded(v)
            for k, v in value.items()
            if v is not None and not str(k).startswith("$")
        }
    if isinstance(value, list):
        return [_as_decoded(v) for v in value]
    return value


def with_defaults(
    workflow: Mapping[str, Any], defaults: Mapping[str, Any] | None
) -> dict[str, Any]:
    """`workflow` merged onto `defaults` (neither is changed); the workflow itself without
    defaults. DefaultsError, as Argo's `Failed to apply default workflow values`, when a list
    item of the workflow lacks its merge key."""
    if not defaults:
        return dict(workflow)
    kept = {k: v for k, v in defaults.items() if k in ("metadata", "spec")}
    try:
        return strategic_merge(_as_decoded(kept), _as_decoded(workflow), WORKFLOW)
    except PatchError as exc:
        raise DefaultsError(f"Failed to apply default workflow values: {exc}") from None


def check_defaults(raw: Any, where: str) -> dict[str, Any]:
    """A `workflowDefaults` value: a Workflow (its `metadata` and `spec` are used)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise DefaultsError(
            f"{where}: expected a Workflow (metadata, spec), not {type(raw).__name__}"
        )
    for key in ("metadata", "spec"):
        if raw.get(key) is not None and not isinstance(raw.get(key), Mapping):
            raise DefaultsError(f"{where}.{key}: expected a mapping")
    return {k: v for k, v in raw.items() if k in ("metadata", "spec") and v is not None}
