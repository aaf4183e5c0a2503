"""CLI/API actions as changes to the Workflow (argo-controller.md §6): pure functions from a
Workflow dict to the new one, each as Argo's `workflow/util/util.go` computes it, refusing
where Argo refuses. `change` writes one back (`WorkflowStore.update`, retried on a
ConflictError by reading again and re-applying, as Argo's clients do); `resubmit`'s result is
created instead, and for `retry` the caller also deletes the listed pods.

Not carried over: the actor labels Argo writes from the caller's user info
(`creator.LabelActor`, "Resumed by: <user>"), for there is no user here; nor hydration of
offloaded or compressed node status (ours is always inline).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from argoexec.contract import (
    LABEL_COMPLETED,
    LABEL_CREATOR,
    LABEL_CREATOR_EMAIL,
    LABEL_CREATOR_PREFERRED_USERNAME,
    LABEL_PHASE,
    LABEL_RESUBMITTED_FROM,
    LABEL_WORKFLOW_ARCHIVING_STATUS,
)
from argoexec.controller.loop import fieldselector
from argoexec.controller.loop.control_base import (
    ControlError,
    Node,
    Workflow,
    name_of,
    nodes_of,
    override_parameters,
    selector,
    set_or_drop,
    timestamp,
)
from argoexec.controller.loop.retry_workflow import Retried, retry
from argoexec.controller.loop.seams import ConflictError, WorkflowStore
from argoexec.controller.reconcile.nodes import (
    COMPLETED_PHASES,
    ERROR,
    FAILED,
    RUNNING,
    SUCCEEDED,
    SUSPEND,
)

__all__ = [
    "ControlError",
    "Retried",
    "change",
    "node_selector",
    "resubmit",
    "resume",
    "retry",
    "set_node",
    "stop",
    "suspend",
    "terminate",
]

# Reads and writes `change` makes before giving up on a Workflow that keeps changing.
CHANGE_ATTEMPTS = 10


def change(store: WorkflowStore, name: str, how: Callable[[Workflow], Workflow]) -> dict[str, Any]:
    """Apply `how` to the stored Workflow `name` and store the result (read again and applied
    again on a conflict); the stored object. NotFoundError if there is none; ControlError if
    `how` refuses, or if the Workflow kept changing meanwhile."""
    for _ in range(CHANGE_ATTEMPTS):
        changed = how(store.get(name))
        try:
            return store.update(changed)
        except ConflictError:
            continue
    raise ControlError(f"workflow {name!r} kept changing; try again")


# Labels `resubmit` does not carry over (`FormulateResubmitWorkflow`).
_NOT_RESUBMITTED = frozenset(
    {
        LABEL_CREATOR,
        LABEL_CREATOR_EMAIL,
        LABEL_CREATOR_PREFERRED_USERNAME,
        LABEL_PHASE,
        LABEL_COMPLETED,
        LABEL_WORKFLOW_ARCHIVING_STATUS,
    }
)
# Phases `argo node set` accepts (the server's `SetWorkflow`; "" leaves the phase).
_SETTABLE_PHASES = ("", SUCCEEDED, FAILED, ERROR)


def stop(
    workflow: Workflow,
    *,
    message: str = "",
    node_field_selector: str | None = None,
    now: float | None = None,
) -> Workflow:
    """`argo stop` (`StopWorkflow`): `spec.shutdown = "Stop"`, refused for a completed
    workflow. With a node field selector, instead the matching active suspend nodes become
    Failed with `message` (`updateSuspendedNode`). Argo keeps `message` nowhere without a
    selector: the nodes a stop fails say "Stopped with strategy 'Stop'" (the controller's)."""
    if node_field_selector:
        return _update_suspended(
            workflow, node_field_selector, phase=FAILED, message=message, outputs={}, now=now
        )
    return _shutdown(workflow, "Stop")


def terminate(workflow: Workflow) -> Workflow:
    """`argo terminate` (`TerminateWorkflow`): `spec.shutdown = "Terminate"`, refused for a
    completed workflow."""
    return _shutdown(workflow, "Terminate")


def suspend(workflow: Workflow) -> Workflow:
    """`argo suspend` (`SuspendWorkflow`): `spec.suspend = true`, refused for a completed
    workflow (Argo reads its `completed` label; a workflow the old engine finished has only
    the phase, which is read too)."""
    if _is_completed(workflow):
        raise ControlError(
            f"cannot suspend completed workflows: workflow {name_of(workflow)!r} "
            f"is {_phase(workflow) or 'completed'}"
        )
    new = copy.deepcopy(workflow)
    new.setdefault("spec", {})["suspend"] = True
    return new


def resume(
    workflow: Workflow, node_field_selector: str | None = None, *, now: float | None = None
) -> Workflow:
    """`argo resume` (`ResumeWorkflow`): no `spec.suspend`, and every active suspend node
    (type Suspend, phase Running) Succeeded with `finishedAt` now, its `valueFrom.supplied`
    output parameters taking their defaults (refused if one has none). A workflow with
    neither comes back unchanged, as Argo does not refuse it.

    With a node field selector only the matching active suspend nodes are Succeeded (refused
    if none matches) — and, as in Argo, `spec.suspend` and their supplied outputs stay."""
    if node_field_selector:
        return _update_suspended(
            workflow, node_field_selector, phase=SUCCEEDED, message="", outputs={}, now=now
        )
    new = copy.deepcopy(workflow)
    spec = new.setdefault("spec", {})
    if spec.get("suspend") is True:
        del spec["suspend"]
    for node in nodes_of(new).values():
        if _is_active_suspend(node):
            _outputs_from_defaults(new, node)
            node["phase"] = SUCCEEDED
            # Argo appends "Resumed by: <user>" to the node's message after "; ".
            message = str(node.get("message") or "")
            set_or_drop(node, "message", f"{message}; " if message else "")
            node["finishedAt"] = timestamp(now)
    return new


def set_node(
    workflow: Workflow,
    node_field_selector: str,
    *,
    phase: str = "",
    message: str = "",
    output_parameters: Mapping[str, str] | None = None,
    now: float | None = None,
) -> Workflow:
    """`argo node set` (`SetWorkflow`, `updateSuspendedNode`): on the active suspend nodes the
    selector matches, the phase (Succeeded, Failed or Error; `finishedAt` now), the message
    and values of output parameters declared `valueFrom.supplied` and not yet set (also
    written to the workflow's global outputs under their `globalName`). Refused without a
    selector, for another phase, an undeclared or already set parameter, or when no active
    suspend node matches or nothing was given to set."""
    if not node_field_selector:
        raise ControlError(
            "'set' currently only targets suspend nodes, use a node field selector to target them"
        )
    if phase not in _SETTABLE_PHASES:
        raise ControlError(f"{phase} is an invalid phase to set to")
    values = dict(output_parameters or {})
    return _update_suspended(
        workflow, node_field_selector, phase=phase, message=message, outputs=values, now=now
    )


def resubmit(
    workflow: Workflow, new_name: str, parameters: Mapping[str, str] | None = None
) -> Workflow:
    """`argo resubmit` (`FormulateResubmitWorkflow`, not memoized): a new Workflow to create,
    named `new_name` (Argo lets the API server pick one from `generateName`, which is kept:
    the old one's, or `<name>-`), with the old spec (no `shutdown`, no `activeDeadlineSeconds:
    0`), its labels but the creator/phase/completed/archiving ones plus
    `workflows.argoproj.io/resubmitted-from-workflow: <old name>`, its annotations and owner
    references, `parameters` overriding, and no status."""
    meta = workflow.get("metadata") or {}
    old_name = str(meta.get("name") or "")
    new_meta: dict[str, Any] = {
        "name": new_name,
        "generateName": meta.get("generateName") or f"{old_name}-",
    }
    if meta.get("namespace"):
        new_meta["namespace"] = meta["namespace"]
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in _NOT_RESUBMITTED}
    labels[LABEL_RESUBMITTED_FROM] = old_name
    new_meta["labels"] = labels
    set_or_drop(new_meta, "annotations", copy.deepcopy(meta.get("annotations") or {}))
    set_or_drop(new_meta, "ownerReferences", copy.deepcopy(meta.get("ownerReferences") or []))
    new: Workflow = {k: workflow[k] for k in ("apiVersion", "kind") if k in workflow}
    new["metadata"] = new_meta
    new["spec"] = spec = copy.deepcopy(workflow.get("spec") or {})
    _clear_shutdown(spec)
    override_parameters(new, parameters)
    return new


def node_selector(workflow: Workflow, ref: str) -> str:
    """A node field selector for `ref` as the old CLI took it: a selector if it has one of
    `=`/`!=`, else a node id, full name or display name (in that order), as given."""
    if "=" in ref:
        return ref
    nodes = nodes_of(workflow)
    if ref in nodes:
        return f"id={fieldselector.escape(ref)}"
    key = "name" if any(n.get("name") == ref for n in nodes.values()) else "displayName"
    return f"{key}={fieldselector.escape(ref)}"


# --- Shared by the actions ------------------------------------------------------------------


def _shutdown(workflow: Workflow, strategy: str) -> Workflow:
    """`patchShutdownStrategy`: refused once the workflow's phase is completed."""
    phase = _phase(workflow)
    if phase in COMPLETED_PHASES:
        meta = workflow.get("metadata") or {}
        raise ControlError(
            "cannot shutdown a completed workflow: "
            f'workflow: "{meta.get("name", "")}", namespace: "{meta.get("namespace", "")}" '
            f"is {phase}"
        )
    new = copy.deepcopy(workflow)
    new.setdefault("spec", {})["shutdown"] = strategy
    return new


def _clear_shutdown(spec: dict[str, Any]) -> None:
    spec.pop("shutdown", None)
    if spec.get("activeDeadlineSeconds") == 0:  # a terminated workflow's: unset it
        del spec["activeDeadlineSeconds"]


def _update_suspended(
    workflow: Workflow,
    node_field_selector: str,
    *,
    phase: str,
    message: str,
    outputs: Mapping[str, str],
    now: float | None,
) -> Workflow:
    """`updateSuspendedNode`: phase, message and supplied outputs of the matching active
    suspend nodes."""
    matcher = selector(node_field_selector)
    new = copy.deepcopy(workflow)
    updated = False
    for node in nodes_of(new).values():
        if not (_is_active_suspend(node) and matcher.matches_node(node)):
            continue
        if phase:
            node["phase"] = phase
            node["finishedAt"] = timestamp(now)  # every settable phase is fulfilled
            updated = True
        if message:
            node["message"] = message
            updated = True
        if outputs:
            _supply_outputs(new, node, outputs)
            updated = True
    if not updated:
        raise ControlError(
            "currently, set only targets suspend nodes: no suspend nodes matching "
            f"nodeFieldSelector: {node_field_selector} in workflow {name_of(workflow)!r}"
        )
    return new


def _supply_outputs(workflow: Workflow, node: Node, values: Mapping[str, str]) -> None:
    where = f"node {node.get('name')!r} of workflow {name_of(workflow)!r}"
    params = (node.get("outputs") or {}).get("parameters")
    if node.get("outputs") is None:
        raise ControlError(
            f"cannot set output parameters because node is not expecting any raw parameters "
            f"({where})"
        )
    for name, value in values.items():
        param = next((p for p in params or [] if p.get("name") == name), None)
        if param is None:
            raise ControlError(f"node is not expecting output parameter '{name}' ({where})")
        if not _is_supplied(param):
            raise ControlError(
                f"cannot set output parameter '{name}' because it does not use valueFrom.raw "
                f"or it was already set ({where})"
            )
        param["value"] = value
        param.pop("valueFrom", None)
        _add_global_output(workflow, param)


def _add_global_output(workflow: Workflow, param: Mapping[str, Any]) -> None:
    """`AddParamToGlobalScope`: the value under `status.outputs.parameters[globalName]`."""
    global_name = param.get("globalName")
    if not global_name:
        return
    outputs = workflow.setdefault("status", {}).setdefault("outputs", {})
    params = outputs.setdefault("parameters", [])
    for existing in params:
        if existing.get("name") == global_name:
            if param.get("value") is not None:
                existing["value"] = param["value"]
            return
    params.append({"name": global_name, "value": param.get("value")})


def _outputs_from_defaults(workflow: Workflow, node: Node) -> None:
    """`OverrideOutputParametersWithDefault`: supplied parameters take their defaults."""
    for param in (node.get("outputs") or {}).get("parameters") or []:
        if not _is_supplied(param):
            continue
        value_from = param["valueFrom"]
        if value_from.get("default") is None:
            raise ControlError(
                f"raw output parameter '{param.get('name')}' has not been set and does not have "
                f"a default value (node {node.get('name')!r} of workflow {name_of(workflow)!r})"
            )
        param["value"] = value_from["default"]
        del param["valueFrom"]


def _is_supplied(param: Mapping[str, Any]) -> bool:
    value_from = param.get("valueFrom")
    return isinstance(value_from, dict) and value_from.get("supplied") is not None


def _is_active_suspend(node: Node) -> bool:
    return node.get("type") == SUSPEND and node.get("phase") == RUNNING


def _phase(workflow: Workflow) -> str:
    return str((workflow.get("status") or {}).get("phase") or "")


def _is_completed(workflow: Workflow) -> bool:
    labels = (workflow.get("metadata") or {}).get("labels") or {}
    return labels.get(LABEL_COMPLETED) == "true" or _phase(workflow) in COMPLETED_PHASES
