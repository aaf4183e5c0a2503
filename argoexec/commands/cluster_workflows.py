"""``argoexec list|get|logs|delete`` on a cluster: the Workflow resources of a namespace (``-n``,
else the kubeconfig context's), shown as the local commands show the runs of this machine.

Logs come from ``pods/log`` of the pod each node ran in (its name from ``status.nodes``, as
Argo names pods), the main container's unless ``-c`` says otherwise.
"""

from __future__ import annotations

import argparse
from typing import Any

from argoexec.commands import Invocation, UsageError
from argoexec.controller.cluster.pods import pods_path
from argoexec.controller.cluster.store import workflows_path
from argoexec.controller.render import pod_name_of, pod_nodes
from argoexec.kube.errors import KubeError, KubeNotFoundError

from .cluster_access import Workflows, workflows
from .cluster_follow import PodLogs, watch_workflow
from .workflows import log_prefix, node_pod, write_list, write_workflow


def _created(workflow: dict[str, Any]) -> str:
    return str((workflow.get("metadata") or {}).get("creationTimestamp") or "")


def list_workflows(args: argparse.Namespace, inv: Invocation) -> int:
    with workflows(args) as found:
        namespace = None if args.all_namespaces else found.namespace
        items = found.api.get(workflows_path(namespace)).get("items") or []
    # Newest first, as the local list (and `argo list`); then by namespace and name.
    items.sort(key=lambda wf: (wf.get("metadata") or {}).get("name") or "")
    items.sort(key=lambda wf: (wf.get("metadata") or {}).get("namespace") or "")
    items.sort(key=_created, reverse=True)
    write_list(inv, [(wf, False) for wf in items], args.output, namespaces=args.all_namespaces)
    return 0


def get(args: argparse.Namespace, inv: Invocation) -> int:
    if args.output == "metrics":
        raise UsageError(
            "get -o metrics: on a cluster the controller serves the workflows' metrics on its "
            "/metrics endpoint (--metrics-port)"
        )
    with workflows(args) as found:
        workflow = found.get(args.name)
    write_workflow(inv, workflow, args.output)
    return 0


def logs(args: argparse.Namespace, inv: Invocation) -> int:
    with workflows(args) as found:
        if args.follow:
            return _follow(found, args, inv)
        workflow = found.get(args.name)
        if args.node:
            pod = node_pod(workflow, args.name, args.node)
            inv.stdout.write(_log(found, pod, args.container, args.node, inv) or "")
            return 0
        for node in pod_nodes(workflow):
            pod = str(pod_name_of(workflow, node))
            text = _log(found, pod, args.container, str(node.get("id")), inv) or ""
            prefix = log_prefix(node)
            for line in text.splitlines():
                inv.stdout.write(f"{prefix}{line}\n")
    return 0


def _log(found: Workflows, pod: str, container: str, node: str, inv: Invocation) -> str | None:
    """The container's whole log; None, with a note, when the pod has none (gone, not started,
    no such container)."""
    query = [("container", container)]
    try:
        return b"".join(found.api.text(f"{pods_path(found.namespace, pod)}/log", query)).decode(
            errors="replace"
        )
    except KubeNotFoundError:
        inv.stderr.write(f"note: pod {pod} of node {node} is gone: no log\n")
    except KubeError as exc:
        if exc.status != 400:
            raise
        inv.stderr.write(f"note: no log of pod {pod} (node {node}): {exc}\n")
    return None


def _follow(found: Workflows, args: argparse.Namespace, inv: Invocation) -> int:
    """`logs -f`: every pod's log as it runs, until the workflow has finished."""
    followers = PodLogs(found.api, found.namespace, inv.stdout, args.container)
    found.get(args.name)  # not found: said the same way as without -f
    watch_workflow(found.api, found.namespace, args.name, followers.update)
    followers.close()
    return 0


def delete(args: argparse.Namespace, inv: Invocation) -> int:
    """`argo delete`: the Workflow is deleted; its pods and WorkflowTaskResults go with it
    (their owner references), as does a running workflow's work."""
    with workflows(args) as found:
        found.delete(args.name)
    inv.stdout.write(f"workflow {args.name} deleted\n")
    return 0
