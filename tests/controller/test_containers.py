"""What a workflow's containers see on the local runtime, through ``argoexec run``: a container's
file system and environment, none of the host's private files, ``envFrom``, ``workingDir``, and
the kubelet's words when a container cannot start."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.cli import main
from tests.sandboxing import REPO, require_bubblewrap


def run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: dict[str, Any], *args: str
) -> dict[str, Any]:
    require_bubblewrap()
    doc = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow"}
    doc |= {"metadata": {"generateName": "ctr-"}, "spec": spec}
    path = tmp_path / f"wf-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(doc))
    state = tmp_path / "state"
    main(["run", str(path), "-o", "json", "--state-dir", str(state), *args])
    workflow: dict[str, Any] = json.loads(capsys.readouterr().out)
    return workflow


def node(workflow: dict[str, Any], display: str) -> dict[str, Any]:
    found = [n for n in workflow["status"]["nodes"].values() if n["displayName"] == display]
    assert len(found) == 1, list(workflow["status"]["nodes"].values())
    return found[0]


def script(source: str, **extra: Any) -> dict[str, Any]:
    return {"image": "debian", "command": ["sh"], "source": source, **extra}


@contextlib.contextmanager
def marker(path: Path) -> Iterator[Path]:
    """A file at ``path`` for the test's duration (its directory created if missing)."""
    made = not path.parent.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("private")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        if made:
            path.parent.rmdir()


def test_a_container_sees_none_of_the_hosts_private_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Markers in $HOME, in ~/.ssh, in the checkout and in another run's state directory: a
    workflow that looks for them (and for the checkout itself) finds none."""
    quick = {"entrypoint": "a", "templates": [{"name": "a", "script": script("true")}]}
    other = run(tmp_path, capsys, quick)
    other_state = tmp_path / "state" / other["metadata"]["name"] / "workflow.json"
    assert other_state.is_file()
    tag = uuid.uuid4().hex[:8]
    home, ssh = Path.home() / f".argoexec-marker-{tag}", Path.home() / ".ssh" / f"marker-{tag}"
    checkout = REPO / f".argoexec-marker-{tag}"
    with marker(home), marker(ssh), marker(checkout):
        paths = [home, ssh, checkout, other_state, REPO / "pyproject.toml", Path.home() / ".ssh"]
        probe = "; ".join(f'test -e "{p}" && echo "seen {p}"' for p in paths)
        workflow = run(
            tmp_path,
            capsys,
            {
                "entrypoint": "look",
                "templates": [{"name": "look", "script": script(f"{probe}; echo done")}],
            },
        )
    assert workflow["status"]["phase"] == "Succeeded", workflow["status"]
    assert node(workflow, workflow["metadata"]["name"])["outputs"]["result"] == "done"


def test_a_container_has_an_images_environment_and_the_systems_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = (
        "import json, os, sys\n"
        "try:\n    import argoexec\n    ours = True\nexcept ImportError:\n    ours = False\n"
        "print(json.dumps({'path': os.environ['PATH'], 'home': os.environ['HOME'],"
        " 'host': os.uname().nodename, 'prefix': sys.prefix, 'ours': ours}))\n"
    )
    spec = {
        "entrypoint": "env",
        "templates": [
            {"name": "env", "script": {"image": "python", "command": ["python3"], "source": code}}
        ],
    }
    workflow = run(tmp_path, capsys, spec)
    root = node(workflow, workflow["metadata"]["name"])
    seen = json.loads(root["outputs"]["result"])
    assert seen["path"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert seen["home"] == "/root"
    assert seen["host"] == workflow["metadata"]["name"]  # the pod's name
    assert seen["prefix"] in ("/usr", "/usr/local")
    assert seen["ours"] is False


def test_env_from_config_maps_and_secrets_with_prefixes_and_env_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"
        "data: {MODE: fast, LEVEL: '3', 'bad=key': x}\n"
    )
    secrets = tmp_path / "secrets" / "creds"
    secrets.mkdir(parents=True)
    (secrets / "TOKEN").write_text("s3cr3t")
    (secrets / "MODE").write_text("from-secret")
    container = {
        "image": "debian",
        "command": ["sh", "-c", 'echo "$MODE $CFG_LEVEL $TOKEN $LEVEL ${MISSING:-unset}"'],
        "envFrom": [
            {"configMapRef": {"name": "settings"}},
            {"configMapRef": {"name": "settings"}, "prefix": "CFG_"},
            {"secretRef": {"name": "creds"}},
            {"configMapRef": {"name": "absent", "optional": True}},
        ],
        "env": [{"name": "LEVEL", "value": "override"}],
    }
    spec = {"entrypoint": "e", "templates": [{"name": "e", "container": container}]}
    args = ["--templates", str(config), "--secrets-dir", str(tmp_path / "secrets")]
    workflow = run(tmp_path, capsys, spec, *args)
    assert workflow["status"]["phase"] == "Succeeded", workflow["status"]
    logs = Path(tmp_path / "state" / workflow["metadata"]["name"] / "pods")
    main_log = next(logs.glob("*/logs/main.log")).read_text()
    # A later source wins (the secret's MODE), env wins over envFrom, prefixes apply.
    assert main_log.strip().splitlines()[-1] == "from-secret 3 s3cr3t override unset"


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ({"configMapRef": {"name": "nope"}}, 'configmap "nope" not found'),
        ({"secretRef": {"name": "nope"}}, 'secret "nope" not found'),
    ],
)
def test_a_missing_env_from_source_is_a_create_container_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], source: dict[str, Any], words: str
) -> None:
    container = {"image": "debian", "command": ["true"], "envFrom": [source]}
    spec = {"entrypoint": "e", "templates": [{"name": "e", "container": container}]}
    workflow = run(tmp_path, capsys, spec)
    root = node(workflow, workflow["metadata"]["name"])
    assert root["phase"] == "Error"
    assert root["message"] == (
        f"Pod failed before main container starts due to CreateContainerConfigError: {words}"
    )


def test_a_missing_key_of_an_env_reference_is_named_as_the_kubelet_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {A: b}\n")
    ref = {"configMapKeyRef": {"name": "settings", "key": "B"}}
    container = {"image": "debian", "command": ["true"], "env": [{"name": "X", "valueFrom": ref}]}
    spec = {"entrypoint": "e", "templates": [{"name": "e", "container": container}]}
    workflow = run(tmp_path, capsys, spec, "--templates", str(config))
    message = node(workflow, workflow["metadata"]["name"])["message"]
    assert message.endswith(
        "CreateContainerConfigError: couldn't find key B in ConfigMap default/settings"
    )


def test_a_working_directory_that_does_not_exist_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = {
        "entrypoint": "w",
        "templates": [{"name": "w", "script": script("pwd", workingDir="/srv/app/build")}],
    }
    workflow = run(tmp_path, capsys, spec)
    assert node(workflow, workflow["metadata"]["name"])["outputs"]["result"] == "/srv/app/build"


def test_a_command_that_is_not_found_is_named_in_the_node_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = {
        "entrypoint": "x",
        "templates": [
            {"name": "x", "container": {"image": "debian", "command": ["no-such-program"]}},
        ],
    }
    root = node(workflow := run(tmp_path, capsys, spec), workflow["metadata"]["name"])
    assert root["phase"] == "Failed"
    assert root["message"] == (
        'main: Error (exit code 64): failed to find name in PATH: exec: "no-such-program": '
        "executable file not found in $PATH"
    )


def test_an_init_container_that_cannot_start_is_a_start_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {
        "name": "x",
        "initContainers": [{"name": "prep", "image": "debian", "command": ["no-such-tool"]}],
        "container": {"image": "debian", "command": ["true"]},
    }
    workflow = run(tmp_path, capsys, {"entrypoint": "x", "templates": [template]})
    root = node(workflow, workflow["metadata"]["name"])
    assert root["phase"] == "Failed"
    assert root["message"].startswith("prep: StartError (exit code 128): failed to create")
    assert root["message"].endswith(
        'exec: "no-such-tool": executable file not found in $PATH: unknown'
    )


def test_a_volume_that_cannot_be_set_up_is_a_failed_mount(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {
        "name": "x",
        "volumes": [{"name": "creds", "secret": {"secretName": "nope"}}],
        "container": {
            "image": "debian",
            "command": ["true"],
            "volumeMounts": [{"name": "creds", "mountPath": "/creds"}],
        },
    }
    workflow = run(tmp_path, capsys, {"entrypoint": "x", "templates": [template]})
    root = node(workflow, workflow["metadata"]["name"])
    assert root["phase"] == "Error"
    assert root["message"] == (
        "Pod failed before init container starts due to FailedMount: "
        'MountVolume.SetUp failed for volume "creds" : secret "nope" not found'
    )
