"""`retryStrategy` (the template's, else the workflow's `spec.retryStrategy`): a Retry node
whose children `NAME(0)`, `NAME(1)`... are the attempts.

Argo's rules: `limit` retries after the first attempt (unset: no limit); `retryPolicy`
OnFailure (default; Always when only `expression` is set) retries Failed attempts, OnError
Errored ones, Always both, OnTransientError Failed/Errored attempts whose message looks
transient; `expression` (expr-lang over `lastRetry.*`) must also hold; backoff waits
`duration * factor^n`, capped by `cap`, and no retry starts once `maxDuration` since the first
attempt would be exceeded.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from typing import Any

from argoexec.controller.expr import ExpressionError, evaluate_condition

from . import nodes as n
from .context import Frame, RunState
from .execute import attempt, seconds
from .loops import MAX_ITEMS_HINT
from .nodes import Node
from .scope import Scope
from .substitute import SubstitutionError, substitute

_TRANSIENT = re.compile(
    r"(?i)(timeout|timed out|connection (reset|refused)|temporar|unavailable|"
    r"too many requests|try again|i/o timeout|EOF|exceeded quota)"
)


def _retryable(policy: str, phase: str, message: str) -> bool:
    if policy == "Always":
        return phase in (n.FAILED, n.ERROR)
    if policy == "OnError":
        return phase == n.ERROR
    if policy == "OnTransientError":
        return phase in (n.FAILED, n.ERROR) and bool(_TRANSIENT.search(message))
    return phase == n.FAILED


def _number(value: Any, scope: Scope, what: str) -> float | None:
    if value is None or value == "":
        return None
    text = str(substitute(str(value), scope, allow_unresolved=False, location=what))
    return seconds(text)


def run_retry(
    run: RunState,
    template: dict[str, Any],
    kind: str,
    template_name: str | None,
    tref: dict[str, Any] | None,
    *,
    strategy: Mapping[str, Any],
    name: str,
    display: str,
    parent: Node | None,
    frame: Frame,
    args: Mapping[str, Any],
) -> Node:
    retry = run.tree.add(
        name,
        display,
        n.RETRY,
        parent=parent,
        boundary_id=frame.boundary_id,
        template_name=template_name,
        template_ref=tref,
        template_scope=frame.owner.scope,
        phase=n.RUNNING,
    )
    scope = run.globals.child(frame.extra)
    backoff = strategy.get("backoff") or {}
    try:
        limit_value = _number(strategy.get("limit"), scope, "retryStrategy.limit")
        duration = _number(backoff.get("duration"), scope, "retryStrategy.backoff.duration")
        factor = _number(backoff.get("factor"), scope, "retryStrategy.backoff.factor")
        cap = _number(backoff.get("cap"), scope, "retryStrategy.backoff.cap")
        max_duration = _number(
            backoff.get("maxDuration"), scope, "retryStrategy.backoff.maxDuration"
        )
        if limit_value is not None and not math.isfinite(limit_value):
            raise ValueError(f"limit {strategy.get('limit')!r} is not a number of retries")
    except (SubstitutionError, ValueError) as exc:
        return run.tree.refuse(retry, f"retryStrategy: {exc}")
    limit = int(limit_value) if limit_value is not None else None
    expression = strategy.get("expression")
    policy = strategy.get("retryPolicy") or ("Always" if expression else "OnFailure")
    first = time.time()
    entries = _attempt_entries(0, None)
    number = 0
    while True:
        child = attempt(
            run,
            template,
            kind,
            template_name,
            tref,
            name=f"{name}({number})",
            display=f"{display}({number})",
            parent=retry,
            frame=frame,
            args=args,
            retry_entries=entries,
        )
        inputs_outputs = {"inputs": child.inputs, "outputs": child.outputs}
        if child.phase in (n.SUCCEEDED, n.SKIPPED):
            return run.tree.finish(retry, child.phase, child.message, **inputs_outputs)
        why = _stop_reason(run, frame, child, policy=policy, number=number, limit=limit)
        entries = _attempt_entries(number + 1, child)
        if why is None and expression:
            # Argo's buildRetryStrategyLocalScope: `retries` is the last attempt's number and
            # a missing exit code reads -1 (the next attempt's template sees 0).
            judged = {**entries, "retries": str(number)}
            if (child.outputs or {}).get("exitCode") is None:
                judged["lastRetry.exitCode"] = "-1"
            try:
                if not evaluate_condition(str(expression), scope.child(judged).as_expr_env()):
                    why = "retryStrategy.expression evaluated to false"
            except ExpressionError as exc:
                why = f"retryStrategy.expression: {exc}"
        backing_off = why is None and bool(duration)
        delay = _delay(duration or 0.0, factor, cap, number) if backing_off else 0.0
        if backing_off and max_duration is not None and time.time() + delay - first > max_duration:
            why = "Max duration limit exceeded"
        if why is not None:
            message = child.message if why == "" else why
            retry.refused = child.refused
            return run.tree.finish(retry, child.phase, message, **inputs_outputs)
        _attempt_metrics(run, template, child, scope)
        stopped = _back_off(run, frame, delay) if delay else None
        if stopped:
            return run.tree.finish(retry, n.FAILED, stopped, **inputs_outputs)
        number += 1


def _delay(duration: float, factor: float | None, cap: float | None, number: int) -> float:
    """Seconds before attempt `number` + 1: `duration * factor^number`, at most `cap`."""
    try:
        delay = duration * ((factor or 1.0) ** number)
    except OverflowError:  # a factor so large the delay is beyond any clock
        delay = math.inf
    return min(delay, cap) if cap else delay


def _back_off(run: RunState, frame: Frame, delay: float) -> str | None:
    """Wait `delay` seconds before the next attempt; why the run stopped meanwhile (for an exit
    handler: was aborted), if it did."""
    end = time.monotonic() + delay
    while (left := end - time.monotonic()) > 0:
        reason = run.stopping(on_exit=frame.on_exit)
        if reason:
            return reason
        with run.lock:
            run.changed.wait(min(left, run.options.poll_interval * 4))
    return None


def _attempt_metrics(run: RunState, template: Mapping[str, Any], child: Node, scope: Scope) -> None:
    """Argo emits a template's metrics for each failed attempt that is retried, too."""
    if template.get("metrics"):
        duration = (child.finished_at or time.time()) - child.started_at
        run.metrics.node_finished(template, child.to_status(), variables=scope, duration=duration)


def _attempt_entries(number: int, last: Node | None) -> dict[str, str]:
    """What attempt `number` sees (Argo's local parameters of a retried template): `retries`,
    and `lastRetry.*` of the attempt before it, with Argo's defaults on the first attempt
    (exit code and duration "0", status and message empty)."""
    if last is None:
        return {
            "retries": str(number),
            "lastRetry.exitCode": "0",
            "lastRetry.status": "",
            "lastRetry.duration": "0",
            "lastRetry.message": "",
        }
    duration = (last.finished_at or time.time()) - last.started_at
    return {
        "retries": str(number),
        "lastRetry.exitCode": str((last.outputs or {}).get("exitCode") or "0"),
        "lastRetry.status": last.phase,
        "lastRetry.duration": f"{duration:g}",
        "lastRetry.message": last.message,
    }


def _stop_reason(
    run: RunState, frame: Frame, child: Node, *, policy: str, number: int, limit: int | None
) -> str | None:
    """Why no further attempt is made ("" keeps the child's message), or None to retry."""
    stopped = run.stopping(on_exit=frame.on_exit)
    if stopped:
        return stopped
    if frame.deadline is not None and time.time() >= frame.deadline:
        return ""
    if not _retryable(policy, child.phase, child.message):
        return ""
    if limit is not None and number >= limit:
        return "No more retries left"
    cap = run.options.max_children
    if cap and number + 1 >= cap:
        # Each attempt is a child of the Retry node: no more than a node may have.
        return (
            f"No more retries left: {number + 1} attempts, the most children a node may have "
            f"({MAX_ITEMS_HINT})"
        )
    return None
