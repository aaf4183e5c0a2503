"""The executor image's trimmed parts still do their job.

The Dockerfile keeps only botocore's models for S3, STS and SSO, and installs git without perl
and without its server helpers: an S3 put and get through the image, and git clone, checkout,
fetch and submodule update over every transport the Git driver uses, prove nothing needed went.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.podman.images import RUN_OPTIONS, podman
from tests.servers.backend import Backend

pytestmark = pytest.mark.podman


def _shared_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)  # the container's user 4242 reads and writes here
    return path


def test_an_s3_put_and_get_go_through_the_image(
    executor_image: str, s3_moto: Backend, tmp_path: Path
) -> None:
    server = s3_moto.extra["server"]
    bucket = s3_moto.extra["bucket"]
    work = _shared_dir(tmp_path / "work")
    (work / "f.txt").write_text("through the image\n")
    flags = [
        "--endpoint", server.endpoint, "--insecure",  # type: ignore[attr-defined]
        "--access-key-secret", "creds/ak", "--secret-key-secret", "creds/sk",
        "--secret", f"creds/ak={server.access}",  # type: ignore[attr-defined]
        "--secret", f"creds/sk={server.secret}",  # type: ignore[attr-defined]
    ]  # fmt: skip
    url = f"s3://{bucket}/img/f.txt.tgz"
    run = ("run", *RUN_OPTIONS, "-v", f"{work}:/work", executor_image, "artifact")
    put = podman(*run, "put", "/work/f.txt", url, *flags)
    assert put.returncode == 0, put.stdout + put.stderr
    assert s3_moto.list_keys("img/") == ["img/f.txt.tgz"]
    get = podman(*run, "get", url, "/work/back.txt", *flags)
    assert get.returncode == 0, get.stdout + get.stderr
    assert (work / "back.txt").read_text() == "through the image\n"


_GIT_SCRIPT = """set -e
git clone -q "$URL" /work/repo
cd /work/repo
git checkout -q my-branch
cat my-branch
git fetch -q origin
git submodule update -q --init
cat test-repo/README.md
"""


@pytest.mark.parametrize("transport", ["http", "https", "ssh", "git"])
def test_git_clones_fetches_and_checks_out_without_perl(
    executor_image: str, transport: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    keys = _shared_dir(tmp_path / "keys")
    env: list[str] = []
    if transport in {"http", "https"}:
        server = request.getfixturevalue(f"git_{transport}_server")
        scheme, rest = server.url("argo-test.git").split("://", 1)
        url = f"{scheme}://{server.username}:{server.password}@{rest}"
        env = ["-e", "GIT_SSL_NO_VERIFY=1"]  # the https server's certificate is self-signed
    elif transport == "ssh":
        server = request.getfixturevalue("git_sshd")
        url = server.url("argo-test.git")
        (keys / "id").write_text(server.client_key)
        (keys / "id").chmod(0o644)  # owned by root: ssh accepts it for another user
        shutil.copy(server.known_hosts, keys / "known_hosts")
        ssh = "ssh -i /keys/id -o UserKnownHostsFile=/keys/known_hosts -o BatchMode=yes"
        env = ["-e", f"GIT_SSH_COMMAND={ssh}"]
    else:
        url = request.getfixturevalue("git_daemon") + "argo-test.git"
    result = podman(
        "run", *RUN_OPTIONS, "-v", f"{_shared_dir(tmp_path / 'work')}:/work",
        "-v", f"{keys}:/keys:ro", "-e", f"URL={url}", "-e", "GIT_TERMINAL_PROMPT=0", *env,
        "--entrypoint", "sh", executor_image, "-c", _GIT_SCRIPT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "on my-branch\n# test repo\n"


def test_the_image_has_no_perl_and_no_package_manager(executor_image: str) -> None:
    script = "for c in perl apt-get git ssh python3 dpkg; do command -v $c || echo no-$c; done"
    result = podman("run", *RUN_OPTIONS, "--entrypoint", "sh", executor_image, "-c", script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines[:2] == ["no-perl", "no-apt-get"]
    assert all(not line.startswith("no-") for line in lines[2:]), lines
