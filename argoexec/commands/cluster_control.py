"""``argoexec stop|terminate|suspend|resume|retry|resubmit`` on a cluster: the same changes to
the Workflow as on this machine (`controller.loop.control`, written back with optimistic
concurrency), made to the Workflow resource. The cluster's controller carries them out: these
commands never drive a workflow.
"""

from __future__ import annotations

import argparse
from typing import Any

from argoexec.commands import Invocation
from argoexec.controller.cluster.pods import pods_path
from argoexec.controller.loop import control as ctl
from argoexec.controller.state import StateError
from argoexec.kube.errors import KubeNotFoundError

from .cluster_access import Workflows, workflows
from .control import Change, change, resume_nodes
from .workflows import assignments


def _change(args: argparse.Namespace, inv: Invocation, how: Change, verb: str) -> int:
    with workflows(args) as found:
        change(found, args.name, how, found.missing)
    inv.stdout.write(f"workflow {args.name} {verb}\n")
    return 0


def stop(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo stop`: `spec.shutdown: Stop` (running pods end, exit handlers run)."""
    return _change(args, inv, lambda wf: ctl.stop(wf, message=args.message), "stopped")


def terminate(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo terminate`: `spec.shutdown: Terminate` (exit handlers do not run)."""
    return _change(args, inv, ctl.terminate, "terminated")


def suspend(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo suspend`: `spec.suspend: true` (nothing new starts; running pods go on)."""
    return _change(args, inv, ctl.suspend, "suspended")


def resume(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo resume` (with `-p`, `argo node set` first), as on this machine."""
    with workflows(args) as found:
        resume_nodes(found, args, found.missing)
    inv.stdout.write(f"workflow {args.name} resumed\n")
    return 0


def retry(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo retry`: the failed and errored nodes reset, their pods deleted (as Argo's server
    does, before the Workflow is written back: the controller must not see the old pods of
    reset nodes); the controller runs them again."""
    parameters = assignments(getattr(args, "parameter", None) or [])
    with workflows(args) as found:
        try:
            planned = ctl.retry(found.get(args.name), parameters=parameters)
        except ctl.ControlError as exc:
            raise StateError(str(exc)) from None
        _delete_pods(found, planned.pods_to_delete)
        retried: list[str] = []

        def how(workflow: dict[str, Any]) -> dict[str, Any]:
            result = ctl.retry(workflow, parameters=parameters)
            retried[:] = list(result.pods_to_delete)
            return result.workflow

        change(found, args.name, how, found.missing)
        _delete_pods(found, [pod for pod in retried if pod not in planned.pods_to_delete])
    inv.stdout.write(f"workflow {args.name} retried\n")
    return 0


def _delete_pods(found: Workflows, pods: list[str]) -> None:
    for pod in pods:
        try:
            found.api.delete(pods_path(found.namespace, pod))
        except KubeNotFoundError:
            continue  # gone already (pod GC)


def resubmit(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo resubmit`: a new Workflow of the same spec and arguments, named by the API server
    from `generateName`; the controller runs it."""
    parameters = assignments(getattr(args, "parameter", None) or [])
    with workflows(args) as found:
        old = found.get(args.name)
        new = ctl.resubmit(old, "", parameters=parameters)
        new["metadata"].pop("name", None)
        created = found.create(new)
    inv.stdout.write(f"workflow {created['metadata']['name']} submitted\n")
    return 0
