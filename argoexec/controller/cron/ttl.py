"""`spec.ttlStrategy`: when a finished Workflow is deleted (Argo's TTL controller).

`secondsAfterFailure` for a Failed or Errored Workflow and `secondsAfterSuccess` for a Succeeded
one win over `secondsAfterCompletion`; the time counts from `status.finishedAt`. A Workflow
without a strategy, or not finished, is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argoexec.controller.reconcile.clock import epoch


def ttl_seconds(workflow: Mapping[str, Any]) -> int | None:
    """How long the finished `workflow` lives (None: for ever, or not finished)."""
    strategy = (workflow.get("spec") or {}).get("ttlStrategy") or {}
    phase = (workflow.get("status") or {}).get("phase")
    if not isinstance(strategy, Mapping) or phase not in ("Succeeded", "Failed", "Error"):
        return None
    own = "secondsAfterSuccess" if phase == "Succeeded" else "secondsAfterFailure"
    for key in (own, "secondsAfterCompletion"):
        value = strategy.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return max(value, 0)
    return None


def expires_at(workflow: Mapping[str, Any]) -> float | None:
    """When the finished `workflow` is to be deleted (epoch seconds), or None."""
    ttl = ttl_seconds(workflow)
    finished = epoch((workflow.get("status") or {}).get("finishedAt"))
    if ttl is None or finished is None:
        return None
    return finished + ttl
