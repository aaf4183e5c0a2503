"""Git credentials against real servers: HTTP basic auth (git http-backend) and SSH keys (sshd)."""

from __future__ import annotations

import base64
import dataclasses
import io
import logging
import os
import shlex
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from argoexec.logs import setup_logging
from argoexec.models import Artifact, SecretKeySelector
from argoexec.retry import Backoff
from artifacts.driver import DriverContext
from artifacts.drivers.git import GitDriver
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.secrets import SecretNotFoundError
from artifacts.settings import TransferSettings
from artifacts.transfer import load_artifact
from tests.servers.git import MAIN_REPO, GitHTTPServer, GitSSHServer


class PlainSecrets:
    """A resolver that does NOT register values for redaction, so a leak would be visible."""

    def __init__(self, **values: str) -> None:
        self.values = values

    def resolve(self, selector: SecretKeySelector) -> str:
        try:
            return self.values[selector.key]
        except KeyError:
            raise SecretNotFoundError(selector, "test secrets") from None


def git_artifact(repo: str, **fields: Any) -> Artifact:
    return Artifact.model_validate({"name": "src", "git": {"repo": repo, **fields}})


BASIC = {
    "usernameSecret": {"name": "git-creds", "key": "username"},
    "passwordSecret": {"name": "git-creds", "key": "password"},
}
SSH_KEY = {"sshPrivateKeySecret": {"name": "git-ssh", "key": "ssh-private-key"}}


def make_driver(tmp_path: Path, known_hosts: Path | None = None, **secrets: str) -> GitDriver:
    scratch = tmp_path / "driver-tmp"
    scratch.mkdir(exist_ok=True)
    settings = TransferSettings(tmp_dir=scratch, ssh_known_hosts=known_hosts)
    return GitDriver(DriverContext(secrets=PlainSecrets(**secrets), settings=settings))


def load_error(driver: GitDriver, artifact: Artifact, path: Path) -> ArtifactError:
    with pytest.raises(ArtifactError) as info:
        driver.load(artifact, path)
    return info.value


# -- HTTP basic auth ------------------------------------------------------------------------


def test_basic_auth_from_secrets_clones_the_repository_and_its_submodule(
    git_http_server: GitHTTPServer, tmp_path: Path
) -> None:
    s = git_http_server
    driver = make_driver(tmp_path, username=s.username, password=s.password)
    driver.load(git_artifact(s.url(MAIN_REPO), revision="my-branch", **BASIC), tmp_path / "out")
    assert (tmp_path / "out" / "my-branch").is_file()
    assert (tmp_path / "out" / "test-repo" / "README.md").is_file()
    assert list((tmp_path / "driver-tmp").iterdir()) == []


def test_secret_values_with_a_trailing_newline_still_authenticate(
    git_http_server: GitHTTPServer, tmp_path: Path
) -> None:
    s = git_http_server
    driver = make_driver(tmp_path, username=s.username + "\n", password=s.password + "\n")
    driver.load(git_artifact(s.url(MAIN_REPO), **BASIC), tmp_path / "out")
    assert (tmp_path / "out" / "README.md").is_file()


def test_anonymous_access_to_a_protected_repository_is_forbidden(
    git_http_server: GitHTTPServer, tmp_path: Path
) -> None:
    artifact = git_artifact(git_http_server.url(MAIN_REPO))
    err = load_error(make_driver(tmp_path), artifact, tmp_path / "out")
    assert err.code is ErrorCode.FORBIDDEN
    assert not err.transient


def test_a_wrong_password_is_forbidden_and_never_shown(
    git_http_server: GitHTTPServer, tmp_path: Path
) -> None:
    s = git_http_server
    wrong = "wrong-" + s.password
    driver = make_driver(tmp_path, username=s.username, password=wrong)
    artifact = git_artifact(s.url(MAIN_REPO), **BASIC)
    err = load_error(driver, artifact, tmp_path / "out")
    assert err.code is ErrorCode.FORBIDDEN
    assert not err.transient
    assert "Authentication failed" in err.message
    assert s.url(MAIN_REPO) in str(err)
    for text in (str(err), repr(err), err.message):
        assert wrong not in text
        assert s.password not in text


def test_userinfo_in_the_url_is_used_but_never_shown(
    git_http_server: GitHTTPServer, tmp_path: Path
) -> None:
    s = git_http_server
    url_password = "url-" + s.password
    url = s.url(MAIN_REPO).replace("http://", f"http://{s.username}:{url_password}@")
    err = load_error(make_driver(tmp_path), git_artifact(url), tmp_path / "out")
    assert err.code is ErrorCode.FORBIDDEN
    assert url_password not in str(err)
    assert s.url(MAIN_REPO) in str(err)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """The executor's log handler (with its redaction filter) writing to a string."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    stream = io.StringIO()
    setup_logging("info", "json", stream)
    yield stream
    root.handlers[:] = before[0]
    root.setLevel(before[1])


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("where", ["secrets", "url"])
def test_a_server_echoing_the_request_headers_leaks_no_credential(
    git_http_server: GitHTTPServer, tmp_path: Path, log_stream: io.StringIO, where: str
) -> None:
    """Some servers answer an error with the request's headers as a text/plain body, which git
    prints (``remote: Authorization: Basic <base64 of user:password>``)."""
    s = git_http_server
    url, fields = s.echo_url(MAIN_REPO), dict(BASIC)
    if where == "url":
        url, fields = url.replace("http://", f"http://{s.username}:{s.password}@"), {}
    driver = make_driver(tmp_path, username=s.username, password=s.password)
    once = dataclasses.replace(driver.ctx.settings, backoff=Backoff(steps=1))  # 500 is transient
    ctx = DriverContext(secrets=driver.ctx.secrets, settings=once)
    with pytest.raises(ArtifactError) as info:
        load_artifact(git_artifact(url, **fields), tmp_path / "out", ctx, driver=driver)
    shown = [str(info.value), repr(info.value), log_stream.getvalue()]
    assert "remote: User-Agent: git/" in shown[0]  # the rest of the server's body is kept
    assert "The requested URL returned error: 500" in shown[0]
    assert "Authorization" not in shown[0]  # the body is trimmed of credential headers
    pair = f"{s.username}:{s.password}"
    for text in shown:
        for leak in (s.password, pair, b64(pair), b64(pair).rstrip("=")):
            assert leak not in text


def test_basic_auth_from_secrets_wins_over_userinfo_in_the_url(
    git_http_server: GitHTTPServer, tmp_path: Path
) -> None:
    s = git_http_server
    url = s.url(MAIN_REPO).replace("http://", "http://someone-else:not-it@")
    driver = make_driver(tmp_path, username=s.username, password=s.password)
    driver.load(git_artifact(url, **BASIC), tmp_path / "out")
    assert (tmp_path / "out" / "README.md").is_file()


def test_an_untrusted_certificate_fails_unless_tls_verification_is_skipped(
    git_https_server: GitHTTPServer, tmp_path: Path
) -> None:
    s = git_https_server
    driver = make_driver(tmp_path, username=s.username, password=s.password)
    err = load_error(driver, git_artifact(s.url(MAIN_REPO), **BASIC), tmp_path / "refused")
    assert "certificate" in err.message
    assert not err.transient
    driver.load(git_artifact(s.url(MAIN_REPO), insecureSkipTLS=True, **BASIC), tmp_path / "out")
    assert (tmp_path / "out" / "test-repo" / "README.md").is_file()


@pytest.fixture
def git_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a `git` wrapper first on PATH that records its argv and turns on GIT_TRACE, which
    logs the argv of every process git itself starts (remote helpers, credential helper, ssh)."""
    real = shutil.which("git")
    assert real is not None
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "git-trace.log"
    wrapper = bindir / "git"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'printf "argv: %s\\n" "$*" >> {shlex.quote(str(log))}\n'
        f"GIT_TRACE={shlex.quote(str(log))}\nexport GIT_TRACE\n"
        f'exec {shlex.quote(real)} "$@"\n'
    )
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_the_password_never_appears_in_any_git_command_line(
    git_http_server: GitHTTPServer, git_trace: Path, tmp_path: Path
) -> None:
    s = git_http_server
    driver = make_driver(tmp_path, username=s.username, password=s.password)
    driver.load(git_artifact(s.url(MAIN_REPO), revision="HEAD~1", **BASIC), tmp_path / "out")
    assert (tmp_path / "out" / "test-repo" / "README.md").is_file()
    trace = git_trace.read_text()
    assert "argv: clone" in trace
    assert "git-remote-http" in trace  # children were traced too
    assert "f get" in trace  # ... including the credential helper, which reads the env
    assert s.password not in trace


# -- SSH ------------------------------------------------------------------------------------


def test_an_ssh_key_with_a_known_host_key_clones_the_repository_and_its_submodule(
    git_sshd: GitSSHServer, tmp_path: Path
) -> None:
    driver = make_driver(tmp_path, git_sshd.known_hosts, **{"ssh-private-key": git_sshd.client_key})
    driver.load(git_artifact(git_sshd.url(MAIN_REPO), revision="HEAD~1", **SSH_KEY), tmp_path / "o")
    assert (tmp_path / "o" / "test-repo" / "README.md").is_file()
    assert list((tmp_path / "driver-tmp").iterdir()) == []  # the key file is gone


def test_an_ssh_key_with_host_key_checking_disabled_needs_no_known_hosts(
    git_sshd: GitSSHServer, tmp_path: Path
) -> None:
    driver = make_driver(tmp_path, None, **{"ssh-private-key": git_sshd.client_key})
    artifact = git_artifact(git_sshd.url(MAIN_REPO), insecureIgnoreHostKey=True, **SSH_KEY)
    driver.load(artifact, tmp_path / "out")
    assert (tmp_path / "out" / "README.md").is_file()


def test_an_unknown_host_key_is_refused_with_a_clear_error(
    git_sshd: GitSSHServer, tmp_path: Path
) -> None:
    empty_known_hosts = tmp_path / "known_hosts"
    empty_known_hosts.write_text("")
    driver = make_driver(tmp_path, empty_known_hosts, **{"ssh-private-key": git_sshd.client_key})
    err = load_error(driver, git_artifact(git_sshd.url(MAIN_REPO), **SSH_KEY), tmp_path / "out")
    assert err.code is ErrorCode.FORBIDDEN
    assert not err.transient
    assert "Host key verification failed" in err.message
    assert "insecureIgnoreHostKey" in err.message


def test_an_ssh_key_the_server_does_not_know_is_forbidden(
    git_sshd: GitSSHServer, tmp_path: Path
) -> None:
    from tests.servers.git import _ed25519

    other_key = _ed25519()[0].decode()
    driver = make_driver(tmp_path, git_sshd.known_hosts, **{"ssh-private-key": other_key})
    err = load_error(driver, git_artifact(git_sshd.url(MAIN_REPO), **SSH_KEY), tmp_path / "out")
    assert err.code is ErrorCode.FORBIDDEN
    assert "Permission denied" in err.message
    assert "PRIVATE KEY" not in str(err)


def test_the_ssh_key_file_is_private_while_git_runs(
    git_sshd: GitSSHServer, git_trace: Path, tmp_path: Path
) -> None:
    driver = make_driver(tmp_path, git_sshd.known_hosts, **{"ssh-private-key": git_sshd.client_key})
    # The git wrapper also records the key file's mode: it runs while the key exists.
    wrapper = tmp_path / "bin" / "git"
    key_files = shlex.quote(str(tmp_path / "driver-tmp")) + "/*/id_key"
    record = f"stat -c %a {key_files} >> {shlex.quote(str(tmp_path / 'modes'))}\n"
    wrapper.write_text(wrapper.read_text().replace("exec ", record + "exec ", 1))
    driver.load(git_artifact(git_sshd.url(MAIN_REPO), **SSH_KEY), tmp_path / "out")
    modes = [int(m, 8) for m in (tmp_path / "modes").read_text().split()]
    assert modes
    assert all(stat.S_IMODE(m) == 0o600 for m in modes)
    assert "IdentitiesOnly=yes" in git_trace.read_text()
    assert git_sshd.client_key.splitlines()[1] not in git_trace.read_text()
