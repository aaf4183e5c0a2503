"""Lifecycle hooks other than `exit` (`hooks.<name>.expression`), pass by pass, as Argo's
executeWfLifeCycleHook / executeTmplLifeCycleHook: a hook runs once, the first pass its
expression is true, as node `<owner>.hooks.<name>`; its owner waits for it."""

from __future__ import annotations

from typing import Any

from tests.controller.reconcile_double import Cluster, nodes_by_name, phases, settle, step, workflow
from tests.controller.test_reconcile import T0

ECHO = {"name": "echo", "container": {"image": "alpine", "command": ["true"]}}
NOTE = {
    "name": "note",
    "inputs": {"parameters": [{"name": "m", "default": "-"}]},
    "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.m}}"]},
}


def _steps_spec(hooks: dict[str, Any]) -> dict[str, Any]:
    return {
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[{"name": "step-1", "template": "echo", "hooks": hooks}]]},
            ECHO,
            NOTE,
        ],
    }


def _node_id(wf: dict[str, Any], name: str) -> str:
    return str(nodes_by_name(wf)[name]["id"])


def test_a_step_hook_runs_once_when_its_step_is_running_and_the_group_waits_for_it() -> None:
    wf = workflow(
        _steps_spec(
            {"running": {"expression": 'steps["step-1"].status == "Running"', "template": "note"}}
        )
    )
    cluster = Cluster()
    step(wf, cluster, T0)  # the step's pod is created: Pending, the hook's expression is false
    assert "wf[0].step-1.hooks.running" not in phases(wf)
    step(wf, cluster, T0 + 1)  # the pod is observed running: the hook starts
    hook = nodes_by_name(wf)["wf[0].step-1.hooks.running"]
    assert hook["displayName"] == "step-1.hooks.running"
    assert hook["nodeFlag"] == {"hooked": True}
    assert hook["id"] in nodes_by_name(wf)["wf[0].step-1"]["children"]
    assert hook["boundaryID"] == _node_id(wf, "wf")
    cluster.end(_node_id(wf, "wf[0].step-1"))
    step(wf, cluster, T0 + 2)  # the step is over, its hook is not: the group waits
    assert phases(wf)["wf[0].step-1"] == "Succeeded"
    assert phases(wf)["wf[0]"] == "Running"
    assert wf["status"]["phase"] == "Running"
    cluster.end(hook["id"])
    settle(wf, cluster, T0 + 3)
    assert wf["status"]["phase"] == "Succeeded"
    hooks = [name for name in phases(wf) if ".hooks." in name]
    assert hooks == ["wf[0].step-1.hooks.running"]  # once, though later passes saw Running too


def test_a_step_hook_on_success_sees_the_step_outputs_in_its_arguments() -> None:
    hook = {
        "expression": "steps['step-1'].status == 'Succeeded'",
        "template": "note",
        "arguments": {"parameters": [{"name": "m", "value": "{{steps.step-1.outputs.result}}"}]},
    }
    wf = workflow(_steps_spec({"success": hook}))
    cluster = Cluster()
    step(wf, cluster, T0)
    step(wf, cluster, T0 + 1)
    assert "wf[0].step-1.hooks.success" not in phases(wf)
    cluster.end(_node_id(wf, "wf[0].step-1"), outputs={"result": "blue"})
    step(wf, cluster, T0 + 2)
    hook_node = nodes_by_name(wf)["wf[0].step-1.hooks.success"]
    assert hook_node["inputs"]["parameters"] == [{"name": "m", "default": "-", "value": "blue"}]
    cluster.end(hook_node["id"])
    settle(wf, cluster, T0 + 3)
    assert wf["status"]["phase"] == "Succeeded"


def test_a_hook_that_fails_leaves_its_step_and_the_workflow_as_they_were() -> None:
    wf = workflow(
        _steps_spec(
            {"done": {"expression": 'steps["step-1"].status == "Succeeded"', "template": "note"}}
        )
    )
    cluster = Cluster()
    step(wf, cluster, T0)
    cluster.end(_node_id(wf, "wf[0].step-1"))
    step(wf, cluster, T0 + 1)
    cluster.end(_node_id(wf, "wf[0].step-1.hooks.done"), 1)
    settle(wf, cluster, T0 + 2)
    assert phases(wf)["wf[0].step-1.hooks.done"] == "Failed"
    assert wf["status"]["phase"] == "Succeeded"


def test_a_hook_without_an_expression_errors_the_step_group_naming_the_hook() -> None:
    wf = workflow(_steps_spec({"running": {"template": "note"}}))
    cluster = Cluster()
    settle(wf, cluster, T0)
    cluster.end_all()
    settle(wf, cluster, T0 + 1)
    assert wf["status"]["phase"] == "Failed"  # Argo: an Error group fails its Steps node
    group = nodes_by_name(wf)["wf[0]"]
    assert group["phase"] == "Error"
    assert group["message"] == "Expression required for hook wf[0].step-1.hooks.running"


def test_a_hook_expression_that_cannot_be_evaluated_is_an_error_naming_it() -> None:
    wf = workflow(_steps_spec({"bad": {"expression": "steps.nope.status ==", "template": "note"}}))
    cluster = Cluster()
    settle(wf, cluster, T0)
    cluster.end_all()
    settle(wf, cluster, T0 + 1)
    message = nodes_by_name(wf)["wf[0]"]["message"]
    assert message.startswith("hook wf[0].step-1.hooks.bad: invalid expression"), message


def test_a_dag_task_hook_runs_and_dependents_wait_for_it() -> None:
    spec = {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {
                            "name": "a",
                            "template": "echo",
                            "hooks": {
                                "ok": {
                                    "expression": "tasks.a.status == 'Succeeded'",
                                    "template": "note",
                                }
                            },
                        },
                        {"name": "b", "template": "echo", "depends": "a"},
                    ]
                },
            },
            ECHO,
            NOTE,
        ],
    }
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    cluster.end(_node_id(wf, "wf.a"))
    step(wf, cluster, T0 + 1)
    hook = nodes_by_name(wf)["wf.a.hooks.ok"]
    assert hook["displayName"] == "a.hooks.ok"
    assert "wf.b" not in phases(wf)
    cluster.end(hook["id"])
    step(wf, cluster, T0 + 2)
    assert "wf.b" in phases(wf)
    # b hangs from a, not from a's hook
    assert _node_id(wf, "wf.b") in nodes_by_name(wf)["wf.a"]["children"]
    cluster.end_all()
    settle(wf, cluster, T0 + 3)
    assert wf["status"]["phase"] == "Succeeded"


def test_a_workflow_hook_runs_while_the_workflow_runs_and_completion_waits_for_it() -> None:
    spec = {
        "entrypoint": "main",
        "hooks": {
            "exit": {
                "template": "note",
                "arguments": {"parameters": [{"name": "m", "value": "bye"}]},
            },
            "running": {"expression": 'workflow.status == "Running"', "template": "note"},
        },
        "templates": [{"name": "main", "steps": [[{"name": "s", "template": "echo"}]]}, ECHO, NOTE],
    }
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    hook = nodes_by_name(wf)["wf.hooks.running"]  # the Steps node is Running at once
    assert hook["displayName"] == "wf.hooks.running"
    assert hook["id"] in nodes_by_name(wf)["wf"]["children"]
    assert "boundaryID" not in hook
    cluster.end(_node_id(wf, "wf[0].s"))
    step(wf, cluster, T0 + 1)
    assert phases(wf)["wf"] == "Succeeded"
    assert "wf.onExit" not in phases(wf)  # the exit handler waits for the running hook
    assert wf["status"]["phase"] == "Running"
    cluster.end(hook["id"])
    step(wf, cluster, T0 + 2)
    assert "wf.onExit" in phases(wf)
    cluster.end(_node_id(wf, "wf.onExit"))
    settle(wf, cluster, T0 + 3)
    assert wf["status"]["phase"] == "Succeeded"
    assert [name for name in phases(wf) if ".hooks." in name] == ["wf.hooks.running"]


def test_a_workflow_hook_on_failure_sees_the_workflow_failed() -> None:
    status = {"parameters": [{"name": "m", "value": "{{workflow.status}}"}]}
    hook = {"expression": "workflow.status == 'Failed'", "template": "note", "arguments": status}
    spec = {
        "entrypoint": "main",
        "hooks": {"failed": hook},
        "templates": [{"name": "main", "steps": [[{"name": "s", "template": "echo"}]]}, ECHO, NOTE],
    }
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    cluster.end(_node_id(wf, "wf[0].s"), 2)
    step(wf, cluster, T0 + 1)
    hook = nodes_by_name(wf)["wf.hooks.failed"]
    assert hook["inputs"]["parameters"][0]["value"] == "Failed"
    cluster.end(hook["id"])
    settle(wf, cluster, T0 + 2)
    assert wf["status"]["phase"] == "Failed"


def test_a_workflow_hook_with_a_bad_expression_errors_the_workflow() -> None:
    spec = {
        "entrypoint": "main",
        "hooks": {"oops": {"expression": "workflow.status ===", "template": "note"}},
        "templates": [{"name": "main", "steps": [[{"name": "s", "template": "echo"}]]}, ECHO, NOTE],
    }
    wf = workflow(spec)
    cluster = Cluster()
    settle(wf, cluster, T0)
    assert wf["status"]["phase"] == "Error"
    assert wf["status"]["message"].startswith("hook wf.hooks.oops: invalid expression")


def test_each_item_of_a_step_loop_runs_its_own_hooks() -> None:
    # As in Argo, an item sees itself as `steps['work(0:a)']` (its display name), not
    # `steps.work`: a hook of a loop step is usually unconditional.
    step_ = {
        "name": "work",
        "template": "echo",
        "withItems": ["a", "b"],
        "hooks": {"started": {"expression": "true", "template": "note"}},
    }
    spec = {
        "entrypoint": "main",
        "templates": [{"name": "main", "steps": [[step_]]}, ECHO, NOTE],
    }
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    hooks = [name for name in phases(wf) if ".hooks." in name]
    assert sorted(hooks) == ["wf[0].work(0:a).hooks.started", "wf[0].work(1:b).hooks.started"]
    for _ in range(3):
        cluster.end_all()
        settle(wf, cluster, T0 + 1)
    assert wf["status"]["phase"] == "Succeeded"
    assert sorted(name for name in phases(wf) if ".hooks." in name) == sorted(hooks)


def test_a_retried_steps_hook_sees_the_retry_nodes_phase_and_is_not_an_attempt() -> None:
    retried = {**ECHO, "name": "flaky", "retryStrategy": {"limit": 1}}
    hook = {"expression": "steps.s.status == 'Failed'", "template": "note"}
    spec = {
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[{"name": "s", "template": "flaky", "hooks": {"f": hook}}]]},
            retried,
            NOTE,
        ],
    }
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    cluster.end(_node_id(wf, "wf[0].s(0)"), 1)
    step(wf, cluster, T0 + 1)
    assert "wf[0].s.hooks.f" not in phases(wf)  # retried: the Retry node still runs
    cluster.end(_node_id(wf, "wf[0].s(1)"), 1)
    step(wf, cluster, T0 + 2)
    hook_node = nodes_by_name(wf)["wf[0].s.hooks.f"]
    retry = nodes_by_name(wf)["wf[0].s"]
    assert hook_node["id"] in retry["children"]
    cluster.end(hook_node["id"])
    settle(wf, cluster, T0 + 3)
    assert wf["status"]["phase"] == "Failed"
    assert [n for n in phases(wf) if n.startswith("wf[0].s(")] == ["wf[0].s(0)", "wf[0].s(1)"]
