"""Pod and node names (argo-contract.md §1.1) and Go-style duration strings."""

from __future__ import annotations

import functools
from typing import Literal

PodNameVersion = Literal["v1", "v2"]

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193
# Kubernetes names are at most 253 chars; Argo keeps 10 for the hash and one for the dash.
_MAX_PREFIX = 253 - 10 - 1


@functools.lru_cache(maxsize=65536)  # the reconciler looks nodes up by name on every pass
def fnv32a(data: str) -> int:
    """32-bit FNV-1a of the UTF-8 bytes (Go's ``hash/fnv.New32a``)."""
    value = _FNV32_OFFSET
    for byte in data.encode():
        value = ((value ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return value


def node_id(workflow_name: str, node_name: str) -> str:
    """Argo's ``Workflow.NodeID``: the workflow name for the root node, else ``<wf>-<fnv>``."""
    if node_name == workflow_name:
        return workflow_name
    return f"{workflow_name}-{fnv32a(node_name)}"


def pod_name(
    workflow_name: str,
    node_name: str,
    template_name: str,
    node_id_: str,
    version: PodNameVersion = "v2",
) -> str:
    """Argo's ``GeneratePodName``: v1 is the node ID; v2 is ``<wf>-<template>-<fnv(node)>``
    (``<wf>-<fnv>`` for inline templates), the prefix cut to 242 characters."""
    if version == "v1":
        return node_id_
    if workflow_name == node_name:
        return workflow_name
    prefix = workflow_name
    if ".inline" not in node_name:
        prefix = f"{workflow_name}-{template_name}"
    return f"{prefix[:_MAX_PREFIX]}-{fnv32a(node_name)}"
