"""``argoexec list|get|logs|resume|stop``: look at and signal the runs of ``argoexec run``
(on a cluster: ``commands.cluster_workflows``, which shows Workflows with the helpers here).

Each reads the run's directory in the state directory (``--state-dir``, else
``config.controller_state_dir``); ``resume`` and ``stop`` leave a request there that the running
``argoexec run`` process picks up. A run whose process is gone is finished by ``stop`` itself
(``controller.orphan``).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argoexec.commands import Invocation, UsageError
from argoexec.commands.statedir import state_store
from argoexec.controller.listing import orphaned, read_run, stateless
from argoexec.controller.render import (
    find_nodes,
    list_row,
    pod_name_of,
    pod_nodes,
    render_workflow,
    stream_is_tty,
    table,
)
from argoexec.controller.runtime.volumes import PodDirs
from argoexec.controller.state import StateError


def list_workflows(args: argparse.Namespace, inv: Invocation) -> int:
    runs = [(run, read_run(run)) for run in state_store(args, inv).runs()]
    write_list(inv, [(wf, orphaned(run, wf)) for run, wf in runs], args.output)
    return 0


def write_list(
    inv: Invocation,
    workflows: list[tuple[dict[str, Any], bool]],
    output: str | None,
    *,
    namespaces: bool = False,
) -> None:
    """``argo list``: the workflows (each with whether it is orphaned) as a table, or JSON;
    ``namespaces`` adds the NAMESPACE column first, as ``argo list -A`` does."""
    if output == "json":
        inv.stdout.write(json.dumps([wf for wf, _ in workflows], indent=2) + "\n")
        return
    if not workflows:
        inv.stdout.write("No workflows found\n")
        return
    now = datetime.now(UTC)
    header = ["NAME", "STATUS", "AGE", "DURATION", "MESSAGE"]
    rows = []
    for wf, gone in workflows:
        row = list_row(wf, now, orphaned=gone)
        if output == "wide":
            status, spec = wf.get("status") or {}, wf.get("spec") or {}
            params = (spec.get("arguments") or {}).get("parameters") or []
            given = ",".join(f"{p.get('name')}={p['value']}" for p in params if "value" in p)
            row[-1:-1] = [str(status.get("progress") or ""), given]
        if namespaces:
            row.insert(0, str((wf.get("metadata") or {}).get("namespace") or ""))
        rows.append(row)
    if output == "wide":
        header[-1:-1] = ["PROGRESS", "PARAMETERS"]
    if namespaces:
        header.insert(0, "NAMESPACE")
    inv.stdout.write(table([header, *rows]))


def get(args: argparse.Namespace, inv: Invocation) -> int:
    run = state_store(args, inv).open(args.name)
    if args.output == "metrics":
        # The custom metrics the run emitted (metrics.prometheus), in the Prometheus format.
        inv.stdout.write(run.read_metrics())
        return 0
    workflow = run.read_workflow() if run.has_state() else stateless(run)
    write_workflow(inv, workflow, args.output)
    if orphaned(run, workflow):
        inv.stderr.write(
            f"note: the process that ran {args.name} (pid {run.owner_pid()}) is gone; "
            f"this is its last recorded state (`argoexec stop {args.name}` marks it Failed "
            "and removes what it left)\n"
        )
    return 0


def write_workflow(inv: Invocation, workflow: dict[str, Any], output: str | None) -> None:
    """``argo get``: the Workflow as JSON, YAML, its run graph (Graphviz DOT, or SVG drawn by
    ``dot``), or its header and node tree."""
    if output in ("dot", "svg"):
        # Imported here: only these outputs need graphviz.
        try:
            from argoexec.view.dot import to_dot, to_svg
            from argoexec.view.graph import workflow_graph
        except ImportError as exc:
            raise UsageError(
                f"get -o {output} needs the {exc.name or 'graphviz'} package, which is not "
                "installed: pip install 'argoexec[ui]'"
            ) from None

        source = to_dot(workflow_graph(workflow))
        inv.stdout.write(source if output == "dot" else to_svg(source))
    elif output == "json":
        inv.stdout.write(json.dumps(workflow, indent=2) + "\n")
    elif output == "yaml":
        import yaml

        inv.stdout.write(yaml.safe_dump(workflow, sort_keys=False, allow_unicode=True))
    else:
        inv.stdout.write(render_workflow(workflow, color=stream_is_tty(inv.stdout)))


def one_node(workflow: dict[str, Any], name: str, ref: str) -> dict[str, Any]:
    found = find_nodes(workflow, ref)
    if not found:
        raise StateError(f"workflow {name!r} has no node {ref!r} (give a node id, name or step)")
    if len(found) > 1:
        ids = ", ".join(f"{n.get('id')} ({n.get('name')})" for n in found)
        raise StateError(f"node {ref!r} of workflow {name!r} is ambiguous: use one of {ids}")
    return found[0]


def node_pod(workflow: dict[str, Any], name: str, ref: str) -> str:
    """The pod of the node `ref` names (`logs --node`); an error naming the nodes with pods."""
    node = one_node(workflow, name, ref)
    pod = pod_name_of(workflow, node)
    if pod is None:
        pods = ", ".join(str(n.get("displayName")) for n in pod_nodes(workflow)) or "none"
        raise StateError(
            f"node {ref!r} of workflow {name!r} is a {node.get('type')} node and "
            f"has no pod (nodes with pods: {pods})"
        )
    return pod


def log_prefix(node: dict[str, Any]) -> str:
    """What each log line of a node's pod starts with (`argo logs`: its display name)."""
    return f"{node.get('displayName') or node.get('name')}: "


def logs(args: argparse.Namespace, inv: Invocation) -> int:
    run = state_store(args, inv).open(args.name)
    workflow = run.read_workflow()
    if args.node:
        pod = node_pod(workflow, args.name, args.node)
        dirs = PodDirs(run.pods_dir / pod)
        path = dirs.log(args.container)
        if not path.is_file():
            have = sorted(p.stem for p in dirs.logs.glob("*.log")) or ["none"]
            raise StateError(
                f"no log of container {args.container!r} for node {args.node!r} (pod {pod}): "
                f"{path} does not exist (containers with logs: {', '.join(have)})"
            )
        inv.stdout.write(path.read_text(errors="replace"))
        return 0
    found: list[tuple[dict[str, Any], Path]] = []
    containers: set[str] = set()
    for node in pod_nodes(workflow):
        dirs = PodDirs(run.pods_dir / str(pod_name_of(workflow, node)))
        containers.update(p.stem for p in dirs.logs.glob("*.log"))
        if dirs.log(args.container).is_file():
            found.append((node, dirs.log(args.container)))
    if not found and containers:
        raise StateError(
            f"no pod of workflow {args.name!r} has a container {args.container!r} "
            f"(containers with logs: {', '.join(sorted(containers))})"
        )
    for node, path in found:
        prefix = log_prefix(node)
        for line in path.read_text(errors="replace").splitlines():
            inv.stdout.write(f"{prefix}{line}\n")
    return 0


def check_supplied(name: str, targets: list[dict[str, Any]], supplied: dict[str, str]) -> None:
    """Every `-p` name must be an output parameter each targeted suspended node expects
    (`valueFrom.supplied`, listed in its outputs while it waits), as `argo node set` checks."""
    if supplied and not targets:
        raise UsageError(
            f"workflow {name!r} has no suspended node to take -p {', '.join(supplied)}; "
            "nothing was changed"
        )
    for node in targets:
        declared = ((node.get("outputs") or {}).get("parameters")) or []
        expected = [
            str(p.get("name")) for p in declared if "supplied" in (p.get("valueFrom") or {})
        ]
        for key in supplied:
            if key not in expected:
                raise UsageError(
                    f"node is not expecting output parameter '{key}': suspended node "
                    f"{node.get('displayName')!r} of workflow {name!r} expects "
                    f"{', '.join(expected) or 'none'}; nothing was changed"
                )


def assignments(pairs: list[str]) -> dict[str, str]:
    """`-p NAME=VALUE` flags as a map (the value may hold `=`)."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"-p {pair!r}: expected NAME=VALUE")
        values[name] = value
    return values
