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
import secrets
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from argoexec.commands import Invocation, UsageError
from argoexec.commands.statedir import state_store
from argoexec.commands.workflows import assignments
from argoexec.controller.loop import control as ctl
from argoexec.controller.loop.local import RUN_FILE, LocalController, RunConfig, RunLock
from argoexec.controller.loop.seams import ConflictError, NotFoundError
from argoexec.controller.loop.state_store import DirectoryStore
from argoexec.controller.render import render_workflow
from argoexec.controller.state import StateError

Change = Callable[[dict[str, Any]], dict[str, Any]]
_ATTEMPTS = 10


def _root(args: argparse.Namespace, inv: Invocation) -> Path:
    return state_store(args, inv, mode="write").root


def change(store: DirectoryStore, name: str, how: Change) -> dict[str, Any]:
    """Apply `how` to the stored Workflow `name`; the stored result."""
    for _ in range(_ATTEMPTS):
        try:
            current = store.get(name)
        except NotFoundError:
            raise StateError(f"no workflow named {name!r} here") from None
        try:
            changed = how(current)
        except ctl.ControlError as exc:
            raise StateError(str(exc)) from None
        try:
            return store.update(changed)
        except ConflictError:
            continue
    raise StateError(f"workflow {name!r} kept changing; try again")


def driven(root: Path, name: str) -> bool:
    """Whether a live process drives the run (holds its lock)."""
    lock = RunLock(root / name)
    if lock.take():
        lock.release()
        return False
    return True


@contextmanager
def _interrupts(stop: threading.Event) -> Iterator[None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


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
    change(store, args.name, how)
    if driven(root, args.name):
        inv.stdout.write(f"workflow {args.name} {verb}\n")
        return 0
    inv.stdout.write(f"workflow {args.name} {verb}; no controller drives it: driving it here\n")
    return drive_to_end(root, args.name, inv)


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
    store = DirectoryStore(root)
    supplied = assignments(getattr(args, "parameter", None) or [])
    workflow = store.get(args.name)
    selector = ctl.node_selector(workflow, args.node) if args.node else None
    if supplied:
        targets = [selector] if selector else _suspended(workflow)
        if not targets:
            raise UsageError(
                f"workflow {args.name!r} has no suspended node to take -p "
                f"{', '.join(supplied)}; nothing was changed"
            )
        for target in targets:
            change(store, args.name, partial(ctl.set_node, node_field_selector=target,
                                             output_parameters=supplied))  # fmt: skip
    change(store, args.name, lambda wf: ctl.resume(wf, selector))
    hint = "" if driven(root, args.name) else " (no controller drives it: argoexec controller)"
    inv.stdout.write(f"workflow {args.name} resumed{hint}\n")
    return 0


def _suspended(workflow: dict[str, Any]) -> list[str]:
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    return [
        f"id={node['id']}"
        for node in nodes.values()
        if node.get("type") == "Suspend" and node.get("phase") == "Running"
    ]


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
    created = store.create(new)
    config = RunConfig.load(root / args.name)
    config.save(root / str(created["metadata"]["name"]))
    inv.stdout.write(f"workflow {created['metadata']['name']} submitted\n")
    return drive_to_end(root, str(created["metadata"]["name"]), inv)


def controller(args: argparse.Namespace, inv: Invocation) -> int:
    """`argoexec controller`: drive every unfinished run of the state directory nobody else
    drives (runs whose `argoexec run` died included); with `--exit-when-done`, until none is
    left unfinished."""
    root = _root(args, inv)
    local = LocalController(root)
    stop = threading.Event()
    with _interrupts(stop):
        local.drive(None, until_done=bool(args.exit_when_done), stopping=stop.is_set)
    return 0
