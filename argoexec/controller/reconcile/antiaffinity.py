"""The hosts a retried pod must avoid (Argo's `scheduleOnDifferentHost`): when the node's
enclosing Retry node (its parent, or its boundary's parent: Argo's `FindRetryNode`) has a
`retryStrategy.affinity.nodeAntiAffinity`, the `hostNodeName` of every Failed or Errored Pod
node under that Retry node (Argo's `GetFailHosts`: depth first, the last child first, without
duplicates)."""

from __future__ import annotations

import re
from typing import Any

from . import nodes as n
from .context import Owner, Pass
from .errors import NodeError
from .nodes import Node
from .walk import resolve, retry_strategy

_ATTEMPT = re.compile(r"^(.*)\(\d+\)$")


def retry_fail_hosts(p: Pass, node: Node) -> list[str]:
    retry = _retry_parent(p, node)
    if retry is None and node.get("boundaryID") in p.nodes.map:
        retry = _retry_parent(p, p.nodes.get(node["boundaryID"]))
    if retry is None:
        return []
    strategy = _strategy(p, retry)
    if not strategy or (strategy.get("affinity") or {}).get("nodeAntiAffinity") is None:
        return []
    return _fail_hosts(p, retry)


def _retry_parent(p: Pass, node: Node) -> Node | None:
    """The Retry node `node` is an attempt of (attempts are named `<retry>(<n>)`)."""
    match = _ATTEMPT.match(str(node["name"]))
    parent = p.nodes.by_name(match.group(1)) if match else None
    if parent is None or parent["type"] != n.RETRY:
        return None
    return parent if node["id"] in (parent.get("children") or []) else None


def _strategy(p: Pass, retry: Node) -> dict[str, Any] | None:
    """The retryStrategy of the Retry node's template, resolved in its template scope."""
    scope = str(retry.get("templateScope") or "local/")
    call: dict[str, Any] = {"template": retry.get("templateName")}
    if retry.get("templateRef"):
        call = {"templateRef": retry["templateRef"]}
    elif scope != "local/":
        kind, _, owner = scope.partition("/")
        ref = {"name": owner, "template": retry.get("templateName")}
        call = {"templateRef": {**ref, "clusterScope": True} if kind == "cluster" else ref}
    local = Owner(p.name, {str(t.get("name")): t for t in p.spec.get("templates") or []})
    try:
        template = resolve(p, call, local)[0]
    except NodeError:
        return None
    return retry_strategy(p, template)


def _fail_hosts(p: Pass, retry: Node) -> list[str]:
    hosts: list[str] = []
    stack = [retry["id"]]
    while stack:
        node = p.nodes.map.get(stack.pop())
        if node is None:
            continue
        if node["type"] == n.POD and node["phase"] in (n.FAILED, n.ERROR):
            hosts.append(str(node.get("hostNodeName") or ""))
        stack.extend(node.get("children") or [])
    return list(dict.fromkeys(hosts))
