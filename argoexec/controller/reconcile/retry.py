"""`retryStrategy` (the template's, else the workflow's `spec.retryStrategy`): a Retry node
whose children `NAME(0)`, `NAME(1)`... are the attempts.

Argo's rules (`processNodeRetries`): `limit` retries after the first attempt (unset: no limit);
`retryPolicy` OnFailure (default; Always when only `expression` is set) retries Failed attempts,
OnError Errored ones, Always both, OnTransientError Failed/Errored attempts whose message looks
transient; `expression` (expr-lang over `lastRetry.*`) must also hold; backoff waits
`duration * factor^n` after the last attempt finished, capped by `cap` (the pass asks to be
called again then); no retry starts once `maxDuration` since the first attempt would be
exceeded.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argoexec.contract import MAX_ITEMS_HINT
from argoexec.controller.engine.scope import Scope
from argoexec.controller.engine.substitute import SubstitutionError, substitute
from argoexec.controller.expr import ExpressionError, evaluate_condition

from . import nodes as n
from .clock import epoch
from .context import Frame, Pass, Visit
from .errors import NodeError
from .nodes import Node
from .walk import attempt, refuse, seconds

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


def _delay(duration: float, factor: float | None, cap: float | None, number: int) -> float:
    """Seconds before attempt `number` + 1: `duration * factor^number`, at most `cap`."""
    try:
        delay = duration * ((factor or 1.0) ** number)
    except OverflowError:  # a factor so large the delay is beyond any clock
        delay = math.inf
    return min(delay, cap) if cap else delay


def _elapsed(node: Node, now: float) -> float:
    start = epoch(node.get("startedAt")) or now
    return (epoch(node.get("finishedAt")) or now) - start


def attempt_entries(number: int, last: Node | None, now: float) -> dict[str, str]:
    """What attempt `number` sees: `retries`, and `lastRetry.*` of the attempt before it, with
    Argo's defaults on the first attempt."""
    if last is None:
        return {
            "retries": str(number),
            "lastRetry.exitCode": "0",
            "lastRetry.status": "",
            "lastRetry.duration": "0",
            "lastRetry.message": "",
        }
    return {
        "retries": str(number),
        "lastRetry.exitCode": str((last.get("outputs") or {}).get("exitCode") or "0"),
        "lastRetry.status": last["phase"],
        "lastRetry.duration": f"{_elapsed(last, now):g}",
        "lastRetry.message": last.get("message") or "",
    }


@dataclass(frozen=True)
class _Policy:
    limit: int | None
    duration: float | None
    factor: float | None
    cap: float | None
    max_duration: float | None
    expression: str
    policy: str


def _policy(strategy: Mapping[str, Any], scope: Scope) -> _Policy:
    backoff = strategy.get("backoff") or {}
    try:
        limit = _number(strategy.get("limit"), scope, "retryStrategy.limit")
        if limit is not None and not math.isfinite(limit):
            raise ValueError(f"limit {strategy.get('limit')!r} is not a number of retries")
        expression = str(strategy.get("expression") or "")
        return _Policy(
            limit=int(limit) if limit is not None else None,
            duration=_number(backoff.get("duration"), scope, "retryStrategy.backoff.duration"),
            factor=_number(backoff.get("factor"), scope, "retryStrategy.backoff.factor"),
            cap=_number(backoff.get("cap"), scope, "retryStrategy.backoff.cap"),
            max_duration=_number(
                backoff.get("maxDuration"), scope, "retryStrategy.backoff.maxDuration"
            ),
            expression=expression,
            policy=strategy.get("retryPolicy") or ("Always" if expression else "OnFailure"),
        )
    except (SubstitutionError, ValueError) as exc:
        raise NodeError(f"retryStrategy: {exc}") from None


def advance_retry(
    p: Pass,
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
) -> Visit:
    retry = p.nodes.by_name(name)
    if retry is None:
        retry = p.nodes.add(
            name, display, n.RETRY, now=p.now, parent=parent, boundary_id=frame.boundary_id,
            template_name=template_name, template_ref=tref, template_scope=frame.owner.scope,
            phase=n.RUNNING,
        )  # fmt: skip
    scope = p.globals.child(frame.extra)
    try:
        policy = _policy(strategy, scope)
    except NodeError as exc:
        return refuse(p, name, display, parent, frame=frame, message=exc.message, type_=n.RETRY)
    attempts = [
        p.nodes.get(c) for c in retry.get("children") or []
        if not n.is_hook_of(retry, p.nodes.get(c))
    ]  # fmt: skip
    number = max(len(attempts) - 1, 0)
    previous = attempts[-2] if len(attempts) > 1 else None
    while True:
        visit = attempt(
            p, template, kind, template_name, tref, name=f"{name}({number})",
            display=f"{display}({number})", parent=retry, frame=frame, args=args,
            retry_entries=attempt_entries(number, previous, p.now),
        )  # fmt: skip
        child = visit.node
        if child["id"] in p.nodes.map:
            p.nodes.set(child, nodeFlag={"retried": True})  # Argo marks every attempt
        if not n.fulfilled(child):
            return Visit(retry)
        if not attempts or attempts[-1]["id"] != child["id"]:
            attempts.append(child)
        fields = {"inputs": child.get("inputs"), "outputs": child.get("outputs")}
        if child["phase"] in (n.SUCCEEDED, n.SKIPPED) or n.daemoned(child):
            # A serving daemon is a success (Argo's processNodeRetries: not FailedOrError).
            phase = n.SUCCEEDED if n.daemoned(child) else child["phase"]
            p.nodes.finish(retry, phase, child.get("message") or "", now=p.now, **fields)
            return Visit(retry)
        why, delay = _judge(p, frame, policy, scope, child, number=number,
                            first=epoch(attempts[0]["startedAt"]) or p.now)  # fmt: skip
        if why is not None:
            message = (child.get("message") or "") if why == "" else why
            p.nodes.finish(retry, child["phase"], message, now=p.now, **fields)
            return Visit(retry, visit.error)
        finished = epoch(child.get("finishedAt")) or p.now
        if delay and p.now < finished + delay:
            p.nodes.set(retry, message=f"Backoff for {_shown(delay)}")
            p.wake(finished + delay)
            return Visit(retry)
        p.nodes.set(retry, message=None)
        p.on_attempt_failed(template, child, scope)
        previous = child
        number += 1


def _judge(
    p: Pass, frame: Frame, policy: _Policy, scope: Scope, child: Node, *, number: int, first: float
) -> tuple[str | None, float]:
    """Why the failed attempt `child` is the last ("" keeps its message), else None and the
    backoff before the next one."""
    why = _stop_reason(p, frame, child, policy=policy.policy, number=number, limit=policy.limit)
    if why is None and policy.expression:
        # Argo's buildRetryStrategyLocalScope: `retries` is the last attempt's number and a
        # missing exit code reads -1.
        judged = {**attempt_entries(number + 1, child, p.now), "retries": str(number)}
        if (child.get("outputs") or {}).get("exitCode") is None:
            judged["lastRetry.exitCode"] = "-1"
        try:
            if not evaluate_condition(policy.expression, scope.child(judged).as_expr_env()):
                why = "retryStrategy.expression evaluated to false"
        except ExpressionError as exc:
            why = f"retryStrategy.expression: {exc}"
    if why is not None or not policy.duration:
        return why, 0.0
    delay = _delay(policy.duration, policy.factor, policy.cap, number)
    finished = epoch(child.get("finishedAt")) or p.now
    if policy.max_duration is not None and finished + delay - first > policy.max_duration:
        return "Max duration limit exceeded", 0.0
    return None, delay


def _shown(delay: float) -> str:
    return f"{delay:g}s"


def _stop_reason(
    p: Pass, frame: Frame, child: Node, *, policy: str, number: int, limit: int | None
) -> str | None:
    """Why no further attempt is made ("" keeps the child's message), or None to retry."""
    stopped = p.stopping(on_exit=frame.on_exit)
    if stopped:
        return stopped
    if frame.deadline is not None and p.now >= frame.deadline:
        return ""
    if not _retryable(policy, child["phase"], child.get("message") or ""):
        return ""
    if limit is not None and number >= limit:
        return "No more retries left"
    cap = p.settings.max_children
    if cap and number + 1 >= cap:
        return (
            f"No more retries left: {number + 1} attempts, the most children a node may have "
            f"({MAX_ITEMS_HINT})"
        )
    return None


__all__ = ["NodeError", "advance_retry", "attempt_entries"]
