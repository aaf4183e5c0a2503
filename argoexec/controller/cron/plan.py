"""One scheduling pass over a CronWorkflow, as Argo's cron operator makes it (pure: the time is
given, the CronWorkflow's Workflows are observed by the caller, who carries the plan out).

A pass:
1. brings `status.active` up to date with the cron's Workflows (an unfinished one not listed is
   added; a finished or gone one is removed, and a finished one counts in `status.succeeded` or
   `status.failed`, after which `stopStrategy.expression` may stop the cron: `phase: Stopped` and
   the `cron-workflow-completed` label);
2. names the oldest finished Workflows beyond `successfulJobsHistoryLimit` (3) and
   `failedJobsHistoryLimit` (1) for deletion (newest kept, by `finishedAt`);
3. finds the slot due: the last one of any schedule since the caller last considered (kept in
   the caller's memory), or, at a controller's first pass over the cron, the last one missed
   since `status.lastScheduledTime`, run only when `startingDeadlineSeconds` is set and the slot
   is less than that old (Argo's runOutstandingWorkflows: at most one missed run);
4. decides the slot's run: not while `suspend` or Stopped, nor when `when` is false; with
   `concurrencyPolicy` Forbid not while a Workflow of the cron is active, with Replace after
   terminating the active ones. The Workflow is named `<cron>-<slot's unix time>`: a controller
   restarted after creating it but before recording it creates the same name again, which the
   store refuses, and so never runs a slot twice.
The caller records the creation (`submitted`) or its failure (`submission_failed`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from argoexec.contract import LABEL_CRON_WORKFLOW, LABEL_CRON_WORKFLOW_COMPLETED
from argoexec.controller.expr import (
    ExpressionError,
    evaluate_condition,
    evaluate_expr,
    evaluate_when,
    expand_env,
    render_value,
)
from argoexec.controller.reconcile.clock import epoch
from argoexec.controller.workflow.cron import (
    lint_cron_fields,
    scheduled_name,
    workflow_from_cron,
)
from argoexec.durations import rfc3339

from .schedule import latest_of, next_of, schedules_of, zone_of

ACTIVE = "Active"
STOPPED = "Stopped"
SUBMISSION_ERROR = "SubmissionError"
SPEC_ERROR = "SpecError"
SUCCESSFUL_HISTORY = 3  # Argo's defaults for the history limits
FAILED_HISTORY = 1
_FINAL = ("Succeeded", "Failed", "Error")
_TAG = re.compile(r"\{\{(=?)(.*?)\}\}", re.DOTALL)


@dataclass(frozen=True)
class Child:
    """A Workflow of the CronWorkflow (labelled with its name), as observed."""

    name: str
    uid: str
    phase: str = ""
    finished_at: float | None = None
    namespace: str = ""

    @classmethod
    def of(cls, workflow: Mapping[str, Any]) -> Child:
        meta = workflow.get("metadata") or {}
        status = workflow.get("status") or {}
        return cls(
            name=str(meta.get("name") or ""),
            uid=str(meta.get("uid") or ""),
            phase=str(status.get("phase") or ""),
            finished_at=epoch(status.get("finishedAt")),
            namespace=str(meta.get("namespace") or ""),
        )

    @property
    def fulfilled(self) -> bool:
        return self.phase in _FINAL


def children_of(cron_name: str, workflows: Iterable[Mapping[str, Any]]) -> list[Child]:
    """The Workflows labelled as the cron's runs."""
    return [
        Child.of(wf)
        for wf in workflows
        if ((wf.get("metadata") or {}).get("labels") or {}).get(LABEL_CRON_WORKFLOW) == cron_name
    ]


@dataclass
class CronPlan:
    cron: dict[str, Any]  # as this pass leaves it (status, labels)
    considered: float  # slots up to this time were considered (the caller's marker)
    create: dict[str, Any] | None = None  # the Workflow to create for `slot`
    slot: float | None = None
    terminate: list[str] = field(default_factory=list)  # Replace: the active ones
    delete: list[str] = field(default_factory=list)  # beyond the history limits
    wake_at: float | None = None  # the next slot


def plan(
    cron: Mapping[str, Any], children: list[Child], *, now: float, considered: float | None
) -> CronPlan:
    """One pass at `now`; `considered` is None at this controller's first pass over the cron."""
    result = CronPlan(cron=copy.deepcopy(dict(cron)), considered=now)
    status = result.cron.setdefault("status", {})
    spec = result.cron.get("spec") or {}
    _reconcile_active(result.cron, children)
    result.delete = _beyond_history(spec, children)
    problems = lint_cron_fields(result.cron)
    if problems:  # Argo's validateCronWorkflow: a SpecError condition, nothing scheduled
        _upsert(status, SPEC_ERROR, "; ".join(f"{p.path}: {p.message}" for p in problems))
        return result
    _remove(status, SPEC_ERROR)
    schedules = schedules_of(spec)
    zone = zone_of(spec.get("timezone"))
    result.wake_at = next_of(schedules, zone, now)
    slot = _due(spec, status, schedules, now=now, considered=considered)
    if slot is not None:
        _decide(result, slot, datetime.fromtimestamp(slot, zone))
    return result


def _due(
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    schedules: list[str],
    *,
    now: float,
    considered: float | None,
) -> float | None:
    zone = zone_of(spec.get("timezone"))
    if considered is not None:
        return latest_of(schedules, zone, considered, now)
    last = epoch(status.get("lastScheduledTime"))
    deadline = spec.get("startingDeadlineSeconds")
    if last is None or not isinstance(deadline, int):
        return None
    missed = latest_of(schedules, zone, last, now)
    return missed if missed is not None and now < missed + deadline else None


def _decide(result: CronPlan, slot: float, scheduled: datetime) -> None:
    cron = result.cron
    spec, status = cron.get("spec") or {}, cron["status"]
    try:
        if _stop_condition(cron):
            _set_stopped(cron)
    except ExpressionError as exc:
        _upsert(status, SPEC_ERROR, f"failed to check CronWorkflow {_name(cron)!r} stopping "
                f"condition: failed to evaluate stop expression: {exc}")  # fmt: skip
        return
    if spec.get("suspend") or status.get("phase") == STOPPED:
        return
    try:
        if not _when(cron):
            return
    except ExpressionError as exc:
        _submission_error(status, f"run policy error: {exc}")
        return
    active = [str(ref.get("name")) for ref in status.get("active") or []]
    policy = spec.get("concurrencyPolicy") or "Allow"
    if policy == "Forbid" and active:
        return
    if policy == "Replace":
        result.terminate = active
    elif policy not in ("Allow", "Forbid"):
        _submission_error(status, f"run policy error: invalid ConcurrencyPolicy: {policy}")
        return
    result.slot = slot
    result.create = workflow_from_cron(cron, scheduled, name=scheduled_name(_name(cron), slot))


def submitted(cron: Mapping[str, Any], workflow: Mapping[str, Any], slot: float) -> dict[str, Any]:
    """The CronWorkflow once the Workflow of `slot` was created (`workflow` as stored)."""
    out = copy.deepcopy(dict(cron))
    status = out.setdefault("status", {})
    status["active"] = [*(status.get("active") or []), _reference(workflow)]
    status["phase"] = ACTIVE
    status["lastScheduledTime"] = rfc3339(slot)
    _remove(status, SUBMISSION_ERROR)
    return out


def submission_failed(cron: Mapping[str, Any], cause: str) -> dict[str, Any]:
    """The CronWorkflow once creating a Workflow failed (it counts as a failed run)."""
    out = copy.deepcopy(dict(cron))
    _submission_error(out.setdefault("status", {}), f"Failed to submit Workflow: {cause}")
    return out


# --- status.active and the counters ---------------------------------------------------------


def _reference(workflow: Mapping[str, Any]) -> dict[str, Any]:
    meta = workflow.get("metadata") or {}
    ref = {
        "kind": "Workflow",
        "apiVersion": workflow.get("apiVersion") or "argoproj.io/v1alpha1",
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    return {k: v for k, v in ref.items() if v}


def _reconcile_active(cron: dict[str, Any], children: list[Child]) -> None:
    status = cron["status"]
    active = list(status.get("active") or [])
    listed = {str(ref.get("uid")) for ref in active}
    for child in children:
        if not child.fulfilled and child.uid not in listed:
            active.append(_reference({"metadata": {"name": child.name, "uid": child.uid,
                                                   "namespace": child.namespace}}))  # fmt: skip
    by_uid = {child.uid: child for child in children}
    kept = []
    for ref in active:
        found = by_uid.get(str(ref.get("uid")))
        if found is not None and not found.fulfilled:
            kept.append(ref)
            continue
        if found is not None:  # finished: counted once, as it leaves the active list
            key = "succeeded" if found.phase == "Succeeded" else "failed"
            status[key] = int(status.get(key) or 0) + 1
            try:
                if _stop_condition(cron):
                    _set_stopped(cron)
            except ExpressionError:
                pass  # reported when the next slot is decided
    if kept or "active" in status:
        status["active"] = kept


def _beyond_history(spec: Mapping[str, Any], children: list[Child]) -> list[str]:
    """The finished Workflows past the history limits, oldest (by finishedAt) first to go."""
    names: list[str] = []
    for wanted, key, default in (
        (lambda c: c.phase == "Succeeded", "successfulJobsHistoryLimit", SUCCESSFUL_HISTORY),
        (lambda c: c.phase in ("Failed", "Error"), "failedJobsHistoryLimit", FAILED_HISTORY),
    ):
        limit = spec.get(key)
        keep = limit if isinstance(limit, int) and limit >= 0 else default
        done = sorted(
            (c for c in children if wanted(c)),
            key=lambda c: (c.finished_at or 0.0, c.name),
            reverse=True,
        )
        names.extend(c.name for c in done[keep:])
    return names


# --- expressions ----------------------------------------------------------------------------


def _name(cron: Mapping[str, Any]) -> str:
    return str((cron.get("metadata") or {}).get("name") or "")


def _variables(cron: Mapping[str, Any]) -> dict[str, Any]:
    """What `cronworkflow.*` names in `when` and `stopStrategy.expression` (Argo's
    expressionEnv)."""
    meta = cron.get("metadata") or {}
    status = cron.get("status") or {}
    last = epoch(status.get("lastScheduledTime"))
    return {
        "name": str(meta.get("name") or ""),
        "namespace": str(meta.get("namespace") or ""),
        "labels": dict(meta.get("labels") or {}),
        "annotations": dict(meta.get("annotations") or {}),
        "failed": int(status.get("failed") or 0),
        "succeeded": int(status.get("succeeded") or 0),
        "lastScheduledTime": datetime.fromtimestamp(last, UTC) if last is not None else None,
    }


def _stop_condition(cron: Mapping[str, Any]) -> bool:
    strategy = (cron.get("spec") or {}).get("stopStrategy") or {}
    expression = strategy.get("expression")
    if not expression:
        return False
    return evaluate_condition(str(expression), {"cronworkflow": _variables(cron)})


def _set_stopped(cron: dict[str, Any]) -> None:
    cron["status"]["phase"] = STOPPED
    labels = cron.setdefault("metadata", {}).setdefault("labels", {})
    labels[LABEL_CRON_WORKFLOW_COMPLETED] = "true"


def _when(cron: Mapping[str, Any]) -> bool:
    """`spec.when` after its `{{cronworkflow.*}}` and `{{=...}}` tags are replaced, as a
    govaluate condition (Argo's evalWhen)."""
    text = (cron.get("spec") or {}).get("when")
    if not text:
        return True
    variables = _variables(cron)
    flat = {f"cronworkflow.{k}": v for k, v in variables.items()}
    flat["cronworkflow.labels.json"] = json.dumps(variables["labels"], sort_keys=True)
    flat["cronworkflow.annotations.json"] = json.dumps(variables["annotations"], sort_keys=True)

    def replace(match: re.Match[str]) -> str:
        body = match.group(2).strip()
        if match.group(1):
            value = evaluate_expr(body, expand_env(flat))
            if value is None:
                raise ExpressionError("the result is nil", expression=body)
            return render_value(value)
        if body not in flat:
            raise ExpressionError(
                f"failed to resolve {{{{{body}}}}}", expression=str(text), dialect="when"
            )
        return render_value(flat[body])

    return evaluate_when(_TAG.sub(replace, str(text)))


# --- conditions -----------------------------------------------------------------------------


def _upsert(status: dict[str, Any], kind: str, message: str) -> None:
    others = [c for c in status.get("conditions") or [] if c.get("type") != kind]
    status["conditions"] = [*others, {"type": kind, "status": "True", "message": message}]


def _remove(status: dict[str, Any], kind: str) -> None:
    if status.get("conditions"):
        status["conditions"] = [c for c in status["conditions"] if c.get("type") != kind]
        if not status["conditions"]:
            del status["conditions"]


def _submission_error(status: dict[str, Any], message: str) -> None:
    _upsert(status, SUBMISSION_ERROR, message)
    status["failed"] = int(status.get("failed") or 0) + 1
