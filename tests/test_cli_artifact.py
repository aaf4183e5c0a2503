"""``argoexec artifact ...`` end to end: the real CLI as a subprocess against loopback S3 servers
(moto, and SeaweedFS where signatures matter) and the fake Kubernetes API for secrets."""

from __future__ import annotations

import filecmp
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from argoexec.commands.progress import Progress
from tests.servers.backend import Backend
from tests.servers.http import FileServer
from tests.servers.kube import FakeKube
from tests.servers.s3 import SECRET_NAME

ROOT = Path(__file__).resolve().parents[1]


def argoexec(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "argoexec", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )


def loc_file(tmp_path: Path, backend: Backend, key: str | None, name: str = "tree") -> Path:
    doc: dict[str, Any] = backend.artifact(key or "", name=name).to_wire()
    if key is None:
        del doc["s3"]["key"]
    path = tmp_path / f"loc-{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def secrets_dir(tmp_path: Path, backend: Backend, secret: str | None = None) -> Path:
    server = backend.extra["server"]
    root = tmp_path / "argo-secret"
    (root / SECRET_NAME).mkdir(parents=True, exist_ok=True)
    (root / SECRET_NAME / "accessKey").write_text(server.access)  # type: ignore[attr-defined]
    (root / SECRET_NAME / "secretKey").write_text(secret or server.secret)  # type: ignore[attr-defined]
    return root


def sample_tree(root: Path) -> Path:
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("alpha\n")
    (root / "sub" / "b.bin").write_bytes(bytes(range(256)) * 100)
    (root / "sub" / "deeper" / "c.txt").write_text("gamma\n")
    return root


def same_tree(left: Path, right: Path) -> bool:
    cmp = filecmp.dircmp(left, right)
    if cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, cmp.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(same_tree(left / d, right / d) for d in cmp.common_dirs)


# --- moto: transfers -------------------------------------------------------------------------


def test_a_directory_round_trips_through_put_and_get(s3_moto: Backend, tmp_path: Path) -> None:
    tree = sample_tree(tmp_path / "tree")
    loc, sec = loc_file(tmp_path, s3_moto, "runs/tree.tgz"), secrets_dir(tmp_path, s3_moto)
    put = argoexec("artifact", "put", str(tree), "--artifact", str(loc), "--secrets-dir", str(sec))
    assert put.returncode == 0, put.stderr
    get = argoexec(
        "artifact", "get", "--artifact", str(loc), str(tmp_path / "out"), "--secrets-dir", str(sec)
    )
    assert get.returncode == 0, get.stderr
    assert same_tree(tree, tmp_path / "out")


def test_put_json_reports_exactly_key_size_and_sha256_of_the_stored_bytes(
    s3_moto: Backend, tmp_path: Path
) -> None:
    tree = sample_tree(tmp_path / "tree")
    loc, sec = loc_file(tmp_path, s3_moto, "runs/tree.tgz"), secrets_dir(tmp_path, s3_moto)
    put = argoexec(
        "artifact",
        "put",
        str(tree),
        "--artifact",
        str(loc),
        "--secrets-dir",
        str(sec),
        "-o",
        "json",
    )
    assert put.returncode == 0, put.stderr
    result = json.loads(put.stdout)
    assert set(result) == {"key", "size", "sha256"}
    stored = s3_moto.get_object("runs/tree.tgz")
    assert result == {
        "key": "runs/tree.tgz",
        "size": len(stored),
        "sha256": hashlib.sha256(stored).hexdigest(),
    }


def test_get_verifies_an_expected_sha256(s3_moto: Backend, tmp_path: Path) -> None:
    s3_moto.put_object("plain/data.txt", b"payload\n")
    loc, sec = loc_file(tmp_path, s3_moto, "plain/data.txt"), secrets_dir(tmp_path, s3_moto)
    good = hashlib.sha256(b"payload\n").hexdigest()
    common = ["artifact", "get", "--artifact", str(loc), "--secrets-dir", str(sec)]
    ok = argoexec(*common, str(tmp_path / "ok"), "--sha256", good)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "ok").read_bytes() == b"payload\n"
    bad = argoexec(*common, str(tmp_path / "bad"), "--sha256", "0" * 64)
    assert bad.returncode == 64
    assert "digest mismatch" in bad.stderr
    assert not (tmp_path / "bad").exists()


def test_put_computes_the_key_from_the_repository_key_format(
    s3_moto: Backend, tmp_path: Path
) -> None:
    location = s3_moto.artifact("", name="x").to_wire()["s3"]
    del location["key"]
    repo = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "artifact-repositories",
            "annotations": {"workflows.argoproj.io/default-artifact-repository": "main"},
        },
        "data": {"main": yaml.safe_dump({"s3": {**location, "keyFormat": "{{workflow.name}}/x"}})},
    }
    (tmp_path / "repo.yaml").write_text(yaml.safe_dump(repo))
    (tmp_path / "report.txt").write_text("done\n")
    sec = secrets_dir(tmp_path, s3_moto)
    put = argoexec(
        "artifact", "put", str(tmp_path / "report.txt"), "--artifact", "{name: report}",
        "--repository", str(tmp_path / "repo.yaml"), "--var", "workflow.name=wf-7",
        "--secrets-dir", str(sec), "-o", "json",
    )  # fmt: skip
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["key"] == "wf-7/x/report.tgz"
    assert s3_moto.list_keys("wf-7/") == ["wf-7/x/report.tgz"]


def test_a_key_only_artifact_without_a_repository_is_a_usage_error(tmp_path: Path) -> None:
    result = argoexec("artifact", "get", "--artifact", "{name: a, s3: {key: k}}", str(tmp_path))
    assert result.returncode == 2
    assert "template artifact location not set" in result.stderr


def test_ls_prints_one_key_per_line(s3_moto: Backend, tmp_path: Path) -> None:
    for key in ("dir/a", "dir/b/c", "other/d"):
        s3_moto.put_object(key, b"x")
    loc, sec = loc_file(tmp_path, s3_moto, "dir"), secrets_dir(tmp_path, s3_moto)
    result = argoexec("artifact", "ls", "--artifact", str(loc), "--secrets-dir", str(sec))
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == ["dir/a", "dir/b/c"]


def test_rm_deletes_the_object(s3_moto: Backend, tmp_path: Path) -> None:
    s3_moto.put_object("gone.txt", b"x")
    s3_moto.put_object("kept.txt", b"y")
    loc, sec = loc_file(tmp_path, s3_moto, "gone.txt"), secrets_dir(tmp_path, s3_moto)
    result = argoexec("artifact", "rm", "--artifact", str(loc), "--secrets-dir", str(sec))
    assert result.returncode == 0, result.stderr
    assert s3_moto.list_keys("") == ["kept.txt"]


def test_a_missing_key_is_a_clear_error_with_exit_code_1(s3_moto: Backend, tmp_path: Path) -> None:
    loc, sec = loc_file(tmp_path, s3_moto, "no/such.tgz"), secrets_dir(tmp_path, s3_moto)
    result = argoexec(
        "artifact", "get", "--artifact", str(loc), str(tmp_path / "x"), "--secrets-dir", str(sec)
    )
    assert result.returncode == 1
    assert "no/such.tgz" in result.stderr
    assert "does not exist" in result.stderr
    assert not (tmp_path / "x").exists()


# --- moto: check -----------------------------------------------------------------------------


def test_check_reports_credentials_and_the_object(s3_moto: Backend, tmp_path: Path) -> None:
    s3_moto.put_object("in/data.txt", b"12345")
    loc, sec = loc_file(tmp_path, s3_moto, "in/data.txt"), secrets_dir(tmp_path, s3_moto)
    result = argoexec("artifact", "check", "--artifact", str(loc), "--secrets-dir", str(sec))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"secret '{SECRET_NAME}'" in result.stdout
    assert "exists (5 bytes)" in result.stdout
    assert result.stdout.splitlines()[-1] == "OK"


def test_check_with_a_write_probe_leaves_nothing_behind(s3_moto: Backend, tmp_path: Path) -> None:
    loc, sec = loc_file(tmp_path, s3_moto, "out/result.tgz"), secrets_dir(tmp_path, s3_moto)
    result = argoexec(
        "artifact", "check", "--artifact", str(loc), "--secrets-dir", str(sec), "--write-probe"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "out/result.tgz.argoexec-probe-" in result.stdout
    assert "not there yet" in result.stdout
    assert result.stdout.splitlines()[-1] == "OK"
    assert s3_moto.list_keys("") == []


def test_check_of_a_missing_object_fails(s3_moto: Backend, tmp_path: Path) -> None:
    loc, sec = loc_file(tmp_path, s3_moto, "absent.txt"), secrets_dir(tmp_path, s3_moto)
    result = argoexec("artifact", "check", "--artifact", str(loc), "--secrets-dir", str(sec))
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1].startswith("FAILED: ")
    assert "absent.txt" in result.stdout


def test_check_without_the_named_secret_fails_naming_it(s3_moto: Backend, tmp_path: Path) -> None:
    loc = loc_file(tmp_path, s3_moto, "k")
    (tmp_path / "empty").mkdir()
    result = argoexec(
        "artifact", "check", "--artifact", str(loc), "--secrets-dir", str(tmp_path / "empty")
    )
    assert result.returncode == 64
    assert result.stdout.splitlines()[-1].startswith("FAILED: ")
    assert SECRET_NAME in result.stdout


# --- moto: URL shorthand and secret sources --------------------------------------------------


def test_url_shorthand_with_secrets_from_env_and_inline(s3_moto: Backend, tmp_path: Path) -> None:
    server = s3_moto.extra["server"]
    bucket = s3_moto.extra["bucket"]
    (tmp_path / "f.txt").write_text("shorthand\n")
    env = dict(os.environ, MY_S3_SECRET=server.secret)  # type: ignore[attr-defined]
    flags = [
        "--endpoint", server.endpoint, "--insecure",  # type: ignore[attr-defined]
        "--access-key-secret", "creds/ak", "--secret-key-secret", "creds/sk",
        "--secret", f"creds/ak={server.access}",  # type: ignore[attr-defined]
        "--secret", "creds/sk=env:MY_S3_SECRET",
    ]  # fmt: skip
    url = f"s3://{bucket}/short/f.tgz"
    put = argoexec("artifact", "put", str(tmp_path / "f.txt"), url, *flags, "-o", "json", env=env)
    assert put.returncode == 0, put.stderr
    assert json.loads(put.stdout)["key"] == "short/f.tgz"
    get = argoexec("artifact", "get", url, str(tmp_path / "back.txt"), *flags, env=env)
    assert get.returncode == 0, get.stderr
    assert (tmp_path / "back.txt").read_text() == "shorthand\n"


def test_an_http_url_shorthand_downloads_the_file(http_server: FileServer, tmp_path: Path) -> None:
    blob = http_server.state.store.new_file()
    blob.write_bytes(b"served over http\n")
    http_server.state.store.commit("/files/a.txt", blob)
    url = http_server.url_for("files/a.txt")
    result = argoexec("artifact", "get", url, str(tmp_path / "a.txt"), "-o", "json")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "a.txt").read_bytes() == b"served over http\n"
    assert json.loads(result.stdout)["size"] == len(b"served over http\n")


def test_a_git_url_shorthand_checks_out_the_revision(git_daemon: str, tmp_path: Path) -> None:
    url = f"git+{git_daemon}argo-test.git@my-branch"
    result = argoexec("artifact", "get", url, str(tmp_path / "repo"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "repo" / "my-branch").read_text() == "on my-branch\n"


def test_secret_values_can_come_from_files(s3_moto: Backend, tmp_path: Path) -> None:
    server = s3_moto.extra["server"]
    s3_moto.put_object("f", b"data")
    (tmp_path / "sk").write_text(server.secret)  # type: ignore[attr-defined]
    loc = loc_file(tmp_path, s3_moto, "f")
    result = argoexec(
        "artifact", "check", "--artifact", str(loc),
        "--secret", f"{SECRET_NAME}/accessKey={server.access}",  # type: ignore[attr-defined]
        "--secret", f"{SECRET_NAME}/secretKey=@{tmp_path / 'sk'}",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


# --- usage -----------------------------------------------------------------------------------


def test_no_location_is_a_usage_error() -> None:
    result = argoexec("artifact", "ls")
    assert result.returncode == 2
    assert "--artifact" in result.stderr


def test_an_invalid_artifact_document_is_a_usage_error() -> None:
    result = argoexec("artifact", "ls", "--artifact", "{name: [1, 2]}")
    assert result.returncode == 2
    assert "not a valid Argo artifact" in result.stderr


def test_an_unknown_scheme_is_a_usage_error() -> None:
    result = argoexec("artifact", "ls", "ftp://host/x")
    assert result.returncode == 2
    assert "unsupported location URL scheme" in result.stderr


def test_argo_and_kubectl_flags_are_accepted_anywhere_after_the_command() -> None:
    result = argoexec(
        "version", "--loglevel", "trace", "--log-format", "json", "--gloglevel", "4",
        "--kubeconfig=/nonexistent", "--context", "c", "-n", "ns", "--as=me",
        "--insecure-skip-tls-verify", "--some-future-flag=1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("argoexec: v")


def test_an_unknown_log_level_is_a_usage_error() -> None:
    result = argoexec("version", "--loglevel", "loud")
    assert result.returncode == 2
    assert "unknown log level" in result.stderr


def test_errors_are_logged_as_json_when_asked(tmp_path: Path) -> None:
    result = argoexec("artifact", "ls", "--log-format", "json")
    line = json.loads(result.stderr.splitlines()[-1])
    assert line["level"] == "ERROR"
    assert line["argo"] is True


def test_the_round_trip_demo_succeeds() -> None:
    demo = subprocess.run(
        [sys.executable, "-m", "examples.artifact_roundtrip"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "OK: the tree came back identical" in demo.stdout
    assert '"sha256"' in demo.stdout


# --- progress --------------------------------------------------------------------------------


def test_progress_redraws_one_line_on_a_terminal() -> None:
    ticks = iter([0.0, 1.0, 2.0, 3.0, 4.0])
    stream = io.StringIO()
    progress = Progress("uploading x", stream, interactive=True, clock=lambda: next(ticks))
    progress(1024)
    progress(1024)
    progress.close()
    out = stream.getvalue()
    assert "\r" in out
    assert "uploading x: 2.0 KiB" in out
    assert out.endswith("\n")


def test_progress_is_silent_on_a_pipe_for_short_transfers() -> None:
    stream = io.StringIO()
    progress = Progress("downloading x", stream, interactive=False)
    progress(10)
    progress.close()
    assert stream.getvalue() == ""


# --- SeaweedFS (checks signatures) and Kubernetes secrets ------------------------------------


@pytest.mark.seaweedfs
def test_a_round_trip_on_seaweedfs_with_a_secrets_dir(s3_seaweed: Backend, tmp_path: Path) -> None:
    tree = sample_tree(tmp_path / "tree")
    loc = loc_file(tmp_path, s3_seaweed, "rt/tree.tgz")
    sec = str(s3_seaweed.extra["secrets_dir"])
    put = argoexec("artifact", "put", str(tree), "--artifact", str(loc), "--secrets-dir", sec)
    assert put.returncode == 0, put.stderr
    out = tmp_path / "out"
    get = argoexec("artifact", "get", "--artifact", str(loc), str(out), "--secrets-dir", sec)
    assert get.returncode == 0, get.stderr
    assert same_tree(tree, out)


@pytest.mark.seaweedfs
def test_check_with_a_wrong_secret_names_the_source_and_never_prints_a_secret(
    s3_seaweed: Backend, tmp_path: Path
) -> None:
    wrong = "wrong-secret-value-0123456789"
    loc = loc_file(tmp_path, s3_seaweed, "any.txt")
    sec = secrets_dir(tmp_path, s3_seaweed, secret=wrong)
    result = argoexec(
        "artifact", "check", "--artifact", str(loc), "--secrets-dir", str(sec), "--write-probe",
        "--loglevel", "debug",
    )  # fmt: skip
    assert result.returncode == 64
    verdict = result.stdout.splitlines()[-1]
    assert verdict.startswith("FAILED: ")
    assert f"static keys from secret '{SECRET_NAME}'" in verdict
    assert "SignatureDoesNotMatch" in verdict or "signature" in verdict.lower()
    server = s3_seaweed.extra["server"]
    for secret in (wrong, server.secret):  # type: ignore[attr-defined]
        assert secret not in result.stdout
        assert secret not in result.stderr


@pytest.mark.seaweedfs
def test_s3_keys_can_come_from_a_kubernetes_secret(
    s3_seaweed: Backend, kube_api: FakeKube, tmp_path: Path
) -> None:
    server = s3_seaweed.extra["server"]
    kube_api.add_secret(
        "argo",
        SECRET_NAME,
        {"accessKey": server.access, "secretKey": server.secret},  # type: ignore[attr-defined]
    )
    kubeconfig = kube_api.kubeconfig(tmp_path / "kubeconfig", token=kube_api.token)
    s3_seaweed.put_object("k8s/data.txt", b"from the api")
    loc = loc_file(tmp_path, s3_seaweed, "k8s/data.txt")
    env = dict(os.environ, KUBECONFIG=str(kubeconfig))
    result = argoexec(
        "artifact", "get", "--artifact", str(loc), str(tmp_path / "d.txt"), "-n", "argo", env=env
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d.txt").read_bytes() == b"from the api"
    assert kube_api.journal[-1][1] == f"/api/v1/namespaces/argo/secrets/{SECRET_NAME}"
    assert kube_api.token not in result.stderr


def test_kube_secrets_work_with_server_and_token_flags_alone(
    s3_moto: Backend, kube_api: FakeKube, tmp_path: Path
) -> None:
    server = s3_moto.extra["server"]
    kube_api.add_secret(
        "default",
        SECRET_NAME,
        {"accessKey": server.access, "secretKey": server.secret},  # type: ignore[attr-defined]
    )
    s3_moto.put_object("f.txt", b"x")
    loc = loc_file(tmp_path, s3_moto, "f.txt")
    result = argoexec(
        "artifact", "check", "--artifact", str(loc), "--server", kube_api.url,
        "--token", kube_api.token,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert kube_api.journal[-1][2] != ""
