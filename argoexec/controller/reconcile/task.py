"""Agent kinds (`http`): a node of type HTTP with no pod of its own. As Argo's
executeHTTPTemplate, the node's template (substituted) is handed to the agent (`RunTask`: on a
cluster the workflow's `WorkflowTaskSet`, `spec.tasks[nodeID]`); the agent reports a NodeResult
(phase, message, outputs.result), which becomes the node's (Argo's reconcileTaskSet).

Each pass, from what is observed of the node's task (by node id):
- no result yet: ask for the task again (asking is idempotent: a controller that died after
  asking asks again, and the task runs once per backend) and look again shortly;
- a result: the node takes its phase, message and outputs; global outputs are exported;
- the workflow stops (shutdown, deadline) before a result: the node fails with the reason,
  and a result that comes later is not taken.
"""

from __future__ import annotations

from . import nodes as n
from .actions import RunTask
from .context import Pass, Run, Visit
from .outputs import export_globals
from .walk import substituted

# How soon a pass looks again for the result of a task in flight.
POLL_SECONDS = 0.25


def advance_task(p: Pass, run: Run) -> Visit:
    node = run.node
    observed = p.tasks.get(node["id"])
    if observed is not None and observed.phase in n.COMPLETED_PHASES:
        outputs = dict(observed.outputs or {})
        if observed.phase == n.SUCCEEDED:
            export_globals(p, run.template, outputs)
        fields = {"outputs": outputs} if outputs else {}
        p.nodes.finish(node, observed.phase, observed.message, now=p.now, **fields)
        return Visit(node)
    reason = p.halted(run.frame)
    if reason is not None:
        p.nodes.finish(node, n.FAILED, reason, now=p.now)
        return Visit(node)
    if node["id"] not in p.nodes.map:
        return Visit(node)  # a node of a suspended workflow, not kept: nothing starts
    p.actions.append(RunTask(node["id"], substituted(run)))
    if observed is not None and node["phase"] == n.PENDING:
        p.nodes.set(node, phase=n.RUNNING, message=observed.message or None)
    p.wake(p.now + POLL_SECONDS)
    return Visit(node)
