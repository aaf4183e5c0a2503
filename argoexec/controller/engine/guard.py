"""The last line of defence of a run: an exception no code path expected (a bug of the engine)
makes the node it happened in an Error, and the run goes on by Argo's rules for an errored node,
instead of ending the controller. Expected failures (bad expressions, references, loops) are
handled where they happen, with messages naming the place; this one names only the bug."""

from __future__ import annotations

import logging

from . import nodes as n
from .context import RunState
from .nodes import Node

log = logging.getLogger("argoexec.controller.engine")


def internal_error(
    run: RunState,
    exc: Exception,
    *,
    name: str,
    display: str,
    parent: Node | None,
    boundary_id: str | None,
) -> Node:
    """Node `name` (created if it does not exist yet) as an Error for `exc`, and the nodes it
    left unfinished in its boundary; the traceback is logged at debug level only."""
    kind = type(exc).__name__
    log.error("node %s: internal error (%s)", name, kind)
    log.debug("node %s: internal error", name, exc_info=exc)
    message = (
        f"the controller failed on this node: internal error ({kind}), a bug of argoexec "
        "(--loglevel debug shows where)"
    )
    node = run.tree.by_name(name)
    if node is None:
        node = run.tree.add(name, display, n.POD, parent=parent, boundary_id=boundary_id)
    if node.fulfilled:  # it had finished (the failure came after, e.g. in its exit hook)
        return node
    run.tree.close_open(n.ERROR, message, boundary_id=node.id)
    return run.tree.refuse(node, message)
