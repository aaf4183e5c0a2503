"""CLI/API actions as changes to the Workflow (argoexec.controller.loop.control): each against
what Argo's workflow/util/util.go does to the same status, including the cases of Argo's own
tests (util_test.go), and refusals with their messages."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller.loop import control, fieldselector
from argoexec.controller.loop.control import ControlError
from argoexec.controller.loop.seams import ConflictError
from argoexec.controller.loop.state_store import DirectoryStore
from tests.controller import loop_fixtures as fx
from tests.controller.loop_fixtures import NOW, OLD, SK, STAMP, Builder, E, F, R, S

COMPLETED = "workflows.argoproj.io/completed"


def phases(wf: dict[str, Any], b: Builder) -> dict[str, str]:
    """Node phases by name relative to the workflow ("" for the root)."""
    return {n["name"][len(b.wf) :]: n["phase"] for n in wf["status"].get("nodes", {}).values()}


def node(wf: dict[str, Any], b: Builder, rel: str) -> dict[str, Any]:
    nodes: dict[str, dict[str, Any]] = wf["status"]["nodes"]
    return nodes[b.id(rel)]


# --- retry: which nodes are kept, reset, deleted -------------------------------------------

NESTED = ".dag1-step3-middle1"
NESTED_ALL = {
    NESTED: S,
    NESTED + ".dag2-branch1-step1": S,
    NESTED + ".dag2-branch1-step2": S,
    NESTED + ".dag2-branch1-step2.dag3-step1": S,
    NESTED + ".dag2-branch1-step2.dag3-step2": S,
    NESTED + ".dag2-branch1-step2.dag3-step3": S,
}
M2 = ".dag1-step3-middle2"
M2B1 = M2 + ".dag2-branch2-step1"


@pytest.mark.parametrize(
    ("selected", "expected", "pods"),
    [
        # Argo's TestRetryWorkflowWithNestedDAGsWithSuspendNodes, every case; the phases of
        # all remaining nodes (Argo's test checks some), the pod count as Argo's.
        (".dag1-step1", {"": R}, 6),
        (".dag1-step2", {"": R, ".dag1-step1": S}, 5),
        (M2, {"": R, ".dag1-step1": S, ".dag1-step2": S, **NESTED_ALL}, 3),
        (M2B1, {"": R, ".dag1-step1": S, ".dag1-step2": S, **NESTED_ALL, M2: R}, 3),
        (
            M2B1 + ".dag3-step1",
            {"": R, ".dag1-step1": S, ".dag1-step2": S, **NESTED_ALL, M2: R, M2B1: R},
            3,
        ),
        (
            M2B1 + ".dag3-step2",
            {"": R, ".dag1-step1": S, ".dag1-step2": S, **NESTED_ALL, M2: R, M2B1: R,
             M2B1 + ".dag3-step1": S},
            3,
        ),
        (
            M2B1 + ".dag3-step3",
            {"": R, ".dag1-step1": S, ".dag1-step2": S, **NESTED_ALL, M2: R, M2B1: R,
             M2B1 + ".dag3-step1": S, M2B1 + ".dag3-step2": S},
            2,
        ),
        (
            M2 + ".dag2-branch2-step2",
            {"": R, ".dag1-step1": S, ".dag1-step2": S, **NESTED_ALL, M2: R, M2B1: R,
             M2B1 + ".dag3-step1": S, M2B1 + ".dag3-step2": S, M2B1 + ".dag3-step3": S},
            1,
        ),
        # The join: its parent (of two, the greatest id) leads up through middle2's DAGs.
        (
            ".dag1-step4",
            {"": R, ".dag1-step1": S, ".dag1-step2": S, **NESTED_ALL, M2: R, M2B1: R,
             M2B1 + ".dag3-step1": S, M2B1 + ".dag3-step2": S, M2B1 + ".dag3-step3": S,
             M2 + ".dag2-branch2-step2": S},
            1,
        ),
        (
            ".dag1-step5-tofail",
            {"": R, ".dag1-step1": S, ".dag1-step2": S, **NESTED_ALL, M2: R, M2B1: R,
             M2B1 + ".dag3-step1": S, M2B1 + ".dag3-step2": S, M2B1 + ".dag3-step3": S,
             M2 + ".dag2-branch2-step2": S, ".dag1-step4": S},
            1,
        ),
    ],
)  # fmt: skip
def test_retry_of_nested_dags_redoes_the_selected_node_and_what_follows(
    selected: str, expected: dict[str, str], pods: int
) -> None:
    b = fx.nested_dags_with_suspend_nodes()
    new, to_delete = control.retry(
        b.workflow(),
        restart_successful=True,
        node_field_selector=f"name={b.wf}{selected}",
        now=NOW,
    )
    assert phases(new, b) == expected
    assert len(to_delete) == pods


def test_retry_of_steps_deletes_the_failed_step_and_reruns_its_group() -> None:
    b = fx.steps_with_a_failed_step()
    wf = b.workflow()
    before = copy.deepcopy(wf)
    new, pods = control.retry(wf, now=NOW)
    assert wf == before  # not changed in place
    assert phases(new, b) == {"": R, "[0]": S, "[0].pass": S, "[1]": R}
    assert pods == [f"{b.wf}-fail-{b.id('[1].fail').rsplit('-', 1)[1]}"]
    # A reset node: running again since now, no message, edges to deleted nodes gone.
    assert node(new, b, "[1]") == {
        "id": b.id("[1]"),
        "name": f"{b.wf}[1]",
        "displayName": "[1]",
        "type": "StepGroup",
        "templateName": "main",
        "phase": R,
        "startedAt": STAMP,
        "finishedAt": None,
        "boundaryID": b.wf,
    }
    assert "outboundNodes" not in node(new, b, "")
    assert node(new, b, "[0].pass") == before["status"]["nodes"][b.id("[0].pass")]


def test_retry_resets_the_workflow_as_argo_does() -> None:
    b = fx.steps_with_a_failed_step()
    wf = b.workflow(persistentVolumeClaims=[{"name": "work"}])
    wf["spec"].update(shutdown="Stop", activeDeadlineSeconds=0)
    wf["status"]["storedWorkflowTemplateSpec"] = {"shutdown": "Stop"}
    wf["metadata"]["labels"]["workflows.argoproj.io/workflow-archiving-status"] = "Pending"
    new, _ = control.retry(wf, now=NOW)
    assert new["metadata"]["labels"] == {"workflows.argoproj.io/phase": F}
    assert new["spec"] == {"entrypoint": "main"}
    status = new["status"]
    assert "phase" not in status and "message" not in status
    assert "persistentVolumeClaims" not in status
    assert (status["startedAt"], status["finishedAt"]) == (STAMP, None)
    assert status["conditions"] == [
        {"type": "PodRunning", "status": "False"},
        {"type": "Completed", "status": "False"},
    ]
    assert status["storedWorkflowTemplateSpec"] == {}


def test_retry_keeps_an_active_deadline_that_is_not_zero() -> None:
    wf = fx.steps_with_a_failed_step().workflow()
    assert control.retry(wf, now=NOW).workflow["spec"]["activeDeadlineSeconds"] == 300


def test_retry_of_a_dag_keeps_succeeded_siblings_and_drops_omitted_followers() -> None:
    b = fx.dag_diamond(b_phase=F, d_phase=fx.OM)
    new, pods = control.retry(b.workflow(), now=NOW)
    assert phases(new, b) == {"": R, ".A": S, ".C": S}
    assert pods == [f"{b.wf}-echo-{b.id('.B').rsplit('-', 1)[1]}"]  # D never had a pod
    assert "children" not in node(new, b, ".C")


@pytest.mark.parametrize(
    ("builder", "selector", "expected", "pods"),
    [
        # Argo's TestStepsRetryWorkflow: the group of the selected step and the root rerun.
        (fx.steps_hello, "id=steps-4k5vn-2627784879",
         {"": R, "[0]": S, "[0].hello1": S, "[1]": R, "[1].hello2b": S},
         ["steps-4k5vn-whalesay-2627784879"]),
        # Argo's TestDAGDiamondRetryWorkflow: B and D (after B) are redone.
        (fx.dag_diamond, "id=dag-diamond-82q7s-1260209596",
         {"": R, ".A": S, ".C": S},
         ["dag-diamond-82q7s-echo-1260209596", "dag-diamond-82q7s-echo-1226654358"]),
        # Argo's TestOnExitWorkflowRetry: the exit handler goes too.
        (fx.work_avoidance_with_exit_handler, "id=work-avoidance-trkkq-4183398008",
         {"": R, "[0]": S, "[0].load-markers": S, "[1]": R, "[1].echo(0:0)": S,
          "[1].echo(1:1)": S},
         ["work-avoidance-trkkq-echo-4183398008", "work-avoidance-trkkq-save-markers-1461956272"]),
    ],
)  # fmt: skip
def test_retry_of_a_succeeded_workflow_with_restart_successful(
    builder: Any, selector: str, expected: dict[str, str], pods: list[str]
) -> None:
    b = builder()
    new, to_delete = control.retry(
        b.workflow(S), restart_successful=True, node_field_selector=selector, now=NOW
    )
    assert phases(new, b) == expected
    assert to_delete == pods


def test_retry_of_a_failed_exit_handler_redoes_only_the_exit_handler() -> None:
    # Argo's TestOnExitWorkflow.
    b = fx.failed_exit_handler()
    new, pods = control.retry(b.workflow(), now=NOW)
    assert phases(new, b) == {"": S}
    assert pods == ["retry-workflow-with-failed-exit-handler-exit-handler-512308683"]


def test_retry_of_a_failed_entry_pod_deletes_every_node() -> None:
    # Argo's TestRegressions/"exit handler": the root is the failed pod; the exit handler's
    # nodes go as always (their pods only: the Steps/StepGroup/Skipped nodes have none).
    b = fx.exit_handler_steps()
    new, pods = control.retry(
        b.workflow(), restart_successful=True, node_field_selector=f"id={b.id('.onExit[0]')}"
    )
    assert "nodes" not in new["status"]
    assert pods == [
        "exit-handlers-n7s4n",
        "exit-handlers-n7s4n-send-email-3201878844",
        "exit-handlers-n7s4n-cry-2699669595",
    ]


def test_retry_of_exhausted_retries_resets_the_retry_node_and_deletes_its_attempts() -> None:
    b = fx.retried_step()
    new, pods = control.retry(b.workflow(), now=NOW)
    assert phases(new, b) == {"": R, "[0]": R, "[0].flaky": R}
    assert "message" not in node(new, b, "[0].flaky")
    assert "children" not in node(new, b, "[0].flaky")
    assert sorted(pods) == sorted(
        f"{b.wf}-{t}-{b.id(rel).rsplit('-', 1)[1]}"
        for t, rel in [("other", "[0].other"), ("flaky", "[0].flaky(0)"), ("flaky", "[0].flaky(1)")]
    )


def test_a_failed_attempt_of_a_retry_that_succeeded_is_not_redone() -> None:
    b = fx.retried_step(last_attempt=S)
    new, pods = control.retry(b.workflow(), now=NOW)
    assert phases(new, b) == {
        "": R,
        "[0]": R,
        "[0].flaky": S,
        "[0].flaky(0)": F,
        "[0].flaky(1)": S,
    }
    assert len(pods) == 1  # [0].other's


def test_without_the_retried_flag_a_failed_attempt_is_redone_under_its_retry_node() -> None:
    # Argo looks at the Retry parent only for attempts flagged nodeFlag.retried.
    b = fx.retried_step(last_attempt=S)
    wf = b.workflow()
    for n in wf["status"]["nodes"].values():
        n.pop("nodeFlag", None)
    new, _ = control.retry(wf, now=NOW)
    assert phases(new, b) == {"": R, "[0]": R, "[0].flaky": S, "[0].flaky(1)": S}


def test_retry_of_a_loop_keeps_its_succeeded_items() -> None:
    b = fx.dag_loop()
    new, pods = control.retry(b.workflow(), now=NOW)
    assert phases(new, b) == {"": R, ".proc": R, ".proc(0:a)": S}
    assert node(new, b, ".proc")["children"] == [b.id(".proc(0:a)")]
    assert pods == [f"{b.wf}-proc-{b.id('.proc(1:b)').rsplit('-', 1)[1]}"]


def test_retry_with_parameters_expands_loops_anew() -> None:
    b = fx.dag_loop()
    wf = b.workflow()
    wf["spec"]["arguments"] = {"parameters": [{"name": "items", "value": "[a,b]"}]}
    new, pods = control.retry(wf, parameters={"items": "[c]"}, now=NOW)
    assert phases(new, b) == {"": R, ".proc": R}
    assert "children" not in node(new, b, ".proc")
    assert len(pods) == 2
    assert new["spec"]["arguments"]["parameters"] == [{"name": "items", "value": "[c]"}]


def test_a_failed_step_whose_exit_hook_succeeded_is_not_redone_as_in_argo() -> None:
    # isDescendantNodeSucceeded counts the step's own exit hook (a child of the step).
    b = fx.step_with_exit_hook(S)
    new, pods = control.retry(b.workflow(), now=NOW)
    assert phases(new, b) == {"": F, "[0]": F, "[0].a": F, "[0].a.onExit": S}
    assert pods == []
    assert "phase" not in new["status"]


def test_a_failed_step_with_a_failed_exit_hook_is_redone_with_it() -> None:
    b = fx.step_with_exit_hook(F)
    new, pods = control.retry(b.workflow(), now=NOW)
    assert phases(new, b) == {"": R, "[0]": R}
    assert len(pods) == 2


def test_a_failed_container_redoes_its_whole_pod() -> None:
    b = fx.container_set()
    new, pods = control.retry(b.workflow(), now=NOW)
    assert phases(new, b) == {"": R, "[0]": R}
    assert pods == [f"{b.wf}-cs-{b.id('[0].pod').rsplit('-', 1)[1]}"]


def test_a_failed_http_node_is_redone_without_a_pod_to_delete() -> None:
    b = Builder("http-wf")
    b.add("", "Steps", F, children=["[0]"])
    b.add("[0]", "StepGroup", F, boundary="", children=["[0].call"])
    b.add("[0].call", "HTTP", E, boundary="")
    new, pods = control.retry(b.workflow(E), now=NOW)
    assert phases(new, b) == {"": R, "[0]": R}
    assert pods == []


def test_retry_of_a_selected_suspend_node_keeps_skipped_nodes_skipped() -> None:
    # Argo's TestFormulateRetryWorkflow/"Skipped and Suspended Nodes".
    b = Builder("wf-with-skipped-and-suspended-nodes")
    b.add("", "DAG", S, children=[".suspended", ".skipped"])
    b.add(
        ".suspended",
        "Suspend",
        S,
        boundary="",
        children=[".child"],
        outputs={"parameters": [{"name": "p", "value": "3", "valueFrom": {"supplied": {}}}]},
    )
    b.add(".child", "Skipped", SK, boundary=".suspended")
    b.add(".skipped", "Skipped", SK, boundary="")
    new, pods = control.retry(
        b.workflow(F), restart_successful=True, node_field_selector=f"id={b.id('.suspended')}"
    )
    assert phases(new, b) == {"": R, ".skipped": SK}
    assert pods == []


@pytest.mark.parametrize(
    ("builder", "restart", "selector", "expected", "pods"),
    [
        # Argo's TestFormulateRetryWorkflow subtests.
        ("nested-1", True, "id=3", {"1": R, "2": R}, None),
        ("nested-2", True, "", {"1": R, "2": S, "3": S}, None),
        ("continue", False, "", {"1": S, "2": F, "3": S}, 1),
        ("continue", True, "id=3", {"1": S}, 3),
    ],
)
def test_argos_formulate_retry_cases(
    builder: str, restart: bool, selector: str, expected: dict[str, str], pods: int | None
) -> None:
    wf_name = f"my-{builder}"
    nodes: dict[str, dict[str, Any]]
    if builder.startswith("nested"):
        inner = "TaskGroup" if builder == "nested-1" else "Pod"
        nodes = {
            wf_name: {"id": wf_name, "name": wf_name, "phase": S, "type": "DAG",
                      "children": ["1"]},
            "1": {"id": "1", "phase": S, "type": "TaskGroup", "boundaryID": wf_name,
                  "children": ["2", "4"]},
            "2": {"id": "2", "phase": S, "type": inner, "boundaryID": "1", "children": ["3"]},
            "3": {"id": "3", "phase": S, "type": "Pod", "boundaryID": "2"},
            "4": {"id": "4", "phase": F, "type": "Pod", "boundaryID": "1"},
        }  # fmt: skip
    else:
        nodes = {
            wf_name: {"id": wf_name, "name": wf_name, "phase": F, "type": "DAG",
                      "children": ["1"], "outboundNodes": ["3", "5"]},
            "1": {"id": "1", "name": "node1", "phase": S, "type": "Pod", "children": ["2", "4"]},
            "2": {"id": "2", "name": "node2", "phase": F, "type": "Pod", "children": ["3"]},
            "3": {"id": "3", "name": "node3", "phase": S, "type": "Pod"},
            "4": {"id": "4", "name": "node4", "phase": F, "type": "Pod", "children": ["5"]},
            "5": {"id": "5", "name": "node5", "phase": "Omitted", "type": "Skipped"},
        }  # fmt: skip
    wf = {"metadata": {"name": wf_name}, "status": {"phase": F, "nodes": nodes}}
    new, to_delete = control.retry(wf, restart_successful=restart, node_field_selector=selector)
    got = {k: v["phase"] for k, v in new["status"]["nodes"].items() if k != wf_name}
    assert got == expected
    assert new["status"]["nodes"][wf_name]["phase"] == R
    if pods is not None:
        assert len(to_delete) == pods


@pytest.mark.parametrize(
    ("phase", "restart", "selector", "message"),
    [
        (R, False, "", "Cannot retry a workflow in phase Running: workflow 'steps-9fkqc'"),
        ("Pending", False, "", "Cannot retry a workflow in phase Pending"),
        ("", False, "", "Cannot retry a workflow in phase Unknown"),
        (S, False, "", "To retry a succeeded workflow, set the options restartSuccessful"),
        (S, True, "", "To retry a succeeded workflow, set the options restartSuccessful"),
        (S, False, "id=x", "To retry a succeeded workflow"),
        (F, True, "name", "invalid selector: 'name'; can't understand 'name'"),
    ],
)
def test_retry_refusals(phase: str, restart: bool, selector: str, message: str) -> None:
    wf = fx.steps_with_a_failed_step().workflow()
    wf["status"]["phase"] = phase
    with pytest.raises(ControlError, match=message.replace("(", r"\(").replace(")", r"\)")):
        control.retry(wf, restart_successful=restart, node_field_selector=selector)


def test_retry_refuses_a_status_whose_nodes_do_not_form_a_tree() -> None:
    b = fx.steps_with_a_failed_step()
    orphan = b.workflow()
    orphan["status"]["nodes"][b.id("[0]")]["children"] = []
    with pytest.raises(ControlError, match=f"couldn't find parent node for {b.id('[0].pass')}"):
        control.retry(orphan)
    dangling = b.workflow()
    dangling["status"]["nodes"][b.id("[1]")]["children"].append("ghost")
    with pytest.raises(ControlError, match="lists child ghost, which is not in its status"):
        control.retry(dangling)


def test_retry_of_a_workflow_without_nodes_only_resets_the_workflow() -> None:
    wf = {"metadata": {"name": "x"}, "spec": {}, "status": {"phase": E, "message": "bad spec"}}
    new, pods = control.retry(wf, now=NOW)
    assert pods == [] and "nodes" not in new["status"] and "message" not in new["status"]


# --- Parameters -----------------------------------------------------------------------------


def test_parameters_override_first_then_the_others_and_new_ones_are_added_as_argo_does() -> None:
    wf = fx.steps_with_a_failed_step().workflow()
    wf["spec"]["arguments"] = {
        "parameters": [{"name": "a", "value": "1", "enum": ["1", "2"]}, {"name": "b", "value": "x"}]
    }
    wf["status"]["storedWorkflowTemplateSpec"] = {"arguments": {"parameters": [{"name": "a"}]}}
    new, _ = control.retry(wf, parameters={"a": "2", "new": "n"})
    expected = [
        {"name": "a", "value": "2"},
        {"name": "new", "value": "n"},
        {"name": "b", "value": "x"},
    ]
    assert new["spec"]["arguments"]["parameters"] == expected
    assert new["status"]["storedWorkflowTemplateSpec"]["arguments"]["parameters"] == expected


# --- stop / terminate / suspend -------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "strategy"), [(control.stop, "Stop"), (control.terminate, "Terminate")]
)
def test_stop_and_terminate_set_the_shutdown_strategy(action: Any, strategy: str) -> None:
    wf = fx.suspended().workflow(R)
    before = copy.deepcopy(wf)
    new = action(wf)
    assert new["spec"]["shutdown"] == strategy
    assert wf == before
    new["spec"].pop("shutdown")
    assert new == before


@pytest.mark.parametrize("action", [control.stop, control.terminate])
@pytest.mark.parametrize("phase", [S, F, E])
def test_a_completed_workflow_cannot_be_shut_down(action: Any, phase: str) -> None:
    wf = fx.steps_with_a_failed_step().workflow(phase)
    with pytest.raises(
        ControlError,
        match=f'cannot shutdown a completed workflow: workflow: "steps-9fkqc", '
        f'namespace: "argo" is {phase}',
    ):
        action(wf)


def test_stop_with_a_node_selector_fails_the_matching_suspend_node_with_the_message() -> None:
    # Argo's TestStopWorkflowByNodeName.
    b = fx.suspended()
    new = control.stop(
        b.workflow(R), node_field_selector="displayName=approve", message="error occurred", now=NOW
    )
    approve = node(new, b, "[0].approve")
    assert (approve["phase"], approve["message"], approve["finishedAt"]) == (
        F,
        "error occurred",
        STAMP,
    )
    assert "shutdown" not in new["spec"]
    with pytest.raises(
        ControlError,
        match="no suspend nodes matching nodeFieldSelector: "
        "displayName=nonexistant in workflow 'suspend-template'",
    ):
        control.stop(b.workflow(R), node_field_selector="displayName=nonexistant")


def test_suspend_sets_spec_suspend_and_refuses_a_completed_workflow() -> None:
    wf = fx.suspended().workflow(R)
    assert control.suspend(wf)["spec"]["suspend"] is True
    done = fx.steps_with_a_failed_step().workflow(S)
    with pytest.raises(
        ControlError,
        match="cannot suspend completed workflows: workflow 'steps-9fkqc' is Succeeded",
    ):
        control.suspend(done)
    labelled = fx.suspended().workflow(R)
    labelled["metadata"]["labels"][COMPLETED] = "true"  # Argo reads the label
    with pytest.raises(ControlError, match="cannot suspend completed workflows"):
        control.suspend(labelled)


# --- resume ---------------------------------------------------------------------------------


def test_resume_clears_spec_suspend_and_succeeds_every_active_suspend_node() -> None:
    b = fx.suspended()
    b.add("[0].waiting", "Suspend", R, boundary="", message="waiting for approval")
    b.add("[0].done", "Suspend", S, boundary="")
    b.nodes[b.id("[0]")]["children"] += [b.id("[0].waiting"), b.id("[0].done")]
    wf = b.workflow(R)
    wf["spec"]["suspend"] = True
    outputs = node(wf, b, "[0].approve")["outputs"]["parameters"]
    outputs[0]["valueFrom"]["default"] = "yes"
    outputs[1]["valueFrom"]["default"] = "no"
    new = control.resume(wf, now=NOW)
    assert "suspend" not in new["spec"]
    approve = node(new, b, "[0].approve")
    assert (approve["phase"], approve["finishedAt"]) == (S, STAMP)
    assert "message" not in approve
    assert approve["outputs"]["parameters"] == [
        {"name": "message", "value": "yes"},
        {"name": "message2", "globalName": "message-global-param", "value": "no"},
    ]
    # Argo appends "Resumed by: <user>" after the node's message; there is no user here.
    assert node(new, b, "[0].waiting")["message"] == "waiting for approval; "
    assert node(new, b, "[0].done") == node(wf, b, "[0].done")
    assert phases(new, b)[""] == R  # the controller moves the rest on


def test_resume_refuses_a_supplied_output_without_a_default() -> None:
    b = fx.suspended()
    with pytest.raises(
        ControlError,
        match="raw output parameter 'message' has not been set and does not have a default "
        r"value \(node 'suspend-template\[0\].approve' of workflow 'suspend-template'\)",
    ):
        control.resume(b.workflow(R))


def test_resume_of_a_workflow_that_is_not_suspended_changes_nothing() -> None:
    wf = fx.steps_with_a_failed_step().workflow(R)
    assert control.resume(wf) == wf


def test_resume_with_a_selector_succeeds_only_the_matching_nodes() -> None:
    # Argo's TestResumeWorkflowByNodeName (without user info): spec.suspend and the
    # supplied outputs are left as they are.
    b = fx.suspended()
    wf = b.workflow(R)
    wf["spec"]["suspend"] = True
    with pytest.raises(ControlError, match="no suspend nodes matching"):
        control.resume(wf, "displayName=nonexistant")
    new = control.resume(wf, "displayName=approve", now=NOW)
    approve = node(new, b, "[0].approve")
    assert (approve["phase"], approve["finishedAt"]) == (S, STAMP)
    assert "message" not in approve
    assert approve["outputs"] == node(wf, b, "[0].approve")["outputs"]
    assert new["spec"]["suspend"] is True


# --- node set -------------------------------------------------------------------------------


def test_set_node_supplies_outputs_and_their_global_names() -> None:
    # Argo's TestUpdateSuspendedNode.
    b = fx.suspended()
    wf = b.workflow(R)
    wf = control.set_node(wf, "displayName=approve", output_parameters={"message": "Hello World"})
    wf = control.set_node(
        wf, f"name={b.wf}[0].approve", output_parameters={"message2": "Hello World 2"}
    )
    assert node(wf, b, "[0].approve")["outputs"]["parameters"] == [
        {"name": "message", "value": "Hello World"},
        {"name": "message2", "globalName": "message-global-param", "value": "Hello World 2"},
    ]
    assert wf["status"]["outputs"] == {
        "parameters": [{"name": "message-global-param", "value": "Hello World 2"}]
    }
    assert node(wf, b, "[0].approve")["phase"] == R  # outputs alone do not resume it


def test_set_node_phase_and_message() -> None:
    b = fx.suspended()
    new = control.set_node(b.workflow(R), "displayName=approve", phase=F, message="no", now=NOW)
    approve = node(new, b, "[0].approve")
    assert (approve["phase"], approve["message"], approve["finishedAt"]) == (F, "no", STAMP)
    msg_only = control.set_node(b.workflow(R), "displayName=approve", message="later")
    assert node(msg_only, b, "[0].approve")["phase"] == R


@pytest.mark.parametrize(
    ("selector", "kwargs", "message"),
    [
        ("", {"phase": S}, "'set' currently only targets suspend nodes, use a node field "
         "selector to target them"),
        ("displayName=approve", {"phase": R}, "Running is an invalid phase to set to"),
        ("displayName=does-not-exists", {"output_parameters": {"message": "x"}},
         "no suspend nodes matching nodeFieldSelector: displayName=does-not-exists"),
        ("displayName=approve", {"output_parameters": {"does-not-exist": "x"}},
         "node is not expecting output parameter 'does-not-exist'"),
        ("displayName=approve", {}, "no suspend nodes matching nodeFieldSelector"),
        ("displayName=approve,phase!=Running", {"phase": S}, "no suspend nodes matching"),
        ("displayName=appro\\ve", {"phase": S}, "invalid escape sequence"),
    ],
)  # fmt: skip
def test_set_node_refusals(selector: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ControlError, match=message):
        control.set_node(fx.suspended().workflow(R), selector, **kwargs)


def test_set_node_refuses_an_output_already_set_or_a_node_without_outputs() -> None:
    b = fx.suspended()
    once = control.set_node(
        b.workflow(R), "displayName=approve", output_parameters={"message": "a"}
    )
    with pytest.raises(
        ControlError,
        match="cannot set output parameter 'message' because it "
        r"does not use valueFrom\.raw or it was already set",
    ):
        control.set_node(once, "displayName=approve", output_parameters={"message": "b"})
    bare = b.workflow(R)
    del node(bare, b, "[0].approve")["outputs"]
    with pytest.raises(
        ControlError,
        match="cannot set output parameters because node is not expecting any raw parameters",
    ):
        control.set_node(bare, "displayName=approve", output_parameters={"message": "a"})


# --- resubmit -------------------------------------------------------------------------------


def test_resubmit_creates_a_fresh_workflow_from_the_old_spec() -> None:
    wf = fx.steps_with_a_failed_step().workflow(F)
    meta = wf["metadata"]
    meta["labels"].update(
        {
            "workflows.argoproj.io/controller-instanceid": "1",
            "workflows.argoproj.io/workflow-template": "t",
            "workflows.argoproj.io/creator": "someone",
            "workflows.argoproj.io/creator-email": "a.at.b",
            "workflows.argoproj.io/creator-preferred-username": "a",
            "workflows.argoproj.io/workflow-archiving-status": "Archived",
            "team": "x",
        }
    )
    meta["annotations"] = {"workflows.argoproj.io/pod-name-format": "v2"}
    meta["ownerReferences"] = [{"apiVersion": "test", "name": "testObj"}]
    meta["uid"] = "old-uid"
    wf["spec"].update(shutdown="Terminate", arguments={"parameters": [{"name": "m", "value": "d"}]})
    before = copy.deepcopy(wf)
    new = control.resubmit(wf, "steps-9fkqc-abcde", parameters={"m": "modified"})
    assert wf == before
    assert new == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": "steps-9fkqc-abcde",
            "generateName": "steps-9fkqc-",
            "namespace": "argo",
            "labels": {
                "workflows.argoproj.io/controller-instanceid": "1",
                "workflows.argoproj.io/workflow-template": "t",
                "team": "x",
                "workflows.argoproj.io/resubmitted-from-workflow": "steps-9fkqc",
            },
            "annotations": {"workflows.argoproj.io/pod-name-format": "v2"},
            "ownerReferences": [{"apiVersion": "test", "name": "testObj"}],
        },
        "spec": {
            "entrypoint": "main",
            "activeDeadlineSeconds": 300,
            "arguments": {"parameters": [{"name": "m", "value": "modified"}]},
        },
    }


def test_resubmit_keeps_the_generate_name_and_drops_a_zero_deadline() -> None:
    wf = {
        "metadata": {"name": "hello-x1", "generateName": "hello-"},
        "spec": {"activeDeadlineSeconds": 0},
    }
    new = control.resubmit(wf, "hello-x2")
    assert new["metadata"] == {
        "name": "hello-x2",
        "generateName": "hello-",
        "labels": {"workflows.argoproj.io/resubmitted-from-workflow": "hello-x1"},
    }
    assert new["spec"] == {}


# --- Selectors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "outcome"),
    [
        # Argo's TestSelectorMatchesNode.
        ("id=123", True),
        ("id=321", False),
        ("name=failed-node", True),
        ("phase=Failed", True),
        ("foo=Failed", False),
        ("templateRef.name=templateName", True),
        ("inputs.parameters.myparam.value=abc", True),
        # Kubernetes' syntax: ==, !=, conjunctions, a missing field reads "".
        ("id==123,phase!=Running", True),
        ("id=123,phase=Running", False),
        ("foo=", True),
        ("templateName=template", True),  # templateRef.template wins over templateName
        ("", True),
    ],
)
def test_node_field_selectors_match_as_argos(selector: str, outcome: bool) -> None:
    n = {
        "id": "123",
        "name": "failed-node",
        "phase": "Failed",
        "templateName": "other",
        "templateRef": {"name": "templateName", "template": "template"},
        "inputs": {"parameters": [{"name": "myparam", "value": "abc"}]},
    }
    assert fieldselector.parse(selector).matches_node(n) is outcome


def test_selector_values_escape_commas_and_equals() -> None:
    text = "name=" + fieldselector.escape("wf[0].a(0:x=1,y)")
    assert fieldselector.parse(text).matches_node({"name": "wf[0].a(0:x=1,y)"})
    for bad, why in [("name=a=b", "unescaped character"), ("name=a\\", "escape sequence")]:
        with pytest.raises(fieldselector.SelectorError, match=why):
            fieldselector.parse(bad)


def test_node_selector_turns_an_id_name_or_display_name_into_a_selector() -> None:
    b = fx.suspended()
    wf = b.workflow(R)
    assert control.node_selector(wf, b.id("[0].approve")) == f"id={b.id('[0].approve')}"
    assert control.node_selector(wf, f"{b.wf}[0].approve") == f"name={b.wf}[0].approve"
    assert control.node_selector(wf, "approve") == "displayName=approve"
    assert control.node_selector(wf, "phase=Running") == "phase=Running"
    new = control.resume(wf, control.node_selector(wf, "approve"), now=NOW)
    assert node(new, b, "[0].approve")["phase"] == S


# --- Through the store ----------------------------------------------------------------------


def test_an_action_is_written_back_with_a_conflict_retry(tmp_path: Path) -> None:
    store = DirectoryStore(tmp_path)
    b = fx.suspended()
    wf = b.workflow(R)
    del wf["metadata"]["resourceVersion"]
    store.create(wf)
    stale = store.get(b.wf)
    store.update(control.suspend(store.get(b.wf)))  # someone else's change first
    with pytest.raises(ConflictError):
        store.update(control.stop(stale))
    # As Argo's clients: read again, apply again, write.
    stored = store.update(control.stop(store.get(b.wf)))
    assert stored["spec"]["shutdown"] == "Stop" and stored["spec"]["suspend"] is True
    assert stored["metadata"]["resourceVersion"] == "3"
    assert stored["status"]["startedAt"] == OLD
