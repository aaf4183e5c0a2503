"""Pod-spec fields taken from the template or the workflow spec (argo-contract.md §1.1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from argoexec import contract
from argoexec.controller.pod.context import PodBuildError, PodContext, WorkflowDeadlineExceededError

# (template field, workflow-spec field, pod-spec field): the template wins when set.
_OVERRIDES = (
    ("nodeSelector", "nodeSelector", "nodeSelector"),
    ("affinity", "affinity", "affinity"),
    ("tolerations", "tolerations", "tolerations"),
    ("schedulerName", "schedulerName", "schedulerName"),
    ("priorityClassName", "podPriorityClassName", "priorityClassName"),
    ("securityContext", "securityContext", "securityContext"),
)
# Workflow-spec fields copied verbatim.
_WORKFLOW_FIELDS = ("imagePullSecrets", "hostNetwork", "dnsPolicy", "dnsConfig")


def add_workflow_fields(spec: dict[str, Any], wf_spec: Mapping[str, Any]) -> None:
    for name in _WORKFLOW_FIELDS:
        if wf_spec.get(name) is not None:
            spec[name] = wf_spec[name]


def add_scheduling_constraints(
    spec: dict[str, Any], tmpl: Mapping[str, Any], wf_spec: Mapping[str, Any]
) -> None:
    """Argo's ``addSchedulingConstraints``."""
    for tmpl_field, wf_field, pod_field in _OVERRIDES:
        value = tmpl.get(tmpl_field) or wf_spec.get(wf_field)
        if value:
            spec[pod_field] = value
    aliases = [*(wf_spec.get("hostAliases") or []), *(tmpl.get("hostAliases") or [])]
    if aliases:
        spec["hostAliases"] = aliases


def setup_service_account(
    spec: dict[str, Any], tmpl: Mapping[str, Any], wf_spec: Mapping[str, Any]
) -> None:
    """Service account and ``automountServiceAccountToken`` (template over workflow)."""
    account = tmpl.get("serviceAccountName") or wf_spec.get("serviceAccountName")
    if account:
        spec["serviceAccountName"] = account
    automount = tmpl.get("automountServiceAccountToken")
    if automount is None:
        automount = wf_spec.get("automountServiceAccountToken")
    if automount is False:
        spec["automountServiceAccountToken"] = False
        executor_account = (tmpl.get("executor") or {}).get("serviceAccountName") or (
            wf_spec.get("executor") or {}
        ).get("serviceAccountName")
        if not executor_account:
            raise PodBuildError(
                "executor.serviceAccountName must not be empty if "
                "automountServiceAccountToken is false"
            )


def _int64(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as err:
        raise PodBuildError(f"activeDeadlineSeconds {value!r} is not an integer") from err


def _seconds_until(moment: datetime, now: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int((moment - now).total_seconds())  # Go's int64() truncates toward zero


def active_deadline_seconds(tmpl: Mapping[str, Any], ctx: PodContext) -> int | None:
    """min(template ``activeDeadlineSeconds``, remaining workflow deadline (not for exit
    handlers), remaining template ``timeout``)."""
    result = _int64(tmpl.get("activeDeadlineSeconds"))
    now = ctx.now or datetime.now(UTC)
    if ctx.workflow_deadline is not None and not ctx.on_exit:
        remaining = _seconds_until(ctx.workflow_deadline, now)
        if remaining <= 0:
            raise WorkflowDeadlineExceededError(
                f"{ctx.node_name}: the workflow deadline has passed"
            )
        if result is None or remaining < result:
            result = remaining
    if ctx.template_deadline is not None:
        remaining = _seconds_until(ctx.template_deadline, now)
        if result is None or remaining < result:
            if remaining <= 1:
                raise PodBuildError(f"{ctx.node_name} exceeded its deadline")
            result = remaining
    return result


def debug_paused(containers: Sequence[Mapping[str, Any]]) -> bool:
    """A main container asking for a debug pause disables ``activeDeadlineSeconds``."""
    names = (contract.ENV_DEBUG_PAUSE_BEFORE, contract.ENV_DEBUG_PAUSE_AFTER)
    return any(e.get("name") in names for c in containers for e in c.get("env") or [])
