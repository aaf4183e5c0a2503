"""``argoexec init`` as a real process in a bubblewrap sandbox, with the pod's volumes bound at
Argo's absolute paths (/var/run/argo, /argo/..., /mainctrfs) and inputs from a real S3."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller.sandbox import Mount
from argoexec.models import SecretKeySelector
from tests.sandboxing import container_argv
from tests.servers.backend import Backend


@dataclass
class Pod:
    root: Path

    def dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def termination_log(self) -> Path:
        return self.root / "termination-log"

    def mounts(self) -> list[Mount]:
        self.termination_log.touch()
        return [
            Mount(self.dir("var-run-argo"), "/var/run/argo"),
            Mount(self.dir("input-artifacts"), "/argo/inputs/artifacts"),
            Mount(self.dir("argo-staging"), "/argo/staging"),
            Mount(self.dir("secrets"), "/argo/secret", read_only=True),
            Mount(self.dir("user-volume"), "/mainctrfs/data"),
            Mount(self.termination_log, "/dev/termination-log"),
        ]

    def run(self, template: dict[str, Any], **env: str) -> subprocess.CompletedProcess[str]:
        argv = container_argv(
            [sys.executable, "-m", "argoexec", "init", "--loglevel", "debug"],
            self.mounts(),
            work=self.root / "container",
        )
        full_env = {
            "PATH": os.environ["PATH"],
            "ARGO_POD_NAME": "wf-step-1234",
            "ARGO_TEMPLATE": json.dumps(template),
            "ARGO_DEADLINE": "0001-01-01T00:00:00Z",
            "AWS_EC2_METADATA_DISABLED": "true",
            **env,
        }
        return subprocess.run(argv, env=full_env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def pod(tmp_path: Path) -> Pod:
    (tmp_path / "pod").mkdir()
    return Pod(tmp_path / "pod")


def tgz_of_directory(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("data")
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(f"data/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def s3_secrets(pod: Pod, backend: Backend) -> dict[str, Any]:
    """Copy the backend's credentials into the pod's /argo/secret and return the s3 location."""
    art = backend.artifact("unused").to_wire()
    s3 = art["s3"]
    for ref in (s3["accessKeySecret"], s3["secretKeySecret"]):
        value = backend.ctx.secrets.resolve(SecretKeySelector.model_validate(ref))
        target = pod.dir(f"secrets/{ref['name']}") / ref["key"]
        target.write_text(value)
    return s3


def test_init_prepares_the_pod_and_loads_every_input(pod: Pod, s3_moto: Backend) -> None:
    s3_moto.put_object("inputs/data.tgz", tgz_of_directory({"a.txt": b"A", "b.txt": b"B"}))
    s3 = s3_secrets(pod, s3_moto)
    template = {
        "name": "step",
        "script": {
            "image": "python:3",
            "source": "print('hi')\n",
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        },
        "inputs": {
            "artifacts": [
                {"name": "from-s3", "path": "/tmp/in", "s3": {**s3, "key": "inputs/data.tgz"}},
                {"name": "inline", "path": "/tmp/raw.txt", "raw": {"data": "hello"}, "mode": 0o600},
                {"name": "not-given", "path": "/tmp/opt", "optional": True},
                {"name": "in-volume", "path": "/data/in.txt", "raw": {"data": "v"}},
            ]
        },
    }
    result = pod.run(template)
    assert result.returncode == 0, result.stderr

    vr = pod.root / "var-run-argo"
    assert (vr / "argoexec").stat().st_mode & 0o777 == 0o555
    assert (vr / "template").stat().st_mode & 0o777 == 0o444
    assert json.loads((vr / "template").read_text())["name"] == "step"
    script = pod.root / "argo-staging" / "script"
    assert script.read_text() == "print('hi')\n"
    assert script.stat().st_mode & 0o777 == 0o755

    inputs = pod.root / "input-artifacts"
    assert (inputs / "from-s3" / "a.txt").read_bytes() == b"A"
    assert (inputs / "from-s3" / "b.txt").read_bytes() == b"B"
    assert (inputs / "inline").read_text() == "hello"
    assert (inputs / "inline").stat().st_mode & 0o777 == 0o600
    assert not (inputs / "not-given").exists()
    # An input inside a user volume lands in that volume, through its /mainctrfs mirror.
    assert (pod.root / "user-volume" / "in.txt").read_text() == "v"
    assert not (inputs / "in-volume").exists()


def test_the_installed_emissary_runs_commands(pod: Pod, tmp_path: Path) -> None:
    assert pod.run({"name": "t", "container": {"image": "x"}}).returncode == 0
    vr = pod.root / "var-run-argo"
    env = {
        "PATH": os.environ["PATH"],
        "ARGOEXEC_VAR_RUN_DIR": str(vr),
        "ARGOEXEC_TERMINATION_LOG": str(tmp_path / "tl"),
    }
    done = subprocess.run(
        [str(vr / "argoexec"), "emissary", "--", "sh", "-c", "exit 3"], env=env, timeout=60
    )
    assert done.returncode == 3
    assert (vr / "ctr" / "main" / "exitcode").read_text() == "3"


def test_a_required_input_that_was_not_supplied_fails_init(pod: Pod) -> None:
    template = {"name": "t", "inputs": {"artifacts": [{"name": "needed", "path": "/tmp/x"}]}}
    result = pod.run(template)
    assert result.returncode == 64
    assert "required artifact 'needed' not supplied" in pod.termination_log.read_text()


def test_a_missing_required_object_fails_with_a_clear_message(pod: Pod, s3_moto: Backend) -> None:
    s3 = s3_secrets(pod, s3_moto)
    template = {
        "name": "t",
        "inputs": {
            "artifacts": [{"name": "gone", "path": "/tmp/x", "s3": {**s3, "key": "no/such.tgz"}}]
        },
    }
    result = pod.run(template)
    assert result.returncode == 64
    message = pod.termination_log.read_text()
    assert "gone" in message
    assert "no/such.tgz" in message
    assert not (pod.root / "input-artifacts" / "gone").exists()


def test_a_key_only_input_is_relocated_onto_the_archive_location(
    pod: Pod, s3_moto: Backend
) -> None:
    s3_moto.put_object("wf/pod/prev.txt", b"from a previous step")
    s3 = s3_secrets(pod, s3_moto)
    template = {
        "name": "t",
        "archiveLocation": {"s3": {**s3, "key": "wf/pod"}},
        "inputs": {
            "artifacts": [{"name": "prev", "path": "/tmp/prev", "s3": {"key": "wf/pod/prev.txt"}}]
        },
    }
    result = pod.run(template)
    assert result.returncode == 0, result.stderr
    assert (pod.root / "input-artifacts" / "prev").read_bytes() == b"from a previous step"


def test_a_sub_path_places_one_file_or_directory_of_an_input(pod: Pod, s3_moto: Backend) -> None:
    files = {"a.txt": b"A", "sub/b.txt": b"B", "sub/c.txt": b"C"}
    s3_moto.put_object("wf/pod/data.tgz", tgz_of_directory(files))
    s3 = s3_secrets(pod, s3_moto)
    template = {
        "name": "t",
        "archiveLocation": {"s3": {**s3, "key": "wf/pod"}},
        "volumes": [{"name": "data", "emptyDir": {}}],
        "container": {"image": "x", "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
        "inputs": {
            "artifacts": [
                # a full location, a key-only one (relocated), and one inside a user volume
                {"name": "file", "path": "/tmp/a", "s3": {**s3, "key": "wf/pod/data.tgz"},
                 "subPath": "a.txt"},
                {"name": "dir", "path": "/tmp/sub", "s3": {"key": "wf/pod/data.tgz"},
                 "subPath": "sub"},
                {"name": "vol", "path": "/data/c.txt", "s3": {"key": "wf/pod/data.tgz"},
                 "subPath": "sub/c.txt"},
                {"name": "maybe", "path": "/tmp/m", "s3": {"key": "wf/pod/data.tgz"},
                 "subPath": "nope", "optional": True},
            ]
        },
    }  # fmt: skip
    result = pod.run(template)
    assert result.returncode == 0, result.stderr
    inputs = pod.root / "input-artifacts"
    assert (inputs / "file").read_bytes() == b"A"
    assert sorted(os.listdir(inputs / "dir")) == ["b.txt", "c.txt"]
    assert (pod.root / "user-volume" / "c.txt").read_bytes() == b"C"
    assert not (inputs / "maybe").exists()
    assert "subPath 'nope' not found" in result.stderr  # the skip is logged with its reason


def test_a_missing_or_unclean_sub_path_fails_init_naming_the_artifact(
    pod: Pod, s3_moto: Backend
) -> None:
    s3_moto.put_object("wf/pod/data.tgz", tgz_of_directory({"a.txt": b"A"}))
    s3 = s3_secrets(pod, s3_moto)
    location = {"s3": {**s3, "key": "wf/pod/data.tgz"}}
    for sub, expected in (("b.txt", "subPath 'b.txt' not found"), ("../x", "'..' segment")):
        art = {"name": "data", "path": "/tmp/d", **location, "subPath": sub}
        result = pod.run({"name": "t", "inputs": {"artifacts": [art]}})
        assert result.returncode == 64
        message = pod.termination_log.read_text()
        assert "artifact 'data'" in message and expected in message, message
        assert not (pod.root / "input-artifacts" / "data").exists()


def test_a_path_with_directory_traversal_is_refused(pod: Pod) -> None:
    template = {
        "name": "t",
        "inputs": {"artifacts": [{"name": "evil", "path": "/tmp/../etc/x", "raw": {"data": "x"}}]},
    }
    result = pod.run(template)
    assert result.returncode == 64
    assert "Directory traversal is not permitted" in pod.termination_log.read_text()


def test_init_without_a_pod_name_fails(pod: Pod) -> None:
    result = pod.run({"name": "t"}, ARGO_POD_NAME="")
    assert result.returncode == 64
    assert "ARGO_POD_NAME" in pod.termination_log.read_text()


def test_init_honours_a_moved_var_run_and_termination_log(tmp_path: Path) -> None:
    """The local runtime without a sandbox (and the benchmarks) move the two fixed paths."""
    var_run, log = tmp_path / "vr", tmp_path / "termination-log"
    env = {
        "PATH": os.environ["PATH"],
        "ARGO_POD_NAME": "p",
        "ARGO_TEMPLATE": json.dumps({"name": "t", "container": {"image": "x"}}),
        "ARGOEXEC_VAR_RUN_DIR": str(var_run),
        "ARGOEXEC_TERMINATION_LOG": str(log),
    }
    argv = [sys.executable, "-m", "argoexec", "init"]
    assert subprocess.run(argv, env=env, timeout=60).returncode == 0
    assert (var_run / "argoexec").exists()
    assert json.loads((var_run / "template").read_text())["name"] == "t"
    env["ARGO_TEMPLATE"] = json.dumps({"name": "t", "inputs": {"artifacts": [{"name": "x"}]}})
    assert subprocess.run(argv, env=env, timeout=60).returncode == 64
    assert "required artifact 'x' not supplied" in log.read_text()
    assert log.stat().st_mode & 0o777 == 0o600


def test_a_pod_without_input_artifacts_is_prepared_without_the_models(tmp_path: Path) -> None:
    """Most pods load nothing: init then stays on the standard library (no pydantic, no artifact
    layer), which is most of a Python executor's start-up."""
    var_run = tmp_path / "vr"
    # No script: unsandboxed, its staging path (/argo/staging) would be the host's.
    template = {"name": "t", "container": {"image": "x", "command": ["true"]}}
    probe = (
        "import sys; from argoexec.cli import main; code = main(['init']); "
        "heavy = ('pydantic', 'argoexec.models', 'artifacts.transfer', 'artifacts.drivers',"
        " 'yaml');"
        "loaded = sorted(m for m in sys.modules if m.startswith(heavy));"
        "print(loaded); sys.exit(code)"
    )
    env = {
        "PATH": os.environ["PATH"],
        "ARGO_POD_NAME": "p",
        "ARGO_TEMPLATE": json.dumps(template),
        "ARGOEXEC_VAR_RUN_DIR": str(var_run),
        "ARGOEXEC_TERMINATION_LOG": str(tmp_path / "termination-log"),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert json.loads((var_run / "template").read_text()) == template
    assert (var_run / "template").stat().st_mode & 0o777 == 0o444
    assert os.access(var_run / "argoexec", os.X_OK)


def test_a_plain_pod_gets_its_script_staged(pod: Pod) -> None:
    template = {"name": "t", "script": {"image": "x", "command": ["sh"], "source": "echo hi\n"}}
    result = pod.run(template)
    assert result.returncode == 0, result.stderr
    script = pod.root / "argo-staging" / "script"
    assert script.read_text() == "echo hi\n"
    assert script.stat().st_mode & 0o777 == 0o755
    assert json.loads((pod.root / "var-run-argo" / "template").read_text()) == template
