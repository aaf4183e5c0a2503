"""The pod of a container template: metadata, container order, commands, env, mounts
(argo-contract.md §1.1-1.6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from argoexec.controller.pod import (
    ImageEntrypoint,
    PodBuildError,
    PodContext,
    WorkflowDeadlineExceededError,
    build_pod,
)
from argoexec.models import Template

LOG_FLAGS = ["--loglevel", "info", "--log-format", "text", "--gloglevel", "0"]
EMISSARY = ["/var/run/argo/argoexec", "emissary", *LOG_FLAGS, "--"]
EXEC_IMAGE = "quay.io/argoproj/argoexec:v4.1.2"


def hello(**extra: Any) -> Template:
    return Template.model_validate(
        {
            "name": "hello",
            "inputs": {"parameters": [{"name": "who", "value": "world"}]},
            "container": {"image": "alpine:3", "command": ["echo"], "args": ["hello world"]},
            **extra,
        }
    )


def ctx(**extra: Any) -> PodContext:
    return PodContext(workflow_name="wf", node_name="wf[0].hello", workflow_uid="uid-1", **extra)


def by_name(containers: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(c for c in containers if c["name"] == name)


def env_of(container: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(e["name"], e.get("value", e.get("valueFrom"))) for e in container["env"]]


def test_the_pod_is_named_v2_and_labelled_for_the_workflow() -> None:
    pod = build_pod(hello(), ctx(namespace="argo"))
    meta = pod["metadata"]
    assert meta["name"] == "wf-hello-2592359500"
    assert meta["namespace"] == "argo"
    assert meta["labels"] == {
        "workflows.argoproj.io/workflow": "wf",
        "workflows.argoproj.io/completed": "false",
    }
    assert meta["annotations"] == {
        "workflows.argoproj.io/node-name": "wf[0].hello",
        "workflows.argoproj.io/node-id": "wf-2592359500",
        "kubectl.kubernetes.io/default-container": "main",
    }
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "name": "wf",
            "uid": "uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert pod["spec"]["restartPolicy"] == "Never"


def test_exit_handlers_instance_ids_and_user_metadata_add_labels_and_annotations() -> None:
    spec = {"podMetadata": {"labels": {"team": "a"}, "annotations": {"note": "wf"}}}
    tmpl = hello(metadata={"labels": {"tier": "t"}, "annotations": {"note": "tmpl"}})
    pod = build_pod(tmpl, ctx(on_exit=True, instance_id="i1", workflow_spec=spec))
    labels, annotations = pod["metadata"]["labels"], pod["metadata"]["annotations"]
    assert labels["workflows.argoproj.io/on-exit"] == "true"
    assert labels["workflows.argoproj.io/controller-instanceid"] == "i1"
    assert labels["team"] == "a"
    assert labels["tier"] == "t"
    assert annotations["note"] == "tmpl"


def test_pod_gc_adds_the_strategy_and_delay_annotation() -> None:
    spec = {"podGC": {"strategy": "OnPodSuccess", "deleteDelayDuration": "90s"}}
    pod = build_pod(hello(), ctx(workflow_spec=spec))
    assert pod["metadata"]["annotations"]["workflows.argoproj.io/pod-gc-strategy"] == (
        "OnPodSuccess/1m30s"
    )


@pytest.mark.parametrize(
    ("delay", "annotated"),
    [("120", "2m0s"), ("abc", "5s"), ("-5s", "5s"), ("", "5s")],
)
def test_a_pod_gc_delay_in_seconds_or_unreadable_is_read_as_argo_reads_it(
    delay: str, annotated: str
) -> None:
    """Whole seconds are a duration too; an unreadable or negative one is the controller's
    default (Argo warns and goes on), never an error of the run."""
    spec = {"podGC": {"strategy": "OnPodSuccess", "deleteDelayDuration": delay}}
    pod = build_pod(hello(), ctx(workflow_spec=spec))
    assert pod["metadata"]["annotations"]["workflows.argoproj.io/pod-gc-strategy"] == (
        f"OnPodSuccess/{annotated}"
    )


def test_containers_come_in_argo_order_with_init_and_wait_commands() -> None:
    tmpl = hello(
        initContainers=[{"name": "prep", "image": "busybox", "command": ["true"]}],
        sidecars=[{"name": "db", "image": "redis", "command": ["redis-server"]}],
    )
    pod = build_pod(tmpl, ctx())
    spec = pod["spec"]
    assert [c["name"] for c in spec["initContainers"]] == ["init", "prep"]
    assert [c["name"] for c in spec["containers"]] == ["wait", "main", "db"]
    init, wait = spec["initContainers"][0], spec["containers"][0]
    assert init["image"] == EXEC_IMAGE
    assert init["command"] == ["argoexec", "init", *LOG_FLAGS]
    assert wait["command"] == ["argoexec", "wait", *LOG_FLAGS]


def test_user_containers_are_wrapped_by_the_emissary_and_keep_their_args() -> None:
    tmpl = hello(sidecars=[{"name": "db", "image": "redis", "command": ["redis-server"]}])
    containers = build_pod(tmpl, ctx())["spec"]["containers"]
    main, sidecar = by_name(containers, "main"), by_name(containers, "db")
    assert main["command"] == [*EMISSARY, "echo"]
    assert main["args"] == ["hello world"]
    assert sidecar["command"] == [*EMISSARY, "redis-server"]


def test_user_init_containers_are_not_wrapped() -> None:
    tmpl = hello(initContainers=[{"name": "prep", "image": "busybox", "command": ["true"]}])
    prep = build_pod(tmpl, ctx())["spec"]["initContainers"][1]
    assert prep["command"] == ["true"]
    assert prep["volumeMounts"] == [{"name": "var-run-argo", "mountPath": "/var/run/argo"}]


def test_the_log_flags_come_from_the_controller_settings() -> None:
    pod = build_pod(hello(), ctx(log_level="debug", log_format="json", glog_level=2))
    flags = ["--loglevel", "debug", "--log-format", "json", "--gloglevel", "2"]
    assert pod["spec"]["containers"][0]["command"] == ["argoexec", "wait", *flags]
    assert pod["spec"]["containers"][1]["command"][:9] == [
        "/var/run/argo/argoexec",
        "emissary",
        *flags,
        "--",
    ]


def test_an_empty_command_without_an_images_entry_is_a_clear_error() -> None:
    tmpl = hello(container={"image": "docker/whalesay"})
    with pytest.raises(PodBuildError, match=r"docker/whalesay.*explicitly specify the command"):
        build_pod(tmpl, ctx())


def test_an_empty_command_takes_entrypoint_and_cmd_from_the_images_map() -> None:
    tmpl = hello(container={"image": "docker/whalesay"})
    images = {"docker/whalesay": ImageEntrypoint(entrypoint=["/bin/sh"], cmd=["-c", "cowsay"])}
    main = build_pod(tmpl, ctx(images=images))["spec"]["containers"][1]
    assert main["command"] == [*EMISSARY, "/bin/sh"]
    assert main["args"] == ["-c", "cowsay"]


def test_an_explicit_empty_args_list_is_kept_when_the_image_has_a_cmd() -> None:
    tmpl = hello(container={"image": "img", "args": []})
    images = {"img": ImageEntrypoint(entrypoint=["/run"], cmd=["default"])}
    main = build_pod(tmpl, ctx(images=images))["spec"]["containers"][1]
    assert main["command"] == [*EMISSARY, "/run"]
    assert main["args"] == []


def test_exec_containers_start_with_the_executor_env() -> None:
    executor_env = [{"name": "TRANSIENT_ERROR_PATTERN", "value": "boom"}]
    wait = build_pod(hello(), ctx(instance_id="i1", executor_env=executor_env))["spec"][
        "containers"
    ][0]
    field = {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}
    uid = {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.uid"}}
    assert env_of(wait) == [
        ("ARGO_POD_NAME", field),
        ("ARGO_POD_UID", uid),
        ("ARGO_WORKFLOW_NAME", "wf"),
        ("ARGO_WORKFLOW_UID", "uid-1"),
        ("ARGO_INSTANCE_ID", "i1"),
        ("TRANSIENT_ERROR_PATTERN", "boom"),
        ("ARGO_CONTAINER_NAME", "wait"),
        ("ARGO_NODE_ID", "wf-2592359500"),
        ("ARGO_INCLUDE_SCRIPT_OUTPUT", "false"),
        ("ARGO_DEADLINE", "0001-01-01T00:00:00Z"),
        ("ARGO_WORKFLOW_NAME", "wf"),
        ("ARGO_PROGRESS_FILE", "/var/run/argo/progress"),
        ("ARGO_PROGRESS_PATCH_TICK_DURATION", "1m0s"),
        ("ARGO_PROGRESS_FILE_TICK_DURATION", "3s"),
    ]


def test_user_env_comes_first_so_argo_values_win() -> None:
    tmpl = hello(
        container={
            "image": "alpine",
            "command": ["env"],
            "env": [{"name": "ARGO_NODE_ID", "value": "mine"}, {"name": "A", "value": "1"}],
        }
    )
    deadline = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    main = build_pod(tmpl, ctx(include_script_output=True, deadline=deadline))["spec"][
        "containers"
    ][1]
    names = [name for name, _ in env_of(main)]
    assert names[:3] == ["ARGO_NODE_ID", "A", "ARGO_CONTAINER_NAME"]
    assert env_of(main)[3:6] == [
        ("ARGO_NODE_ID", "wf-2592359500"),
        ("ARGO_INCLUDE_SCRIPT_OUTPUT", "true"),
        ("ARGO_DEADLINE", "2030-01-02T03:04:05Z"),
    ]
    assert "ARGO_TEMPLATE" not in names


def test_zero_progress_ticks_leave_out_the_progress_env() -> None:
    main = build_pod(hello(), ctx(progress_file_tick_seconds=0))["spec"]["containers"][1]
    assert not [n for n, _ in env_of(main) if n.startswith("ARGO_PROGRESS")]


def test_init_containers_carry_the_template_without_input_parameters() -> None:
    tmpl = hello(initContainers=[{"name": "prep", "image": "busybox", "command": ["true"]}])
    pod = build_pod(tmpl, ctx())
    for init in pod["spec"]["initContainers"]:
        names = [n for n, _ in env_of(init)]
        assert names[names.index("ARGO_CONTAINER_NAME") + 1] == "ARGO_TEMPLATE"
    value = dict(env_of(pod["spec"]["initContainers"][0]))["ARGO_TEMPLATE"]
    assert value.startswith('{"name":"hello","inputs":{},"outputs":{},"metadata":{},"container":')
    decoded = json.loads(value)
    assert decoded["inputs"] == {}
    assert decoded["container"]["command"] == ["echo"]


def test_the_template_json_escapes_html_characters_like_go() -> None:
    tmpl = hello(container={"image": "a", "command": ["sh", "-c", "a && b < c > d"]})
    init = build_pod(tmpl, ctx())["spec"]["initContainers"][0]
    value = dict(env_of(init))["ARGO_TEMPLATE"]
    assert "a \\u0026\\u0026 b \\u003c c \\u003e d" in value


def test_wait_mirrors_main_mounts_before_tmp_and_var_run_argo() -> None:
    tmpl = hello(
        container={
            "image": "alpine",
            "command": ["ls"],
            "volumeMounts": [{"name": "data", "mountPath": "/data/", "readOnly": True}],
        },
        volumes=[{"name": "data", "emptyDir": {}}],
    )
    pod = build_pod(tmpl, ctx())
    wait, main = pod["spec"]["containers"]
    assert wait["volumeMounts"] == [
        {"name": "data", "mountPath": "/mainctrfs/data", "readOnly": False},
        {"name": "tmp-dir-argo", "mountPath": "/tmp", "subPath": "0"},
        {"name": "var-run-argo", "mountPath": "/var/run/argo"},
    ]
    assert main["volumeMounts"] == [
        {"name": "data", "mountPath": "/data/", "readOnly": True},
        {"name": "var-run-argo", "mountPath": "/var/run/argo"},
    ]
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["var-run-argo", "tmp-dir-argo", "data"]


def test_workflow_volumes_and_claims_are_added_only_when_referenced() -> None:
    tmpl = hello(
        container={
            "image": "alpine",
            "command": ["ls"],
            "volumeMounts": [{"name": "claim", "mountPath": "/c"}],
        }
    )
    spec = {"volumes": [{"name": "unused", "emptyDir": {}}]}
    claims = [{"name": "claim", "persistentVolumeClaim": {"claimName": "wf-claim"}}]
    pod = build_pod(tmpl, ctx(workflow_spec=spec, persistent_volume_claims=claims))
    assert pod["spec"]["volumes"][2:] == claims


def test_an_unknown_volume_mount_is_an_error() -> None:
    tmpl = hello(
        container={
            "image": "a",
            "command": ["ls"],
            "volumeMounts": [{"name": "x", "mountPath": "/x"}],
        }
    )
    with pytest.raises(PodBuildError, match="volume 'x' not found in workflow spec"):
        build_pod(tmpl, ctx())


def test_sidecars_can_mirror_the_main_mounts() -> None:
    tmpl = hello(
        container={
            "image": "a",
            "command": ["ls"],
            "volumeMounts": [{"name": "v", "mountPath": "/v"}],
        },
        volumes=[{"name": "v", "emptyDir": {}}],
        sidecars=[{"name": "s", "image": "b", "command": ["x"], "mirrorVolumeMounts": True}],
    )
    sidecar = build_pod(tmpl, ctx())["spec"]["containers"][2]
    assert "mirrorVolumeMounts" not in sidecar
    assert [m["mountPath"] for m in sidecar["volumeMounts"]] == ["/v", "/var/run/argo"]


def test_the_active_deadline_is_the_smaller_of_template_and_workflow_deadlines() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    soon = ctx(now=now, workflow_deadline=now + timedelta(seconds=30))
    later = ctx(now=now, workflow_deadline=now + timedelta(seconds=300))
    assert build_pod(hello(activeDeadlineSeconds=60), soon)["spec"]["activeDeadlineSeconds"] == 30
    assert build_pod(hello(activeDeadlineSeconds=60), later)["spec"]["activeDeadlineSeconds"] == 60
    exit_pod = build_pod(hello(), ctx(now=now, workflow_deadline=now, on_exit=True))
    assert "activeDeadlineSeconds" not in exit_pod["spec"]


def test_no_pod_is_built_after_the_workflow_deadline() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(WorkflowDeadlineExceededError):
        build_pod(hello(), ctx(now=now, workflow_deadline=now - timedelta(seconds=1)))


def test_a_debug_pause_removes_the_active_deadline() -> None:
    tmpl = hello(
        activeDeadlineSeconds=60,
        container={
            "image": "a",
            "command": ["x"],
            "env": [{"name": "ARGO_DEBUG_PAUSE_BEFORE", "value": "true"}],
        },
    )
    assert "activeDeadlineSeconds" not in build_pod(tmpl, ctx())["spec"]


def test_a_termination_grace_period_reaches_the_pod_and_its_containers() -> None:
    pod = build_pod(hello(), ctx(termination_grace_period_seconds=5))
    assert pod["spec"]["terminationGracePeriodSeconds"] == 5
    for container in pod["spec"]["containers"]:
        assert ("ARGO_TERMINATION_GRACE_PERIOD_SECONDS", "5") in env_of(container)


def test_scheduling_and_service_account_come_from_template_then_workflow() -> None:
    spec = {
        "serviceAccountName": "wf-sa",
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "k"}],
        "imagePullSecrets": [{"name": "regcred"}],
        "hostAliases": [{"ip": "1.2.3.4", "hostnames": ["a"]}],
    }
    tmpl = hello(
        serviceAccountName="tmpl-sa",
        nodeSelector={"gpu": "yes"},
        hostAliases=[{"ip": "5.6.7.8", "hostnames": ["b"]}],
    )
    pod_spec = build_pod(tmpl, ctx(workflow_spec=spec))["spec"]
    assert pod_spec["serviceAccountName"] == "tmpl-sa"
    assert pod_spec["nodeSelector"] == {"gpu": "yes"}
    assert pod_spec["tolerations"] == [{"key": "k"}]
    assert pod_spec["imagePullSecrets"] == [{"name": "regcred"}]
    assert [h["ip"] for h in pod_spec["hostAliases"]] == ["1.2.3.4", "5.6.7.8"]


def test_disabling_the_token_needs_an_executor_service_account() -> None:
    with pytest.raises(PodBuildError, match=r"executor\.serviceAccountName must not be empty"):
        build_pod(hello(automountServiceAccountToken=False), ctx())
