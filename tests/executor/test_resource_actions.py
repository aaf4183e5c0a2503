"""``argoexec resource`` actions, conditions and outputs against the fake API server (§6, §16.7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from argoexec.errors import ExecutorError
from argoexec.executor.resource.command import run_resource
from argoexec.kube.client import KubeClient, KubeClientConfig
from argoexec.kube.resources import ResourceClient
from tests.executor.test_resource_support import (
    NS,
    WF,
    WF_UID,
    Step,
    as_yaml,
    configmap,
    meanwhile,
    workflow,
)
from tests.servers.kube import FakeKube
from tests.servers.procs import free_port

CM_PATH = "/api/v1/namespaces/default/configmaps"
WF_PATH = "/apis/argoproj.io/v1alpha1/namespaces/default/workflows"


@pytest.fixture
def step(kube_api: FakeKube, tmp_path: Path) -> Step:
    return Step(kube_api, tmp_path)


def stored_cm(step: Step, name: str = "cm") -> dict[str, Any] | None:
    found = step.kube.get("configmaps", name, NS)
    return dict(found) if found is not None else None


def stored_wf(step: Step, name: str = "child") -> dict[str, Any] | None:
    found = step.kube.get("workflows", name, NS, group="argoproj.io")
    return dict(found) if found is not None else None


def set_wf_status(step: Step, name: str, **status: Any) -> None:
    kind = step.kube.kind("workflows", "argoproj.io")
    step.kube.store.patch(kind, NS, name, "merge", {"status": status})


# --- actions --------------------------------------------------------------------------------


def test_create_makes_the_object_and_completes_the_task_result(step: Step) -> None:
    step.run("create", configmap(a="1"))

    assert stored_cm(step)["data"] == {"a": "1"}
    (post,) = step.kube.requests("POST", CM_PATH)
    assert post.status == 201
    assert step.completed()
    assert "outputs" not in step.task_result()


def test_create_of_an_existing_object_fails_with_kubectls_wording(step: Step) -> None:
    step.kube.seed({**configmap(), "metadata": {"name": "cm", "namespace": NS}})

    with pytest.raises(ExecutorError) as caught:
        step.run("create", configmap())

    message = str(caught.value)
    assert message.startswith("no more retries Error from server (AlreadyExists)")
    assert 'configmaps "cm" already exists' in message
    assert step.completed()  # finalized whatever the outcome


def test_create_of_a_custom_workflow_object(step: Step) -> None:
    step.run("create", workflow())

    assert stored_wf(step)["spec"]["entrypoint"] == "main"
    assert step.kube.requests("POST", WF_PATH)


def test_apply_is_server_side_apply_that_creates_then_updates(step: Step) -> None:
    step.run("apply", configmap(a="1"))
    step.run("apply", configmap(a="2", b="3"))

    assert stored_cm(step)["data"] == {"a": "2", "b": "3"}
    patches = step.kube.requests("PATCH", f"{CM_PATH}/cm")
    assert [p.status for p in patches] == [201, 200]
    for patch in patches:
        assert patch.content_type == "application/apply-patch+yaml"
        assert patch.query == {"fieldManager": "argo-executor", "force": "true"}


def test_apply_honours_a_custom_field_manager(step: Step) -> None:
    step.run("apply", workflow(), flags=["--field-manager", "me", "--server-side"])

    (patch,) = step.kube.requests("PATCH", f"{WF_PATH}/child")
    assert patch.query["fieldManager"] == "me"
    assert stored_wf(step) is not None


def test_replace_puts_the_object_with_the_live_resource_version(step: Step) -> None:
    live = step.kube.seed({**configmap(a="1"), "metadata": {"name": "cm", "namespace": NS}})

    step.run("replace", configmap(b="2"))

    assert stored_cm(step)["data"] == {"b": "2"}
    (put,) = step.kube.requests("PUT", f"{CM_PATH}/cm")
    assert put.body["metadata"]["resourceVersion"] == live["metadata"]["resourceVersion"]


def test_replace_of_a_custom_workflow_object(step: Step) -> None:
    step.kube.seed(workflow())
    changed = workflow()
    changed["spec"]["entrypoint"] = "other"

    step.run("replace", changed)

    assert stored_wf(step)["spec"]["entrypoint"] == "other"


def test_get_reads_the_object_named_by_the_manifest(step: Step) -> None:
    step.kube.seed({**configmap(a="1"), "metadata": {"name": "cm", "namespace": NS}})

    step.run(
        "get",
        configmap(),
        outputs=[{"name": "a", "valueFrom": {"jsonPath": "{.data.a}"}}],
    )

    assert step.parameters() == {"a": "1"}


def test_get_reads_the_object_named_by_flags(step: Step) -> None:
    step.kube.seed(workflow(phase="Running"))

    step.run(
        "get",
        "",
        flags=["workflows.argoproj.io", "child"],
        outputs=[{"name": "phase", "valueFrom": {"jsonPath": "{.status.phase}"}}],
    )

    assert step.parameters() == {"phase": "Running"}


def test_get_of_a_missing_object_fails_unless_not_found_is_ignored(step: Step) -> None:
    with pytest.raises(ExecutorError, match=r'NotFound.*configmaps "cm" not found'):
        step.run("get", configmap())

    step.run(
        "get",
        configmap(),
        flags=["--ignore-not-found"],
        outputs=[{"name": "a", "valueFrom": {"jsonPath": "{.data.a}", "default": "none"}}],
    )
    assert step.parameters() == {"a": "none"}


def test_delete_removes_the_object_and_ignores_a_missing_one(step: Step) -> None:
    step.kube.seed(workflow())

    step.run("delete", workflow())
    assert stored_wf(step) is None

    step.run("delete", workflow())  # Argo always deletes with --ignore-not-found
    assert step.completed()


def test_delete_of_a_missing_object_fails_when_not_found_is_not_ignored(step: Step) -> None:
    with pytest.raises(ExecutorError, match=r"no more retries Error from server \(NotFound\)"):
        step.run("delete", configmap(), flags=["--ignore-not-found=false"])


def test_delete_by_flags_sends_the_propagation_policy_and_grace_period(step: Step) -> None:
    step.kube.seed({**configmap(), "metadata": {"name": "cm", "namespace": NS}})

    step.run("delete", "", flags=["cm/cm", "--cascade=foreground", "--grace-period", "5"])

    (delete,) = step.kube.requests("DELETE", f"{CM_PATH}/cm")
    assert delete.body["propagationPolicy"] == "Foreground"
    assert delete.body["gracePeriodSeconds"] == 5
    assert stored_cm(step) is None


def test_delete_with_conditions_or_outputs_is_refused(step: Step) -> None:
    with pytest.raises(ExecutorError) as caught:
        step.run("delete", configmap(), successCondition="a=b")
    expected = "successCondition, failureCondition and outputs are not supported for delete action"
    assert str(caught.value) == expected
    assert not step.kube.requests("DELETE")


def test_an_empty_manifest_without_flags_is_refused(step: Step) -> None:
    with pytest.raises(ExecutorError, match=r"^Must provide at least one of flags or manifest\.$"):
        step.run("create", "")


def test_every_object_of_a_multi_document_manifest_is_acted_on(step: Step) -> None:
    step.run("create", as_yaml(configmap("one"), configmap("two")))

    assert stored_cm(step, "one") is not None
    assert stored_cm(step, "two") is not None


def test_conditions_on_several_objects_are_refused_before_acting(step: Step) -> None:
    with pytest.raises(ExecutorError, match="need exactly one"):
        step.run("create", as_yaml(configmap("one"), configmap("two")), successCondition="a")
    assert not step.kube.requests("POST", CM_PATH)


def test_an_unsupported_action_is_refused(step: Step) -> None:
    with pytest.raises(ExecutorError, match="resource action 'label' is not supported"):
        step.run("label", configmap())


def test_an_unknown_kind_fails_with_a_clear_message(step: Step) -> None:
    manifest = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}}
    with pytest.raises(ExecutorError, match=r'no matches for kind "Gadget".*CustomResource'):
        step.run("create", manifest)


def test_a_namespace_flag_that_contradicts_the_manifest_is_refused(step: Step) -> None:
    manifest = {**configmap(), "metadata": {"name": "cm", "namespace": "other"}}
    with pytest.raises(ExecutorError, match="does not match the namespace"):
        step.run("create", manifest, flags=["-n", "elsewhere"])


def test_the_namespace_flag_places_the_object(step: Step) -> None:
    step.run("create", configmap(), flags=["--namespace=team"])

    assert step.kube.get("configmaps", "cm", "team") is not None


def test_a_manifest_from_an_input_artifact(step: Step, tmp_path: Path) -> None:
    source = tmp_path / "in.yaml"
    source.write_text(as_yaml(configmap(x="from-artifact")))

    step.run(
        "create",
        "",
        manifestFrom={"artifact": {"name": "m"}},
        inputs={"artifacts": [{"name": "m", "path": str(source)}]},
    )

    assert stored_cm(step)["data"] == {"x": "from-artifact"}


def test_set_owner_reference_makes_the_workflow_the_controller(step: Step) -> None:
    step.run("create", configmap(), setOwnerReference=True)

    (ref,) = stored_cm(step)["metadata"]["ownerReferences"]
    assert ref == {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "name": WF,
        "uid": WF_UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }


# --- patches --------------------------------------------------------------------------------


def test_merge_patch_of_a_custom_workflow_object(step: Step) -> None:
    step.kube.seed(workflow())
    patch = {**workflow(), "metadata": {"name": "child", "labels": {"x": "y"}}}
    del patch["spec"]

    step.run("patch", patch, mergeStrategy="merge")

    assert stored_wf(step)["metadata"]["labels"] == {"x": "y"}
    (request,) = step.kube.requests("PATCH", f"{WF_PATH}/child")
    assert request.content_type == "application/merge-patch+json"


def test_strategic_patch_is_the_default(step: Step) -> None:
    step.kube.seed({**configmap(a="1"), "metadata": {"name": "cm", "namespace": NS}})

    step.run("patch", configmap(b="2"))

    assert stored_cm(step)["data"] == {"a": "1", "b": "2"}
    (request,) = step.kube.requests("PATCH", f"{CM_PATH}/cm")
    assert request.content_type == "application/strategic-merge-patch+json"


def test_strategic_patch_of_a_custom_resource_explains_the_alternative(step: Step) -> None:
    step.kube.seed(workflow())

    with pytest.raises(ExecutorError, match="use mergeStrategy: merge"):
        step.run("patch", workflow())


def test_json_patch_targets_the_object_named_by_flags(step: Step) -> None:
    step.kube.seed({**configmap(a="1"), "metadata": {"name": "cm", "namespace": NS}})
    ops = [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "add", "path": "/data/b", "value": "2"},
    ]

    step.run("patch", ops, mergeStrategy="json", flags=["configmap", "cm"])

    assert stored_cm(step)["data"] == {"a": "1", "b": "2"}


def test_json_patch_with_a_failing_test_op_fails_clearly(step: Step) -> None:
    step.kube.seed({**configmap(a="1"), "metadata": {"name": "cm", "namespace": NS}})
    ops = [{"op": "test", "path": "/data/a", "value": "nope"}]

    with pytest.raises(ExecutorError) as caught:
        step.run("patch", ops, mergeStrategy="json", flags=["cm", "cm"])

    message = str(caught.value)
    assert message.startswith("no more retries Error from server (Invalid)")
    assert 'patching (json) configmaps "cm"' in message
    assert "testing value /data/a failed" in message
    assert stored_cm(step)["data"] == {"a": "1"}


def test_json_patch_without_a_target_in_flags_is_refused(step: Step) -> None:
    with pytest.raises(ExecutorError, match="patch needs the object to patch"):
        step.run("patch", [{"op": "remove", "path": "/data"}], mergeStrategy="json")


def test_patch_flags_name_the_object_and_the_manifest_is_the_patch(step: Step) -> None:
    step.kube.seed({**configmap(a="1"), "metadata": {"name": "target", "namespace": NS}})

    step.run("patch", {"data": {"b": "2"}}, mergeStrategy="merge", flags=["configmaps", "target"])

    assert stored_cm(step, "target")["data"] == {"a": "1", "b": "2"}


# --- conditions -----------------------------------------------------------------------------


def test_a_success_condition_already_met_succeeds_at_once(step: Step) -> None:
    step.kube.seed(workflow(phase="Succeeded"))

    step.run("get", workflow(), successCondition="status.phase == Succeeded")

    assert len(step.kube.requests("GET", f"{WF_PATH}/child")) == 2  # the get, one poll


def test_conditions_keep_polling_until_the_success_condition_holds(step: Step) -> None:
    def polls() -> int:
        return len(step.kube.requests("GET", f"{WF_PATH}/child"))

    with meanwhile(lambda: set_wf_status(step, "child", phase="Succeeded"), lambda: polls() >= 3):
        step.run(
            "create",
            workflow(),
            successCondition="status.phase == Succeeded",
            failureCondition="status.phase in (Failed, Error)",
        )

    assert polls() >= 3
    assert step.completed()


def test_a_matching_failure_condition_fails_the_step(step: Step) -> None:
    def polls() -> int:
        return len(step.kube.requests("GET", f"{WF_PATH}/child"))

    with (
        meanwhile(lambda: set_wf_status(step, "child", phase="Failed"), lambda: polls() >= 2),
        pytest.raises(ExecutorError) as caught,
    ):
        step.run(
            "create",
            workflow(),
            successCondition="status.phase == Succeeded",
            failureCondition="status.phase in (Failed, Error)",
        )

    assert str(caught.value) == "failure condition 'status.phase in (Failed,Error)' evaluated true"
    assert step.completed()


def test_the_object_deleted_while_polling_fails_the_step(step: Step) -> None:
    def polls() -> int:
        return len(step.kube.requests("GET", f"{WF_PATH}/child"))

    def delete() -> None:
        step.kube.store.delete(step.kube.kind("workflows", "argoproj.io"), NS, "child", {})

    with meanwhile(delete, lambda: polls() >= 2), pytest.raises(ExecutorError) as caught:
        step.run("create", workflow(), successCondition="status.phase == Succeeded")

    assert str(caught.value).startswith(
        "The resource has been deleted while its status was still being checked. "
        "Will not be retried: "
    )


def test_a_transient_error_while_polling_keeps_polling(step: Step) -> None:
    step.kube.seed(workflow(phase="Succeeded"))
    step.kube.fault("GET", r"/workflows/child$", 503, times=2)

    step.run("get", "", flags=["wf", "child"], successCondition="status.phase == Succeeded")

    statuses = [r.status for r in step.kube.requests("GET", f"{WF_PATH}/child")]
    assert statuses == [503, 503, 200, 200]


def test_a_condition_that_does_not_parse_fails_before_acting(step: Step) -> None:
    with pytest.raises(ExecutorError, match=r"^success condition 'status.phase == !!' failed to"):
        step.run("create", configmap(), successCondition="status.phase == !!")
    assert not step.kube.requests("POST", CM_PATH)


# --- outputs --------------------------------------------------------------------------------


def test_json_path_and_jq_outputs_are_reported(step: Step) -> None:
    step.kube.seed(workflow(phase="Running", nodes={"a": {"id": "a"}, "b": {"id": "b"}}))
    outputs = [
        {"name": "phase", "valueFrom": {"jsonPath": "{.status.phase}"}},
        {"name": "name", "valueFrom": {"jqFilter": ".metadata.name"}},
        {"name": "ids", "valueFrom": {"jqFilter": ".status.nodes[].id"}},
        {"name": "nodes", "valueFrom": {"jqFilter": ".status.nodes.a"}},
        {"name": "declared", "value": "as is"},
    ]

    step.run("get", workflow(), outputs=outputs)

    assert step.parameters() == {
        "phase": "Running",
        "name": "child",
        "ids": "a\nb",
        "nodes": '{"id":"a"}',
        "declared": "as is",
    }
    assert step.completed()


def test_a_bad_jq_filter_fails_the_step(step: Step) -> None:
    step.kube.seed(workflow())

    with pytest.raises(ExecutorError, match="output parameter 'x': failed to parse jq filter"):
        step.run("get", workflow(), outputs=[{"name": "x", "valueFrom": {"jqFilter": ".[[["}}])


def test_archived_logs_leave_the_result_for_the_wait_container_to_complete(step: Step) -> None:
    step.run("create", configmap(), archive_logs=True)

    assert not step.completed()


# --- retries --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [503, 429])
def test_transient_api_errors_are_retried_until_the_action_succeeds(
    step: Step, status: int
) -> None:
    step.kube.fault("POST", f"{CM_PATH}$", status, times=3)

    step.run("create", configmap())

    assert [r.status for r in step.kube.requests("POST", CM_PATH)] == [status] * 3 + [201]
    assert stored_cm(step) is not None


def test_persistent_transient_errors_end_in_no_more_retries(step: Step) -> None:
    step.kube.fault("POST", f"{CM_PATH}$", 503, times=10)

    with pytest.raises(ExecutorError) as caught:
        step.run("create", configmap())

    assert str(caught.value).startswith("no more retries Error from server (ServiceUnavailable)")
    assert len(step.kube.requests("POST", CM_PATH)) == 4  # client-go's default backoff


def test_a_permanent_error_is_not_retried(step: Step) -> None:
    step.kube.deny("create", "configmaps")

    with pytest.raises(ExecutorError, match=r"^no more retries Error from server \(Forbidden\)"):
        step.run("create", configmap())

    assert len(step.kube.requests("POST", CM_PATH)) == 1


def test_an_unreachable_api_server_is_retried_then_reported(step: Step) -> None:
    job = step.job("create", configmap())
    port = free_port()
    job.resources = ResourceClient(
        KubeClient(KubeClientConfig(server=f"http://127.0.0.1:{port}", timeout=2))
    )

    with pytest.raises(ExecutorError) as caught:
        run_resource(job)

    message = str(caught.value)
    assert message.startswith('no more retries error when creating configmaps "cm"')
    assert "Connection refused" in message or "ConnectionRefused" in message


def test_only_a_failure_condition_succeeds_on_the_first_poll_that_does_not_match(
    step: Step,
) -> None:
    step.kube.seed(workflow(phase="Running"))

    step.run("get", workflow(), failureCondition="status.phase == Failed")

    assert len(step.kube.requests("GET", f"{WF_PATH}/child")) == 2  # the get, one poll


def test_an_unknown_merge_strategy_is_refused(step: Step) -> None:
    with pytest.raises(ExecutorError, match="mergeStrategy must be one of merge, json, strategic"):
        step.run("patch", configmap(), mergeStrategy="smart")


def test_a_patch_of_the_status_subresource(step: Step) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": NS}}
    step.kube.seed({**pod, "spec": {"containers": []}, "status": {"phase": "Pending"}})

    step.run(
        "patch",
        {"status": {"phase": "Running"}},
        mergeStrategy="merge",
        flags=["pod", "p", "--subresource=status"],
        outputs=[{"name": "phase", "valueFrom": {"jsonPath": "{.status.phase}"}}],
    )

    assert step.parameters() == {"phase": "Running"}
    (patch,) = step.kube.requests("PATCH", "/pods/p/status$")
    assert patch.status == 200


def test_outputs_that_cannot_be_reported_fail_the_step(step: Step) -> None:
    step.kube.seed(workflow())
    step.kube.deny("patch", "workflowtaskresults", group="argoproj.io")

    with pytest.raises(ExecutorError) as caught:
        step.run(
            "get", workflow(), outputs=[{"name": "n", "valueFrom": {"jqFilter": ".metadata.name"}}]
        )

    assert "failed to report the outputs" in str(caught.value)


def test_a_cluster_scoped_object_is_created_outside_any_namespace(step: Step) -> None:
    manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-x"}}

    step.run(
        "create",
        manifest,
        outputs=[{"name": "name", "valueFrom": {"jsonPath": "{.metadata.name}"}}],
    )

    assert step.kube.get("namespaces", "team-x") is not None
    assert step.kube.requests("POST", "^/api/v1/namespaces$")
    assert step.parameters() == {"name": "team-x"}


def test_outputs_that_could_not_be_reported_never_claim_completion(step: Step) -> None:
    step.kube.seed({**configmap(a="1"), "metadata": {"name": "cm", "namespace": NS}})
    step.kube.fault("PATCH", "/workflowtaskresults/", 403, times=1, reason="Forbidden")

    with pytest.raises(ExecutorError, match="failed to report the outputs"):
        step.run(
            "get",
            configmap(),
            outputs=[{"name": "a", "valueFrom": {"jsonPath": "{.data.a}"}}],
        )

    assert not step.completed()
