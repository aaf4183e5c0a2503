"""`spec.workflowMetadata` on the Workflow when it starts (Argo's updateWorkflowMetadata):
labels, annotations, `labelsFrom` expressions over the globals; a bad label value errors the
workflow with Argo's message."""

from __future__ import annotations

from typing import Any

from tests.controller.reconcile_double import Cluster, nodes_by_name, step, workflow
from tests.controller.test_reconcile import T0

ECHO_LABEL = {
    "name": "main",
    "container": {"image": "alpine", "command": ["echo", "{{workflow.labels.team}}"]},
}


def _spec(metadata: dict[str, Any]) -> dict[str, Any]:
    return {
        "entrypoint": "main",
        "arguments": {"parameters": [{"name": "env", "value": "prod"}]},
        "workflowMetadata": metadata,
        "templates": [ECHO_LABEL],
    }


def test_labels_annotations_and_labels_from_are_set_on_the_workflow_at_its_start() -> None:
    wf = workflow(
        _spec(
            {
                "labels": {"team": "data"},
                "annotations": {"owner": "someone@example.com"},
                "labelsFrom": {"env": {"expression": "'env-' + workflow.parameters.env"}},
            }
        )
    )
    cluster = Cluster()
    step(wf, cluster, T0)
    meta = wf["metadata"]
    assert meta["labels"]["team"] == "data"
    assert meta["labels"]["env"] == "env-prod"
    assert meta["annotations"] == {"owner": "someone@example.com"}
    # The pod sees the new label among the globals, as Argo's workflow.labels.<name>.
    pod = next(iter(cluster.specs.values()))
    main = next(c for c in pod["spec"]["containers"] if c["name"] == "main")
    assert main["command"][-1] == "data"


def test_a_label_value_kubernetes_refuses_errors_the_workflow() -> None:
    wf = workflow(_spec({"labels": {"team": "not ok!"}}))
    outcome = step(wf, Cluster(), T0)
    assert outcome.finished
    assert wf["status"]["phase"] == "Error"
    assert wf["status"]["message"].startswith(
        "invalid label value 'not ok!' for label 'team': a valid label must be"
    )
    assert nodes_by_name(wf) == {}


def test_a_labels_from_expression_that_is_not_a_string_errors_the_workflow() -> None:
    wf = workflow(_spec({"labelsFrom": {"n": {"expression": "1 + 1"}}}))
    step(wf, Cluster(), T0)
    assert wf["status"]["phase"] == "Error"
    assert wf["status"]["message"] == (
        "failed to evaluate label 'n' expression '1 + 1' evaluted to int but must be a string"
    )


def test_a_labels_from_expression_that_gives_nil_names_go_s_type() -> None:
    wf = workflow(_spec({"labelsFrom": {"n": {"expression": "nil"}}}))
    step(wf, Cluster(), T0)
    assert wf["status"]["message"] == (
        "failed to evaluate label 'n' expression 'nil' evaluted to <nil> but must be a string"
    )


def test_a_huge_label_value_is_quoted_shortened_in_the_workflow_s_message() -> None:
    wf = workflow(_spec({"labelsFrom": {"n": {"expression": 'repeat("a", 100000)'}}}))
    step(wf, Cluster(), T0)
    message = wf["status"]["message"]
    assert wf["status"]["phase"] == "Error"
    assert message.startswith(f"invalid label value '{'a' * 100}'... (100000 characters)")
    assert "must be no more than 63 characters" in message and len(message) < 1000
