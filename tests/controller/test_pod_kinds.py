"""Per-kind pod shapes (argo-contract.md §1.7) and offloading (§1.6)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from argoexec.controller.pod import PodBuildError, PodContext, build_pod, build_pod_objects
from argoexec.models import ArtifactRepository, Template

FLAGS = ["--loglevel", "info", "--log-format", "text", "--gloglevel", "0"]
EMISSARY = ["/var/run/argo/argoexec", "emissary", *FLAGS, "--"]
EXEC_IMAGE = "quay.io/argoproj/argoexec:v4.1.2"
POD = "wf-hello-2592359500"


def ctx(**extra: Any) -> PodContext:
    return PodContext(workflow_name="wf", node_name="wf[0].hello", **extra)


def tmpl(**body: Any) -> Template:
    return Template.model_validate({"name": "hello", **body})


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in container["env"]}


def mounts(container: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["name"], m["mountPath"]) for m in container["volumeMounts"]]


def test_a_script_runs_the_staged_source_as_the_last_argument() -> None:
    script = {"image": "python:3", "command": ["python"], "args": ["-u"], "source": "print(1)"}
    pod = build_pod(tmpl(script=script), ctx())
    init = pod["spec"]["initContainers"][0]
    wait, main = pod["spec"]["containers"]
    assert main["name"] == "main"
    assert "source" not in main
    assert main["command"] == [*EMISSARY, "python"]
    assert main["args"] == ["-u", "/argo/staging/script"]
    assert {"name": "argo-staging", "emptyDir": {}} in pod["spec"]["volumes"]
    assert ("argo-staging", "/argo/staging") in mounts(init)
    assert mounts(main) == [("argo-staging", "/argo/staging"), ("var-run-argo", "/var/run/argo")]
    assert ("argo-staging", "/mainctrfs/argo/staging") in mounts(wait)
    assert json.loads(env(init)["ARGO_TEMPLATE"])["script"]["source"] == "print(1)"


def test_a_script_without_source_gets_no_extra_argument() -> None:
    pod = build_pod(tmpl(script={"image": "a", "command": ["sh"], "source": ""}), ctx())
    assert "args" not in pod["spec"]["containers"][1]


def test_a_resource_template_runs_argoexec_resource_without_a_wait_container() -> None:
    resource = {"action": "create", "manifest": "kind: ConfigMap"}
    pod = build_pod(tmpl(resource=resource), ctx(include_script_output=True))
    containers = pod["spec"]["containers"]
    assert [c["name"] for c in containers] == ["main"]
    main = containers[0]
    assert main["image"] == EXEC_IMAGE
    assert main["command"] == [*EMISSARY, "argoexec", "resource", "create", *FLAGS]
    assert mounts(main) == [("tmp-dir-argo", "/tmp"), ("var-run-argo", "/var/run/argo")]
    assert main["volumeMounts"][0]["subPath"] == "0"
    assert env(main)["ARGO_INCLUDE_SCRIPT_OUTPUT"] == "false"
    assert env(main)["ARGO_POD_NAME"] is None  # downward API, not a literal value
    assert main["securityContext"] == {
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "runAsUser": 8737,
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    init_sc = pod["spec"]["initContainers"][0]["securityContext"]
    assert "readOnlyRootFilesystem" not in init_sc
    assert init_sc["runAsUser"] == 8737


def test_a_resource_template_archiving_logs_gets_a_wait_container() -> None:
    repo = ArtifactRepository.model_validate({"s3": {"endpoint": "e", "bucket": "b"}})
    resource = {"action": "apply", "manifest": "kind: ConfigMap"}
    pod = build_pod(
        tmpl(resource=resource), ctx(artifact_repository=repo, workflow_spec={"archiveLogs": True})
    )
    wait, main = pod["spec"]["containers"]
    assert wait["name"] == "wait"
    assert "readOnlyRootFilesystem" not in wait["securityContext"]
    assert main["volumeMounts"][0] == {"name": "tmp-dir-argo", "mountPath": "/tmp", "subPath": "1"}


def test_a_configured_executor_security_context_replaces_the_default() -> None:
    resource = {"action": "delete", "manifest": "kind: ConfigMap"}
    sc = {"runAsUser": 1000}
    pod = build_pod(
        tmpl(resource=resource), ctx(executor_security_context=sc, executor_args=["--extra"])
    )
    main = pod["spec"]["containers"][0]
    assert main["securityContext"] == sc
    assert main["args"] == ["--extra"]
    assert pod["spec"]["initContainers"][0]["args"] == ["--extra"]


def test_a_data_template_passes_its_json_and_always_includes_script_output() -> None:
    data = {
        "source": {
            "artifactPaths": {
                "name": "src",
                "s3": {
                    "endpoint": "e",
                    "bucket": "b",
                    "key": "k",
                    "accessKeySecret": {"name": "cred", "key": "ak"},
                },
            }
        },
        "transformation": [{"expression": "filter(data, {# endsWith '.py'})"}],
    }
    pod = build_pod(tmpl(data=data), ctx())
    containers = pod["spec"]["containers"]
    assert [c["name"] for c in containers] == ["main"]
    main = containers[0]
    command = main["command"]
    assert command[: len(EMISSARY) + 2] == [*EMISSARY, "argoexec", "data"]
    assert json.loads(command[len(EMISSARY) + 2]) == data
    assert command[len(EMISSARY) + 3 :] == FLAGS
    assert env(main)["ARGO_INCLUDE_SCRIPT_OUTPUT"] == "true"
    assert ("cred", "/argo/secret/cred") in mounts(main)


def test_container_set_members_keep_their_names_and_are_each_wrapped() -> None:
    cset = {
        "volumeMounts": [{"name": "ws", "mountPath": "/workspace"}],
        "containers": [
            {"name": "a", "image": "alpine", "command": ["echo", "a"]},
            {"name": "b", "image": "alpine", "command": ["echo", "b"], "dependencies": ["a"]},
        ],
    }
    pod = build_pod(tmpl(containerSet=cset, volumes=[{"name": "ws", "emptyDir": {}}]), ctx())
    containers = pod["spec"]["containers"]
    assert [c["name"] for c in containers] == ["wait", "a", "b"]
    a, b = containers[1:]
    assert "dependencies" not in b
    assert b["command"] == [*EMISSARY, "echo", "b"]
    assert mounts(a) == [("ws", "/workspace"), ("var-run-argo", "/var/run/argo")]
    assert env(b)["ARGO_CONTAINER_NAME"] == "b"
    assert pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == "b"
    # Only a member named `main` is mirrored on wait (Argo's addOutputArtifactsVolumes).
    assert mounts(containers[0]) == [("tmp-dir-argo", "/tmp"), ("var-run-argo", "/var/run/argo")]
    init_tmpl = json.loads(env(pod["spec"]["initContainers"][0])["ARGO_TEMPLATE"])
    assert init_tmpl["containerSet"]["containers"][1]["dependencies"] == ["a"]


def test_an_unnamed_container_set_member_is_main_and_the_default_container() -> None:
    cset = {
        "containers": [
            {"image": "alpine", "command": ["true"]},
            {"name": "x", "image": "a", "command": ["true"]},
        ]
    }
    pod = build_pod(tmpl(containerSet=cset), ctx())
    assert [c["name"] for c in pod["spec"]["containers"]] == ["wait", "main", "x"]
    assert pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == "main"


def test_a_template_beyond_128_kib_is_offloaded_to_a_config_map_named_like_the_pod() -> None:
    source = "x" * 131073
    objects = build_pod_objects(
        tmpl(script={"image": "a", "command": ["sh"], "source": source}), ctx(workflow_uid="uid")
    )
    pod, cm = objects.pod, objects.config_map
    assert cm is not None
    assert cm["metadata"]["name"] == POD
    assert cm["metadata"]["labels"] == {"workflows.argoproj.io/workflow": "wf"}
    assert cm["metadata"]["annotations"] == {
        "workflows.argoproj.io/node-name": "wf[0].hello",
        "workflows.argoproj.io/node-id": "wf-2592359500",
    }
    assert cm["metadata"]["ownerReferences"][0]["uid"] == "uid"
    assert json.loads(cm["data"]["ARGO_TEMPLATE"])["script"]["source"] == source
    init = pod["spec"]["initContainers"][0]
    assert env(init)["ARGO_TEMPLATE"] == "offloaded"
    assert mounts(init)[-1] == ("argo-env-config", "/argo/config")
    assert {"name": "argo-env-config", "configMap": {"name": POD}} in pod["spec"]["volumes"]
    assert all(
        ("argo-env-config", "/argo/config") not in mounts(c) for c in pod["spec"]["containers"]
    )


def test_a_template_of_exactly_128_kib_stays_inline() -> None:
    def build(size: int) -> Any:
        return build_pod_objects(
            tmpl(script={"image": "a", "command": ["sh"], "source": "x" * size}), ctx()
        )

    init = build(0).pod["spec"]["initContainers"][0]
    base = len(env(init)["ARGO_TEMPLATE"])
    at_limit = build(131072 - base)
    assert at_limit.config_map is None
    assert len(env(at_limit.pod["spec"]["initContainers"][0])["ARGO_TEMPLATE"]) == 131072
    assert build(131073 - base).config_map is not None


def test_oversized_args_move_to_the_config_map() -> None:
    big = ["y" * 140000]
    objects = build_pod_objects(
        tmpl(container={"image": "a", "command": ["echo"], "args": big}), ctx()
    )
    assert objects.config_map is not None
    assert json.loads(objects.config_map["data"]["ARGO_CONTAINER_ARGS_FILE"]) == big
    main = objects.pod["spec"]["containers"][1]
    assert "args" not in main
    assert env(main)["ARGO_CONTAINER_ARGS_FILE"] == "/argo/config/ARGO_CONTAINER_ARGS_FILE"
    assert ("argo-env-config", "/argo/config") in mounts(main)


def test_a_resource_pod_archiving_logs_mounts_the_repository_secret_on_wait() -> None:
    repo = ArtifactRepository.model_validate(
        {"s3": {"endpoint": "e", "bucket": "b", "secretKeySecret": {"name": "c", "key": "sk"}}}
    )
    resource = {"action": "apply", "manifest": "kind: ConfigMap"}
    spec = {"archiveLogs": True}
    pod = build_pod(tmpl(resource=resource), ctx(artifact_repository=repo, workflow_spec=spec))
    wait, main = pod["spec"]["containers"]
    assert ("c", "/argo/secret/c") in mounts(wait)
    assert ("c", "/argo/secret/c") not in mounts(main)


def test_templates_without_a_pod_are_refused() -> None:
    with pytest.raises(PodBuildError, match="does not run in a workflow pod"):
        build_pod(tmpl(steps=[[{"name": "a", "template": "b"}]]), ctx())
