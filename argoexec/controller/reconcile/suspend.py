"""A `suspend` template: a Suspend node that runs until it is resumed (a change to the node in
the Workflow: `argoexec resume`, `argoexec node set`, as Argo's clients do) or its `duration`
has passed since it started; a shutdown or the deadline fails it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argoexec.controller.engine.substitute import SubstitutionError, substitute

from . import nodes as n
from .clock import epoch
from .context import Pass, Run, Visit
from .errors import NodeError
from .outputs import export_globals, suspend_outputs
from .walk import seconds


def expected_outputs(template: Mapping[str, Any]) -> dict[str, Any] | None:
    """As Argo's node while it is suspended: the output parameters it expects to be supplied
    (valueFrom.supplied), which a resume checks its names against."""
    declared = (template.get("outputs") or {}).get("parameters") or []
    expected = [dict(q) for q in declared if "supplied" in (q.get("valueFrom") or {})]
    return {"parameters": expected} if expected else None


def advance_suspend(p: Pass, run: Run) -> Visit:
    node, template = run.node, run.template
    spec = template.get("suspend") or {}
    until: float | None = None
    if spec.get("duration") not in (None, ""):
        try:
            text = str(substitute(str(spec["duration"]), run.scope, allow_unresolved=False))
            until = (epoch(node.get("startedAt")) or p.now) + seconds(text)
        except (SubstitutionError, ValueError) as exc:
            raise NodeError(f"suspend duration: {exc}") from None
    if node["phase"] == n.PENDING:
        p.nodes.set(node, phase=n.RUNNING)
        expected = expected_outputs(template)
        if expected:
            node["outputs"] = expected
    reason = p.halted(run.frame)
    if reason is not None:
        p.nodes.finish(node, n.FAILED, reason, now=p.now, outputs=None)
        return Visit(node)
    if until is not None and p.now < until:
        p.wake(until)
        return Visit(node)
    if until is None:
        return Visit(node)
    try:
        outputs = suspend_outputs(template, {})
    except ValueError as exc:
        p.nodes.finish(node, n.ERROR, str(exc), now=p.now, outputs=None)
        return Visit(node)
    export_globals(p, template, outputs)
    p.nodes.finish(node, n.SUCCEEDED, now=p.now, outputs=outputs)
    return Visit(node)
