"""Pod and node names (argo-contract.md §1.1) and Go-style duration strings."""

from __future__ import annotations

import re
from typing import Literal

PodNameVersion = Literal["v1", "v2"]

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193
# Kubernetes names are at most 253 chars; Argo keeps 10 for the hash and one for the dash.
_MAX_PREFIX = 253 - 10 - 1


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


_UNITS = (("h", 3600 * 10**9), ("m", 60 * 10**9))


def _fraction(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    digits = f"{rest:0{len(str(unit)) - 1}d}".rstrip("0")
    return f"{whole}.{digits}"


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String`` (``1m0s``, ``3s``, ``1.5s``, ``500ms``, ``0s``)."""
    nanos = round(seconds * 10**9)
    if nanos == 0:
        return "0s"
    sign, nanos = ("-", -nanos) if nanos < 0 else ("", nanos)
    if nanos < 10**9:
        for suffix, unit in (("ms", 10**6), ("µs", 10**3), ("ns", 1)):
            if nanos >= unit:
                return f"{sign}{_fraction(nanos, unit)}{suffix}"
    text = ""
    for suffix, unit in _UNITS:
        if nanos >= unit or text:
            count, nanos = divmod(nanos, unit)
            text += f"{count}{suffix}"
    return f"{sign}{text}{_fraction(nanos, 10**9)}s"


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_go_duration(text: str) -> float:
    """Go's ``time.ParseDuration`` (seconds); a bare ``0`` is allowed."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    if body == "0":
        return 0.0
    parts = _DURATION_PART.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        raise ValueError(f"invalid duration {text!r}")
    return sign * sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
