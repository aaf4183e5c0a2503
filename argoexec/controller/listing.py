"""A run's Workflow as the readers show it (`argoexec list|get`, the web view): its stored
state, or a stand-in naming why there is none (starting; its process died first)."""

from __future__ import annotations

from typing import Any

from argoexec.controller.state import RunDir, StateError


def read_run(run: RunDir) -> dict[str, Any]:
    """The run's Workflow; a stand-in naming the problem when its state cannot be read."""
    if not run.has_state():
        return stateless(run)
    try:
        return run.read_workflow()
    except StateError as exc:
        return {"metadata": {"name": run.name}, "status": {"phase": "Unknown", "message": str(exc)}}


def stateless(run: RunDir) -> dict[str, Any]:
    """A run that recorded no state yet: starting, or its process died before it could."""
    if run.owner_alive():
        message = "starting: no state recorded yet"
    else:
        pid = run.owner_pid()
        message = (
            f"its process{f' (pid {pid})' if pid else ''} ended before it recorded any state; "
            f"`argoexec stop {run.name}` marks it Failed"
        )
    return {"metadata": {"name": run.name}, "status": {"phase": "Pending", "message": message}}


def phase_of(workflow: dict[str, Any]) -> str:
    return str((workflow.get("status") or {}).get("phase") or "Pending")


def orphaned(run: RunDir, workflow: dict[str, Any]) -> bool:
    """Unfinished, and the process that ran it is gone."""
    return phase_of(workflow) in ("Pending", "Running") and not run.owner_alive()
