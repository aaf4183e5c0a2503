"""How a pod that ended becomes its node's outcome: the phase and message (`podphase`, Argo's
inferFailedReason), the outputs the executor reported, and the cap on output parameters.

A failed main container fails the node (`main: Error (exit code N)[: termination message]`), a
failed init or wait container or a pod that could not start is an Error, the pod deadline reads
as Argo's message, and a pod with a `wait` container that reported nothing is an Error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from argoexec.contract import PARAMETERS_HINT, WAIT_CONTAINER
from argoexec.controller.runtime.status import PodResult
from argoexec.models import NodeResult

from . import nodes as n
from . import podphase


@dataclass
class PodOutcome:
    phase: str
    message: str = ""
    outputs: dict[str, Any] | None = None


def interpret(
    result: PodResult,
    reported: NodeResult | None,
    mains: Sequence[str],
    *,
    stopped: str = "",
) -> PodOutcome:
    """The outcome of the node whose pod ended with `result`, the executor having reported
    `reported`; `stopped` is why the workflow stopped the pod ("" if it did not): the node
    Fails with it, keeping what was reported."""
    outputs = reported.outputs.to_wire() if reported and reported.outputs else {}
    for art in outputs.get("artifacts") or []:
        # A subPath declared on a container's output selects nothing: Argo never applies it.
        art.pop("subPath", None)
    exit_codes = [_exit_code(result, m) for m in mains]
    main_code = next(
        (c for c in exit_codes if c not in (None, 0)), exit_codes[-1] if mains else None
    )
    if main_code is not None:
        outputs["exitCode"] = str(main_code)
    outcome = PodOutcome(n.SUCCEEDED, outputs=outputs or None)
    if stopped:
        outcome.phase, outcome.message = n.FAILED, stopped
        return outcome
    verdict: tuple[str, str] | None = podphase.assess(result, mains)
    if verdict == (n.SUCCEEDED, ""):
        verdict = None
    if verdict is None and reported is not None and reported.phase in (n.FAILED, n.ERROR):
        verdict = reported.phase, reported.message or ""
    has_wait = any(c.name == WAIT_CONTAINER for c in result.containers)
    if verdict is None and reported is None and has_wait:
        verdict = n.ERROR, "the executor reported no result"
    if verdict is not None:
        outcome.phase, outcome.message = verdict
    return outcome


def oversized_parameters(outputs: Mapping[str, Any] | None, limit: int) -> str:
    """Why the output parameters of a node are too large to keep (all together more than
    `limit` bytes; 0: no cap), or ""."""
    total = 0
    for param in (outputs or {}).get("parameters") or []:
        total += len(str(param.get("value") or "").encode())
        if limit and total > limit:
            return (
                f"output parameter {param.get('name')!r}: the node's output parameters hold "
                f"more than {limit} bytes ({PARAMETERS_HINT})"
            )
    return ""


def _exit_code(result: PodResult, container: str) -> int | None:
    try:
        return result.container(container).exit_code
    except KeyError:
        return None
