"""The commands that change a run's Workflow, as Argo's CLI does (`argo stop`, `terminate`,
`suspend`, `resume`, `retry`, `resubmit`), and `argoexec controller`, which drives runs.

A change is made to the stored Workflow (optimistic concurrency: read, change, write back,
again on a conflict); the controller driving the run acts on it. A run nobody drives (its
`argoexec run` was killed, the machine restarted) is driven by the command itself when the
change needs a controller to take effect (stop, terminate, retry, resubmit): the command then
runs until the workflow has finished, and exits with its outcome.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import secrets
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from argoexec.commands import Invocation
from argoexec.commands.interrupts import handled_by
from argoexec.commands.statedir import state_store
from argoexec.commands.workflows import assignments, check_supplied, one_node
from argoexec.controller.loop import control as ctl
from argoexec.controller.loop.artgc import ArtifactGCError, collect_for_deletion
from argoexec.controller.loop.controller import finished
from argoexec.controller.loop.local import (
    RUN_FILE,
    LocalController,
    RunConfig,
    RunLock,
    run_driver_context,
)
from argoexec.controller.loop.seams import NotFoundError, WorkflowStore
from argoexec.controller.loop.state_store import DirectoryStore
from argoexec.controller.orphan import stop_orphan
from argoexec.controller.render import render_workflow
from argoexec.controller.state import RunDir, StateError, StateStore

log = logging.getLogger("argoexec.controller")
Change = Callable[[dict[str, Any]], dict[str, Any]]
Missing = Callable[[str], str]  # the error message for a workflow that does not exist


def _root(args: argparse.Namespace, inv: Invocation) -> Path:
    return state_store(args, inv, mode="write").root


def missing_here(name: str) -> str:
    """The error for a workflow the state directory does not have."""
    return f"no workflow named {name!r} here"


def change(
    store: WorkflowStore, name: str, how: Change, missing: Missing = missing_here
) -> dict[str, Any]:
    """Apply `how` to the stored Workflow `name`; the stored result."""
    try:
        return ctl.change(store, name, how)
    except NotFoundError:
        raise StateError(missing(name)) from None
    except ctl.ControlError as exc:
        raise StateError(str(exc)) from None


def driven(root: Path, name: str) -> bool:
    """Whether a live process drives the run: it holds the run's lock (or, for a run of an
    older argoexec, its recorded owner is alive)."""
    lock = RunLock(root / name)
    if not lock.take():
        return True
    lock.release()
    if (root / name / RUN_FILE).exists():
        return False
    with contextlib.suppress(StateError):
        return RunDir(name, root / name).owner_alive()
    return False


def unfinished(store: WorkflowStore, name: str, missing: Missing = missing_here) -> dict[str, Any]:
    try:
        workflow = store.get(name)
    except NotFoundError:
        raise StateError(missing(name)) from None
    if finished(workflow):
        phase = workflow["status"]["phase"]
        raise StateError(f"workflow {name!r} is not running: it has finished ({phase})")
    return workflow


def _interrupts(stop: threading.Event) -> AbstractContextManager[None]:
    """The first SIGINT/SIGTERM stops driving (the runs and their pods go on, for any
    controller to take over); a second one interrupts at once."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    return handled_by(handler)


def drive_to_end(root: Path, name: str, inv: Invocation) -> int:
    """Drive run `name` here until it has finished; print it; 0 if it Succeeded."""
    if not (root / name / RUN_FILE).exists():
        raise StateError(
            f"workflow {name!r} was not run by this version of argoexec (no {RUN_FILE}): it "
            "cannot be driven here"
        )
    local = LocalController(root)
    stop = threading.Event()
    with _interrupts(stop):
        local.drive([name], stopping=stop.is_set)
    final = DirectoryStore(root).get(name)
    inv.stdout.write(render_workflow(final) + "\n")
    return 0 if (final.get("status") or {}).get("phase") == "Succeeded" else 1


def _change_then_drive(args: argparse.Namespace, inv: Invocation, how: Change, verb: str) -> int:
    root = _root(args, inv)
    store = DirectoryStore(root)
    if not (root / args.name / RUN_FILE).exists() and not driven(root, args.name):
        return _finish_orphan(root, args, inv)
    unfinished(store, args.name)
    change(store, args.name, how)
    inv.stdout.write(f"workflow {args.name} {verb}\n")
    if driven(root, args.name):
        return 0
    log.warning("no controller drives workflow %s: driving it here to its end", args.name)
    return drive_to_end(root, args.name, inv)


def _finish_orphan(root: Path, args: argparse.Namespace, inv: Invocation) -> int:
    """A run of an older argoexec whose process is gone cannot be driven: it is finished here
    as stopped (`controller.orphan`)."""
    run = RunDir(args.name, root / args.name)
    done = stop_orphan(run, getattr(args, "message", "") or "")
    inv.stdout.write(
        f"workflow {args.name} stopped: {done.workflow['status']['message']}; removed what it "
        f"left: {done.pods} pod directories (logs kept), {done.processes} processes, "
        f"{done.partial_artifacts} partial artifact files\n"
    )
    return 0


def stop(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo stop`: `spec.shutdown: Stop` (running pods end, exit handlers run)."""
    return _change_then_drive(args, inv, lambda wf: ctl.stop(wf, message=args.message), "stopped")


def terminate(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo terminate`: `spec.shutdown: Terminate` (exit handlers do not run)."""
    return _change_then_drive(args, inv, ctl.terminate, "terminated")


def suspend(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo suspend`: `spec.suspend: true` (nothing new starts; running pods go on)."""
    root = _root(args, inv)
    change(DirectoryStore(root), args.name, ctl.suspend)
    inv.stdout.write(f"workflow {args.name} suspended\n")
    return 0


def resume(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo resume` (with `-p`, `argo node set` first): suspended nodes Succeed with the
    supplied output values; `spec.suspend` is cleared."""
    root = _root(args, inv)
    resume_nodes(DirectoryStore(root), args)
    inv.stdout.write(f"workflow {args.name} resumed\n")
    if not driven(root, args.name):
        log.warning("no controller drives workflow %s: `argoexec controller` goes on", args.name)
    return 0


def resume_nodes(
    store: WorkflowStore, args: argparse.Namespace, missing: Missing = missing_here
) -> None:
    """`resume`'s changes to the stored Workflow: `args.node` (or every suspended node)
    Succeeded with the `-p` values supplied, and without `--node` `spec.suspend` cleared."""
    supplied = assignments(getattr(args, "parameter", None) or [])
    workflow = unfinished(store, args.name, missing)
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    if args.node:
        node = one_node(workflow, args.name, args.node)
        if node.get("type") != "Suspend" or node.get("phase") != "Running":
            raise StateError(
                f"node {args.node!r} of workflow {args.name!r} is not suspended "
                f"({node.get('type')}, {node.get('phase')})"
            )
        chosen = [node]
    else:
        chosen = [
            n for n in nodes.values() if n.get("type") == "Suspend" and n.get("phase") == "Running"
        ]
    check_supplied(args.name, chosen, supplied)
    selector = f"id={chosen[0]['id']}" if args.node else None
    if supplied:
        targets = [f"id={node['id']}" for node in chosen]
        for target in targets:
            change(store, args.name, partial(ctl.set_node, node_field_selector=target,
                                             output_parameters=supplied), missing)  # fmt: skip
    for node in chosen:
        how = partial(ctl.resume, node_field_selector=f"id={node['id']}")
        change(store, args.name, how, missing)
    if selector is None:
        change(store, args.name, _unsuspend, missing)


def _unsuspend(workflow: dict[str, Any]) -> dict[str, Any]:
    """`spec.suspend` cleared (what `argo resume` does besides resuming the suspended nodes;
    their supplied outputs without a value are settled by the controller: a default, or the
    node is an Error naming the one missing)."""
    spec = workflow.setdefault("spec", {})
    spec.pop("suspend", None)
    return workflow


def retry(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo retry`: failed and errored nodes are reset (succeeded ones kept), the run goes on
    here to its end."""
    root = _root(args, inv)
    if driven(root, args.name):
        raise StateError(f"workflow {args.name!r} is being driven by another process")
    store = DirectoryStore(root)
    parameters = assignments(getattr(args, "parameter", None) or [])
    retried: list[str] = []

    def how(wf: dict[str, Any]) -> dict[str, Any]:
        result = ctl.retry(wf, parameters=parameters)
        retried[:] = list(result.pods_to_delete)
        return result.workflow

    change(store, args.name, how)
    local = LocalController(root)
    backend = local.pods.backend(args.name)
    for pod in retried:
        backend.delete(pod)
    local.close()
    return drive_to_end(root, args.name, inv)


def resubmit(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo resubmit`: a new run of the same spec and arguments (under a new name), driven here
    to its end."""
    root = _root(args, inv)
    store = DirectoryStore(root)
    old = store.get(args.name)
    name = f"{args.name}-{secrets.token_hex(3)[:5]}"
    parameters = assignments(getattr(args, "parameter", None) or [])
    new = ctl.resubmit(old, name, parameters=parameters)
    # The old run's options go with the new Workflow: no reader finds it without them.
    config = RunConfig.load(root / args.name)
    created = store.create(new, files={RUN_FILE: config.text()})
    inv.stdout.write(f"workflow {created['metadata']['name']} submitted\n")
    return drive_to_end(root, str(created["metadata"]["name"]), inv)


def controller(args: argparse.Namespace, inv: Invocation) -> int:
    """`argoexec controller`: drive every unfinished run of the state directory nobody else
    drives (runs whose `argoexec run` died included), schedule its CronWorkflows (and those of
    `--cron-dir`), and remove finished runs whose `ttlStrategy` is over; with
    `--exit-when-done`, until none is left unfinished."""
    from argoexec.commands.cron import scheduler_for

    root = _root(args, inv)
    scheduler = scheduler_for(root, args, inv)
    local = LocalController(root)
    stop = threading.Event()
    try:
        with _interrupts(stop):
            local.drive(
                None,
                until_done=bool(args.exit_when_done),
                stopping=stop.is_set,
                every_round=scheduler.tick,
            )
    finally:
        scheduler.close()
    return 0


def delete(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo delete`: the run's directory removed, logs and artifacts of the local repository
    in it included; refused while a process drives the run (stop it first). Artifacts under
    artifact GC (OnWorkflowDeletion, and OnWorkflowCompletion ones not yet deleted) are
    deleted first; if one cannot be, the run is kept (unless forceFinalizerRemoval)."""
    root = _root(args, inv)
    run = StateStore(root).open(args.name)
    lock = RunLock(run.path)
    if driven(root, args.name) or not lock.take():
        raise StateError(
            f"workflow {args.name!r} is being driven by a live process: stop or terminate it, "
            "then delete it"
        )
    try:
        # The finalizer's work first (Argo holds a Workflow until its artifacts are deleted).
        with contextlib.suppress(NotFoundError):
            collect_for_deletion(DirectoryStore(root), args.name, partial(run_driver_context, root))
        StateStore(root).remove(run)
    except ArtifactGCError as exc:
        raise StateError(str(exc)) from None
    finally:
        lock.release()
    inv.stdout.write(f"workflow {args.name} deleted\n")
    return 0
