"""Daemon templates (`daemon: true`), as Argo's operator runs them.

- A daemon's pod node becomes *daemoned* once its pod is Running and every container of it is
  ready (its readiness probes passed): the node stays Running, with `daemoned: true` and the
  pod's address as `podIP`, and counts as fulfilled and successful for its step group or DAG
  (`depends` sees `.Daemoned`), so the steps after it start while it serves.
- A daemon that ends before it is ready fails its step as any pod does (`pod.advance_pod`).
- Each pass, daemoned nodes follow their pods (Argo's podReconciliation): a daemon pod that
  ends on its own makes the node Failed (a daemon should run until its scope ends; one that
  exits 0 too), a deleted one an Error.
- When the steps or DAG node that encloses a daemon (its boundary) is over, and when the
  workflow is over, the daemon's containers are asked to end (SIGTERM, Argo's
  TerminateContainers) and its node Succeeds, no longer daemoned (Argo's
  killDaemonedChildren).
"""

from __future__ import annotations

import signal

from argoexec.contract import WAIT_CONTAINER
from argoexec.controller.loop.seams import PodObservation
from argoexec.controller.runtime import status as st

from . import nodes as n
from .actions import SignalContainer
from .context import Pass
from .nodes import Node
from .podphase import assess

POD_DELETED = "pod deleted"


def ready(observed: PodObservation) -> bool:
    """The pod runs and every container of it is ready (what Argo waits for)."""
    status = observed.status
    return status.phase == st.RUNNING and all(c.ready for c in status.containers)


def become_daemoned(p: Pass, node: Node, observed: PodObservation, host: str) -> None:
    """`host`: the node the pod runs on (its `spec.nodeName` on a cluster)."""
    p.nodes.set(node, phase=n.RUNNING, message=None, daemoned=True,
                podIP=observed.status.pod_ip or None, hostNodeName=host)  # fmt: skip


def follow(p: Pass) -> None:
    """Daemoned nodes follow their pods, and those whose scope is over are stopped."""
    for node in list(p.nodes):
        if not n.daemoned(node) or n.final(node):
            continue
        observed = p.pods.get(node["id"])
        boundary = node.get("boundaryID")
        scope = p.nodes.map.get(boundary) if boundary else None
        if observed is None:
            _end(p, node, n.ERROR, POD_DELETED)
        elif observed.status.phase in (st.SUCCEEDED, st.FAILED):
            _ended(p, node, observed)
        elif scope is not None and n.final(scope):
            stop(p, node, observed)
        elif observed.status.pod_ip and observed.status.pod_ip != node.get("podIP"):
            p.nodes.set(node, podIP=observed.status.pod_ip)


def stop_all(p: Pass) -> None:
    """The workflow is over: every daemon still serving is stopped."""
    for node in list(p.nodes):
        if n.daemoned(node) and not n.final(node):
            observed = p.pods.get(node["id"])
            if observed is None:
                _end(p, node, n.SUCCEEDED, "")
            else:
                stop(p, node, observed)


def stop(p: Pass, node: Node, observed: PodObservation) -> None:
    """Argo's killDaemonedChildren for one node: its containers (but `wait`, which ends once
    the main ones have) get SIGTERM; the node Succeeds."""
    for container in observed.status.containers:
        if container.running and container.name != WAIT_CONTAINER:
            p.actions.append(SignalContainer(observed.pod_name, container.name, signal.SIGTERM))
    _end(p, node, n.SUCCEEDED, "")


def _ended(p: Pass, node: Node, observed: PodObservation) -> None:
    """The daemon's pod ended on its own while it served: Argo's assessNodeStatus makes a
    daemon whose pod succeeded Failed (daemons should run until stopped)."""
    if observed.status.phase == st.SUCCEEDED:
        _end(p, node, n.FAILED, "")
        return
    mains = [c.name for c in observed.status.containers if c.name != WAIT_CONTAINER][:1]
    phase, message = assess(observed.status, mains)
    _end(p, node, n.FAILED if phase == n.SUCCEEDED else phase, message)


def _end(p: Pass, node: Node, phase: str, message: str) -> None:
    node.pop("daemoned", None)
    p.nodes.finish(node, phase, message, now=p.now)
