"""The podman runtime's translation of Argo's pod (no podman needed), the `images` index, and
the controller configuration `argoexec run --controller-config` reads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from argoexec.commands import UsageError
from argoexec.commands.controller_settings import controller_settings
from argoexec.controller.pod import ImageEntrypoint
from argoexec.controller.runtime.env import EnvError
from argoexec.controller.runtime.images import (
    ImageIndexError,
    PodmanImages,
    image_index,
    index_to_wire,
)
from argoexec.controller.runtime.launch import PodContext
from argoexec.controller.runtime.podman import _instant
from argoexec.controller.runtime.podman_pod import PodmanNames, kube_pod, pod_hostname
from argoexec.controller.runtime.volumes import PodDirs, PodVolumes

EXECUTOR = "localhost/argoexec:latest"


def _pod(**spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "wf-main-1", "namespace": "ns", "labels": {"a": "b"}},
        "spec": spec,
    }


def _play(tmp_path: Path, pod: dict[str, Any], secrets: Path | None = None) -> dict[str, Any]:
    dirs = PodDirs(tmp_path / "pods" / "wf-main-1")
    dirs.create()
    volumes = PodVolumes(
        dirs,
        pod["spec"].get("volumes") or [],
        secrets=secrets,
        config_maps={"cm": {"k": "from-config-map"}},
        claims=tmp_path / "claims",
    )
    volumes.prepare()
    ctx = PodContext(pod, dirs, volumes, secrets, {"cm": {"k": "from-config-map"}})
    return kube_pod(ctx, PodmanNames("argoexec-x"), EXECUTOR)


def test_mounts_become_host_paths_of_the_prepared_volumes(tmp_path: Path) -> None:
    pod = _pod(
        volumes=[
            {"name": "var-run-argo", "emptyDir": {}},
            {"name": "cfg", "configMap": {"name": "cm"}},
        ],
        containers=[
            {
                "name": "main",
                "image": "busybox",
                "command": ["sh"],
                "volumeMounts": [
                    {"name": "var-run-argo", "mountPath": "/var/run/argo"},
                    {"name": "cfg", "mountPath": "/cfg"},
                    {"name": "var-run-argo", "mountPath": "/again", "subPath": "sub"},
                ],
            }
        ],
    )
    doc = _play(tmp_path, pod)
    assert doc["metadata"]["name"] == "argoexec-x-wf-main-1"
    assert doc["metadata"]["annotations"]["io.podman.annotations.init.container.type"] == "always"
    assert doc["spec"]["restartPolicy"] == "Never"
    volumes = {v["name"]: v["hostPath"] for v in doc["spec"]["volumes"]}
    mounts = {m["mountPath"]: m for m in doc["spec"]["containers"][0]["volumeMounts"]}
    var_run = volumes[mounts["/var/run/argo"]["name"]]
    assert var_run == {
        "path": str(tmp_path / "pods/wf-main-1/volumes/var-run-argo"),
        "type": "Directory",
    }
    assert os.stat(var_run["path"]).st_mode & 0o777 == 0o777  # any uid writes an emptyDir
    cfg = volumes[mounts["/cfg"]["name"]]
    assert Path(cfg["path"], "k").read_text() == "from-config-map"
    assert mounts["/cfg"]["readOnly"] is True
    assert volumes[mounts["/again"]["name"]]["path"].endswith("var-run-argo/sub")
    termination = volumes[mounts["/dev/termination-log"]["name"]]
    assert termination["path"] == str(tmp_path / "pods/wf-main-1/termination/main")


def test_env_is_resolved_and_command_references_expanded(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    (secrets / "creds").mkdir(parents=True)
    (secrets / "creds" / "token").write_text("s3cr3t")
    pod = _pod(
        containers=[
            {
                "name": "main",
                "image": "busybox",
                "command": ["echo", "$(GREETING)", "$$(LITERAL)"],
                "env": [
                    {"name": "GREETING", "value": "hi"},
                    {
                        "name": "TOKEN",
                        "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}},
                    },
                    {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
                    {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                ],
            }
        ]
    )
    main = _play(tmp_path, pod, secrets)["spec"]["containers"][0]
    assert main["command"] == ["echo", "hi", "$(LITERAL)"]
    assert "args" not in main
    assert {e["name"]: e["value"] for e in main["env"]} == {
        "GREETING": "hi",
        "TOKEN": "s3cr3t",
        "CM": "from-config-map",
        "NS": "ns",
    }


def test_an_absent_secret_is_a_configuration_error(tmp_path: Path) -> None:
    ref = {"secretKeyRef": {"name": "nope", "key": "k"}}
    pod = _pod(
        containers=[
            {
                "name": "main",
                "image": "x",
                "command": ["true"],
                "env": [{"name": "A", "valueFrom": ref}],
            }
        ]
    )
    with pytest.raises(EnvError, match="nope"):
        _play(tmp_path, pod, tmp_path)


def test_args_alone_keep_the_image_entrypoint_and_nothing_keeps_both(tmp_path: Path) -> None:
    pod = _pod(
        containers=[
            {
                "name": "a",
                "image": "img",
                "args": ["x", "$(V)"],
                "env": [{"name": "V", "value": "v"}],
            },
            {"name": "b", "image": "img"},
        ]
    )
    a, b = _play(tmp_path, pod)["spec"]["containers"]
    assert "command" not in a and a["args"] == ["x", "v"]
    assert "command" not in b and "args" not in b


def test_pull_policy_and_the_executor_user(tmp_path: Path) -> None:
    pod = _pod(
        initContainers=[{"name": "init", "image": EXECUTOR, "command": ["argoexec", "init"]}],
        containers=[
            {
                "name": "wait",
                "image": EXECUTOR,
                "command": ["argoexec", "wait"],
                "securityContext": {"runAsUser": 1000},
            },
            {"name": "main", "image": "localhost/busybox:test", "command": ["true"]},
            {
                "name": "side",
                "image": "docker.io/library/nginx:latest",
                "command": ["true"],
                "imagePullPolicy": "Never",
            },
            {"name": "other", "image": "quay.io/x/y:1", "command": ["true"]},
        ],
    )
    doc = _play(tmp_path, pod)
    init = doc["spec"]["initContainers"][0]
    wait, main, side, other = doc["spec"]["containers"]
    # Executor containers write into the run's host directories: this process's user, unless set.
    assert init["securityContext"] == {"runAsUser": os.getuid(), "runAsGroup": os.getgid()}
    assert wait["securityContext"] == {"runAsUser": 1000}
    assert "securityContext" not in main
    assert main["imagePullPolicy"] == "Never"  # localhost/ cannot come from a registry
    assert side["imagePullPolicy"] == "Never"
    assert "imagePullPolicy" not in other  # podman's default, as Kubernetes'


def test_resources_keep_limits_only(tmp_path: Path) -> None:
    resources = {"limits": {"memory": "64Mi"}, "requests": {"cpu": "100m"}}
    pod = _pod(
        containers=[{"name": "main", "image": "x", "command": ["true"], "resources": resources}]
    )
    main = _play(tmp_path, pod)["spec"]["containers"][0]
    assert main["resources"] == {"limits": {"memory": "64Mi"}}


def test_names_are_unique_per_state_directory() -> None:
    one, two = PodmanNames.of("/state/a"), PodmanNames.of("/state/b")
    assert one.pod("p") != two.pod("p")
    assert one.container("p", "main") == one.pod("p") + "-main"


def test_the_hostname_is_the_pods_name_within_linuxs_limit(tmp_path: Path) -> None:
    # 47 + 18 characters of prefix: podman's own hostname would be 65 (sethostname fails).
    name = "skipped-output-defaults-2jrlc-report-2284743195"
    assert _play(tmp_path, _pod())["spec"]["hostname"] == "wf-main-1"
    assert pod_hostname(name) == name
    assert pod_hostname("a" * 62 + "-b") == "a" * 62
    assert pod_hostname("x", "given") == "given"


def test_podman_times_keep_microseconds() -> None:
    assert _instant("2026-12-07T06:10:56.97233502Z") == pytest.approx(1796623856.972335)
    assert _instant("2026-12-07T06:10:56Z") == 1796623856.0
    assert _instant("0001-01-01T00:00:00Z") is None
    assert _instant("garbage") is None


# --- the images index --------------------------------------------------------------------------


def test_image_index_reads_argo_shape_and_round_trips() -> None:
    raw = {
        "argoproj/argosay:v2": {"cmd": ["/argosay"]},
        "x:1": {"entrypoint": ["/e"], "cmd": ["c"]},
    }
    index = image_index(raw)
    assert index["argoproj/argosay:v2"] == ImageEntrypoint((), ("/argosay",))
    assert index["x:1"] == ImageEntrypoint(("/e",), ("c",))
    assert image_index(index_to_wire(index)) == index


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (["a"], "images: must be a map"),
        ({"a": "cmd"}, "images.a: must be a map"),
        ({"a": {"command": ["x"]}}, "images.a: unknown field 'command'"),
        ({"a": {"cmd": "x"}}, "images.a.cmd: must be a list of strings"),
    ],
)
def test_a_bad_image_index_names_the_entry(raw: object, message: str) -> None:
    with pytest.raises(ImageIndexError, match=message):
        image_index(raw)


def test_the_index_wins_over_podman() -> None:
    images = PodmanImages({"img": ImageEntrypoint(("/from-index",))})
    assert images["img"].entrypoint == ("/from-index",)
    assert "img" in images and len(images) == 1


def test_controller_config_as_a_configmap_or_plain(tmp_path: Path) -> None:
    configmap = tmp_path / "cm.yaml"
    configmap.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: workflow-controller-configmap}\n"
        "data:\n  images: |\n    argoproj/argosay:v2:\n      cmd: [/argosay]\n"
    )
    assert controller_settings(configmap).images == {
        "argoproj/argosay:v2": ImageEntrypoint((), ("/argosay",))
    }
    plain = tmp_path / "config.yaml"
    plain.write_text("images:\n  a:1: {entrypoint: [/a]}\nparallelism: 3\n")
    assert controller_settings(plain).images == {"a:1": ImageEntrypoint(("/a",), None)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: ConfigMap\ndata:\n  images: 'a: [1'\n", "cm.yaml: data.images: not YAML"),
        ("images: {a: {cmd: 3}}\n", r"cm.yaml: images.a.cmd: must be a list"),
        ("- a\n", "expected a ConfigMap or a map"),
    ],
)
def test_a_bad_controller_config_is_refused_with_its_place(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "cm.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        controller_settings(path)


def test_a_missing_controller_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the controller configuration"):
        controller_settings(tmp_path / "absent.yaml")


def test_k8s_file_logs_read_as_the_container_wrote_them(tmp_path: Path) -> None:
    from argoexec.controller.runtime.podman import _k8s_file_log

    log = tmp_path / "ctr.log"
    log.write_bytes(
        b"2026-12-07T06:24:19.270337666+00:00 stdout F out\n"
        b"2026-12-07T06:24:19.272391583+00:00 stdout P part\n"
        b"2026-12-07T06:24:19.272391583+00:00 stdout F ial line\n"
        b"2026-12-07T06:24:19.272396530+00:00 stderr F err with  two spaces\n"
        b"2026-12-07T06:24:19.272396530+00:00 stdout F \n"
    )
    assert _k8s_file_log(log) == "out\npartial line\nerr with  two spaces\n\n"
    assert _k8s_file_log(tmp_path / "absent") is None


def test_the_podman_runtime_without_podman_is_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from argoexec.commands.run import _check_podman

    monkeypatch.setenv("PATH", str(tmp_path))  # no podman on it
    with pytest.raises(UsageError, match="the podman runtime needs podman: it is not on PATH"):
        _check_podman("localhost/argoexec:latest")
