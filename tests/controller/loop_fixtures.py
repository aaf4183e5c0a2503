"""Workflow status shapes for the control-transform tests, built from node names (ids are
Argo's `<wf>-<fnv32a(name)>`, as in Argo's own fixtures). Several are Argo's test fixtures
(`workflow/util/util_test.go`) reduced to the fields the transforms read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from argoexec.controller.pod.naming import node_id

NOW = 1_700_000_000.0
STAMP = "2023-11-14T22:13:20Z"  # NOW in Kubernetes' format
OLD = "2024-01-01T00:00:00Z"

S, F, E, R, SK, OM = "Succeeded", "Failed", "Error", "Running", "Skipped", "Omitted"


class Builder:
    """Nodes of workflow `wf` named relative to it ("" is the root, ".a" is `<wf>.a`)."""

    def __init__(self, wf: str) -> None:
        self.wf = wf
        self.nodes: dict[str, dict[str, Any]] = {}

    def id(self, rel: str) -> str:
        return node_id(self.wf, self.wf + rel)

    def add(
        self,
        rel: str,
        kind: str,
        phase: str,
        *,
        boundary: str | None = None,
        children: Iterable[str] = (),
        outbound: Iterable[str] = (),
        template: str = "main",
        **extra: Any,
    ) -> Builder:
        name = self.wf + rel
        node: dict[str, Any] = {
            "id": self.id(rel),
            "name": name,
            "displayName": extra.pop("displayName", rel.rsplit(".", 1)[-1] or name),
            "type": kind,
            "templateName": template,
            "phase": phase,
            "startedAt": OLD,
            "finishedAt": None if phase in (R, "Pending") else OLD,
        }
        if boundary is not None:
            node["boundaryID"] = self.id(boundary)
        if children:
            node["children"] = [self.id(c) for c in children]
        if outbound:
            node["outboundNodes"] = [self.id(c) for c in outbound]
        node.update(extra)
        self.nodes[node["id"]] = node
        return self

    def workflow(self, phase: str = F, **status: Any) -> dict[str, Any]:
        completed = phase in (S, F, E)
        labels = {"workflows.argoproj.io/phase": phase}
        if completed:
            labels["workflows.argoproj.io/completed"] = "true"
        return {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {
                "name": self.wf,
                "namespace": "argo",
                "labels": labels,
                "resourceVersion": "7",
            },
            "spec": {"entrypoint": "main", "activeDeadlineSeconds": 300},
            "status": {
                "phase": phase,
                "startedAt": OLD,
                "finishedAt": OLD if completed else None,
                **({"message": "child failed"} if phase in (F, E) else {}),
                "conditions": [
                    {"type": "PodRunning", "status": "False"},
                    {"type": "Completed", "status": "True" if completed else "False"},
                ],
                "nodes": self.nodes,
                **status,
            },
        }


def nested_dags_with_suspend_nodes() -> Builder:
    """Argo's `retryWorkflowWithNestedDAGsWithSuspendNodes`: an outer DAG whose middle DAGs
    join at `dag1-step4`, then a failing pod."""
    b = Builder("fail-two-nested-dag-suspend")
    m1, m2 = ".dag1-step3-middle1", ".dag1-step3-middle2"
    m1b2, m2b1 = m1 + ".dag2-branch1-step2", m2 + ".dag2-branch2-step1"
    pod, suspend = "Pod", "Suspend"
    b.add("", "DAG", F, children=[".dag1-step1"], outbound=[".dag1-step5-tofail"])
    b.add(".dag1-step1", pod, S, boundary="", children=[".dag1-step2"], template="gen")
    b.add(".dag1-step2", suspend, S, boundary="", children=[m1, m2], template="approve")
    b.add(m1, "DAG", S, boundary="", children=[m1 + ".dag2-branch1-step1"])
    b.add(m1 + ".dag2-branch1-step1", suspend, S, boundary=m1, children=[m1b2])
    b.add(m1b2, "DAG", S, boundary=m1, children=[m1b2 + ".dag3-step1"])
    b.add(m1b2 + ".dag3-step1", suspend, S, boundary=m1b2, children=[m1b2 + ".dag3-step2"])
    b.add(m1b2 + ".dag3-step2", pod, S, boundary=m1b2, children=[m1b2 + ".dag3-step3"])
    b.add(m1b2 + ".dag3-step3", pod, S, boundary=m1b2, children=[".dag1-step4"])
    b.add(m2, "DAG", S, boundary="", children=[m2b1])
    b.add(m2b1, "DAG", S, boundary=m2, children=[m2b1 + ".dag3-step1"])
    b.add(m2b1 + ".dag3-step1", suspend, S, boundary=m2b1, children=[m2b1 + ".dag3-step2"])
    b.add(m2b1 + ".dag3-step2", pod, S, boundary=m2b1, children=[m2b1 + ".dag3-step3"])
    b.add(m2b1 + ".dag3-step3", pod, S, boundary=m2b1, children=[m2 + ".dag2-branch2-step2"])
    b.add(m2 + ".dag2-branch2-step2", suspend, S, boundary=m2, children=[".dag1-step4"])
    b.add(".dag1-step4", suspend, S, boundary="", children=[".dag1-step5-tofail"])
    b.add(".dag1-step5-tofail", pod, F, boundary="", template="node-to-fail")
    return b


def steps_with_a_failed_step() -> Builder:
    """Argo's `deepDeleteOfNodes`: `[0].pass` succeeded, `[1].fail` failed."""
    b = Builder("steps-9fkqc")
    b.add("", "Steps", F, children=["[0]"], outbound=["[1].fail"], template="foo")
    b.add("[0]", "StepGroup", S, boundary="", children=["[0].pass"], displayName="[0]")
    b.add("[0].pass", "Pod", S, boundary="", children=["[1]"], template="pass")
    b.add("[1]", "StepGroup", F, boundary="", children=["[1].fail"], displayName="[1]")
    b.add("[1].fail", "Pod", F, boundary="", template="fail", message="exit code 1")
    return b


def steps_hello() -> Builder:
    """Argo's `stepsRetryFormulate`: a succeeded two-group steps workflow."""
    b = Builder("steps-4k5vn")
    b.add("", "Steps", S, children=["[0]"], outbound=["[1].hello2a", "[1].hello2b"])
    b.add("[0]", "StepGroup", S, boundary="", children=["[0].hello1"], nodeFlag={})
    b.add("[0].hello1", "Pod", S, boundary="", children=["[1]"], template="whalesay")
    b.add("[1]", "StepGroup", S, boundary="", children=["[1].hello2a", "[1].hello2b"])
    b.add("[1].hello2a", "Pod", S, boundary="", template="whalesay")
    b.add("[1].hello2b", "Pod", S, boundary="", template="whalesay")
    return b


def dag_diamond(b_phase: str = S, d_phase: str = S) -> Builder:
    """Argo's `dagDiamondRetry` (A; B and C after A; D after both)."""
    b = Builder("dag-diamond-82q7s")
    d_kind = "Skipped" if d_phase == OM else "Pod"
    b.add("", "DAG", S if b_phase == S else F, children=[".A"], outbound=[".D"])
    b.add(".A", "Pod", S, boundary="", children=[".B", ".C"], template="echo")
    b.add(".B", "Pod", b_phase, boundary="", children=[".D"], template="echo")
    b.add(".C", "Pod", S, boundary="", children=[".D"], template="echo")
    b.add(".D", d_kind, d_phase, boundary="", template="echo")
    return b


def work_avoidance_with_exit_handler() -> Builder:
    """Argo's `onExitWorkflowRetry`: a loop in steps, and a workflow exit handler."""
    b = Builder("work-avoidance-trkkq")
    items = ["[1].echo(0:0)", "[1].echo(1:1)", "[1].echo(2:2)"]
    b.add("", "Steps", S, children=["[0]"], outbound=items)
    b.add("[0]", "StepGroup", S, boundary="", children=["[0].load-markers"])
    b.add("[0].load-markers", "Pod", S, boundary="", children=["[1]"], template="load-markers")
    b.add("[1]", "StepGroup", S, boundary="", children=items)
    for item in items:
        b.add(item, "Pod", S, boundary="", template="echo")
    b.add(".onExit", "Pod", S, template="save-markers", nodeFlag={"hooked": True})
    return b


def failed_exit_handler() -> Builder:
    """Argo's `onExitWorkflow`: the entry pod succeeded, the exit handler failed."""
    b = Builder("retry-workflow-with-failed-exit-handler")
    b.add("", "Pod", S, template="hello")
    b.add(".onExit", "Pod", F, template="exit-handler", nodeFlag={"hooked": True})
    return b


def exit_handler_steps() -> Builder:
    """Argo's `onExitPanic`: a failed entry pod and a steps exit handler."""
    b = Builder("exit-handlers-n7s4n")
    group, kids = ".onExit[0]", [".onExit[0].notify", ".onExit[0].celebrate", ".onExit[0].cry"]
    b.add("", "Pod", F, template="intentional-fail")
    b.add(".onExit", "Steps", S, children=[group], outbound=kids, template="exit-handler")
    b.add(group, "StepGroup", S, boundary=".onExit", children=kids)
    b.add(kids[0], "Pod", S, boundary=".onExit", template="send-email")
    b.add(kids[1], "Skipped", SK, boundary=".onExit", template="celebrate")
    b.add(kids[2], "Pod", S, boundary=".onExit", template="cry")
    return b


def retried_step(last_attempt: str = F) -> Builder:
    """Steps whose step `flaky` has a retryStrategy: a Retry node and its attempts."""
    b = Builder("retry-steps")
    attempts = ["[0].flaky(0)", "[0].flaky(1)"]
    retry_phase = F if last_attempt == F else S
    b.add("", "Steps", F, children=["[0]"], outbound=[attempts[-1]])
    b.add("[0]", "StepGroup", F, boundary="", children=["[0].flaky", "[0].other"])
    b.add("[0].flaky", "Retry", retry_phase, boundary="", children=attempts, template="flaky",
          message="No more retries left")  # fmt: skip
    b.add(attempts[0], "Pod", F, boundary="", template="flaky", nodeFlag={"retried": True})
    b.add(attempts[1], "Pod", last_attempt, boundary="", template="flaky",
          nodeFlag={"retried": True})  # fmt: skip
    b.add("[0].other", "Pod", F, boundary="", template="other")
    return b


def dag_loop() -> Builder:
    """A DAG task over items (a TaskGroup): item a succeeded, item b failed."""
    b = Builder("dag-loop")
    items = [".proc(0:a)", ".proc(1:b)"]
    b.add("", "DAG", F, children=[".proc"], outbound=items)
    b.add(".proc", "TaskGroup", F, boundary="", children=items)
    b.add(items[0], "Pod", S, boundary="", template="proc")
    b.add(items[1], "Pod", F, boundary="", template="proc")
    return b


def step_with_exit_hook(hook_phase: str) -> Builder:
    """A failed step with its own exit handler (`<step>.onExit`, a child of the step)."""
    b = Builder("step-hook")
    b.add("", "Steps", F, children=["[0]"], outbound=["[0].a"])
    b.add("[0]", "StepGroup", F, boundary="", children=["[0].a"])
    b.add("[0].a", "Pod", F, boundary="", children=["[0].a.onExit"], template="a")
    b.add("[0].a.onExit", "Pod", hook_phase, boundary="", template="notify")
    return b


def container_set() -> Builder:
    """A containerSet step: a Pod node with one Container node per container."""
    b = Builder("ctr-set")
    b.add("", "Steps", F, children=["[0]"], outbound=["[0].pod.a", "[0].pod.b"])
    b.add("[0]", "StepGroup", F, boundary="", children=["[0].pod"])
    b.add("[0].pod", "Pod", F, boundary="", children=["[0].pod.a", "[0].pod.b"], template="cs")
    b.add("[0].pod.a", "Container", S, boundary="", template="cs")
    b.add("[0].pod.b", "Container", F, boundary="", template="cs")
    return b


def suspended(wf: str = "suspend-template") -> Builder:
    """Argo's `susWorkflow`: steps waiting on `approve`, which expects supplied outputs."""
    b = Builder(wf)
    b.add("", "Steps", R, children=["[0]"], template="suspend")
    b.add("[0]", "StepGroup", R, boundary="", children=["[0].approve"])
    b.add("[0].approve", "Suspend", R, boundary="", template="approve", displayName="approve",
          outputs={"parameters": [
              {"name": "message", "valueFrom": {"supplied": {}}},
              {"name": "message2", "globalName": "message-global-param",
               "valueFrom": {"supplied": {}}},
          ]})  # fmt: skip
    return b
