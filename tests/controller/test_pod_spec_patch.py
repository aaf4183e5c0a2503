"""`podSpecPatch` on the built pod (Argo's processPodSpecPatch + ApplyPodSpecPatch): the
workflow's, then the template's, after the env and before the emissary wrapping; a bad patch
is a node error naming the template and the cause."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller.pod import PodBuildError, build_pod
from argoexec.controller.runtime.launch import PodContext as RuntimePod
from argoexec.controller.runtime.podman_pod import PodmanNames, kube_pod
from argoexec.controller.runtime.volumes import PodDirs, PodVolumes
from tests.controller.reconcile_double import Cluster, nodes_by_name, settle, step, workflow
from tests.controller.test_pod_container import EMISSARY, by_name, ctx, hello
from tests.controller.test_reconcile import T0


def test_a_template_patch_sets_the_main_containers_resources_and_keeps_the_rest() -> None:
    patch = '{"containers":[{"name":"main", "resources":{"limits":{"cpu": "100m"}}}]}'
    pod = build_pod(hello(podSpecPatch=patch), ctx())
    main = by_name(pod["spec"]["containers"], "main")
    assert main["resources"] == {"limits": {"cpu": "100m"}}
    assert main["command"] == [*EMISSARY, "echo"]
    assert [c["name"] for c in pod["spec"]["containers"]] == ["wait", "main"]


def test_the_workflow_patch_applies_first_and_the_template_patch_wins() -> None:
    workflow_patch = (
        "containers:\n- name: main\n  env: [{name: A, value: wf}, {name: B, value: wf}]\n"
    )
    template_patch = "containers:\n- name: main\n  env: [{name: A, value: tmpl}]\n"
    pod = build_pod(
        hello(podSpecPatch=template_patch),
        ctx(workflow_spec={"podSpecPatch": workflow_patch}),
    )
    env = {e["name"]: e.get("value") for e in by_name(pod["spec"]["containers"], "main")["env"]}
    assert (env["A"], env["B"]) == ("tmpl", "wf")
    assert "ARGO_CONTAINER_NAME" in env  # the builder's own env is there before the patch


def test_patched_args_run_under_the_emissary_and_an_added_container_is_wrapped_too() -> None:
    patch = """
containers:
- name: main
  args: [patched]
- name: extra
  image: busybox
  command: [sleep, "1"]
"""
    pod = build_pod(hello(podSpecPatch=patch), ctx())
    containers = pod["spec"]["containers"]
    assert by_name(containers, "main")["args"] == ["patched"]
    extra = by_name(containers, "extra")
    assert extra["command"] == [*EMISSARY, "sleep", "1"]
    assert {"name": "var-run-argo", "mountPath": "/var/run/argo"} in extra["volumeMounts"]


def test_pod_level_fields_and_deletions_are_patched() -> None:
    patch = {
        "priorityClassName": "high",
        "nodeSelector": {"disk": "ssd"},
        "volumes": [{"name": "tmp-dir", "$patch": "delete"}],
    }
    pod = build_pod(hello(podSpecPatch=json.dumps(patch)), ctx())
    assert pod["spec"]["priorityClassName"] == "high"
    assert pod["spec"]["nodeSelector"] == {"disk": "ssd"}
    assert "tmp-dir" not in [v["name"] for v in pod["spec"]["volumes"]]


@pytest.mark.parametrize(
    ("patch", "cause"),
    [
        ("containers: main", "containers: expected a list, got a string"),
        ("{not json", "Expecting property name"),
        ("containers: [{image: x}]", "does not contain declared merge key: name"),
        # A pod without main never ends (wait waits for it); without wait it reports nothing.
        ("containers: [{name: main, $patch: delete}]", "removes the container 'main'"),
        ("containers: [{$patch: replace}, {name: x, image: x}]", "removes the container 'wait'"),
        ("initContainers: [{$patch: replace}]", "removes the container 'init'"),
    ],
)
def test_a_patch_that_is_not_a_pod_spec_is_a_build_error_naming_it(patch: str, cause: str) -> None:
    with pytest.raises(PodBuildError) as caught:
        build_pod(hello(podSpecPatch=patch), ctx())
    message = str(caught.value)
    assert message.startswith("invalid podSpecPatch (the template's podSpecPatch): "), message
    assert cause in message


def _patched(spec: dict[str, Any]) -> dict[str, Any]:
    wf = workflow(spec)
    cluster = Cluster()
    step(wf, cluster, T0)
    return next(iter(cluster.specs.values()))


def test_the_reconciler_substitutes_both_patches_with_the_templates_variables() -> None:
    env = '[{"name":"POD","value":"{{pod.name}}"}]'
    limits = "{limits: {memory: '{{inputs.parameters.mem}}'}}"
    spec = {
        "entrypoint": "main",
        "podSpecPatch": '{"containers":[{"name":"main","env":' + env + "}]}",
        "templates": [
            {
                "name": "main",
                "inputs": {"parameters": [{"name": "mem", "value": "32Mi"}]},
                "podSpecPatch": f"containers:\n- name: main\n  resources: {limits}\n",
                "container": {"image": "alpine", "command": ["true"]},
            }
        ],
    }  # fmt: skip
    pod = _patched(spec)
    main = by_name(pod["spec"]["containers"], "main")
    assert main["resources"] == {"limits": {"memory": "32Mi"}}
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert env["POD"] == pod["metadata"]["name"]


def test_a_bad_patch_errors_the_node_naming_the_template() -> None:
    spec = {
        "entrypoint": "main",
        "templates": [
            {"name": "main", "podSpecPatch": "containers: 3",
             "container": {"image": "alpine", "command": ["true"]}},
        ],
    }  # fmt: skip
    wf = workflow(spec)
    settle(wf, Cluster(), T0)
    node = nodes_by_name(wf)["wf"]
    assert node["phase"] == "Error"
    assert node["message"] == (
        "template 'main': invalid podSpecPatch (the template's podSpecPatch): "
        "containers: expected a list, got a number"
    )
    assert wf["status"]["phase"] == "Error"


def test_the_podman_runtime_plays_the_patched_limits_args_and_env(tmp_path: Path) -> None:
    patch = """
containers:
- name: main
  args: [patched]
  env: [{name: EXTRA, value: "yes"}]
  resources: {limits: {memory: 64Mi, cpu: 100m}}
"""
    pod = build_pod(hello(podSpecPatch=patch), ctx())
    dirs = PodDirs(tmp_path / "pod")
    dirs.create()
    volumes = PodVolumes(
        dirs, pod["spec"].get("volumes") or [], secrets=None, config_maps={},
        claims=tmp_path / "claims",
    )  # fmt: skip
    volumes.prepare()
    played = kube_pod(RuntimePod(pod, dirs, volumes, None, {}), PodmanNames("x"), "executor")
    main = next(c for c in played["spec"]["containers"] if c["name"].endswith("main"))
    assert main["resources"] == {"limits": {"memory": "64Mi", "cpu": "100m"}}
    assert main["command"][-2:] == ["echo", "patched"]  # command and args, expanded
    assert {"name": "EXTRA", "value": "yes"} in main["env"]
