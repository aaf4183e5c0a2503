"""The git driver without a server: identification, credentials, unsupported operations and
how git's messages are classified."""

from __future__ import annotations

import io
import stat
from pathlib import Path
from typing import Any

import pytest

from argoexec.models import Artifact
from artifacts.driver import DriverContext
from artifacts.drivers.git import GitDriver
from artifacts.drivers.git.auth import (
    PASSWORD_ENV,
    child_environment,
    get_user,
    resolve_credentials,
    strip_userinfo,
)
from artifacts.drivers.git.driver import validate_refspec
from artifacts.drivers.git.runner import classify
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.registry import load_factory
from artifacts.secrets import MappingSecretResolver, NoSecrets
from artifacts.settings import TransferSettings

SECRETS = MappingSecretResolver(
    {
        "git-creds": {"username": "argo-bot", "password": "hunter2-not-real"},
        "git-ssh": {"key": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAkey\n-----END OPENSSH"},
        "empty": {"username": "", "password": ""},
    }
)


def git_artifact(repo: str = "https://example.invalid/org/repo.git", **fields: Any) -> Artifact:
    return Artifact.model_validate({"name": "src", "git": {"repo": repo, **fields}})


@pytest.fixture
def driver() -> GitDriver:
    return GitDriver(DriverContext(secrets=SECRETS))


def test_the_registry_builds_the_git_driver() -> None:
    driver = load_factory("git")(DriverContext(secrets=NoSecrets()))
    assert isinstance(driver, GitDriver)
    assert driver.kind == "git"


@pytest.mark.parametrize(
    ("repo", "user"),
    [
        ("gitaly@github.com:argoproj/argo-workflows.git", "gitaly"),
        ("ssh://deploy@git.example.invalid:2222/org/repo.git", "deploy"),
        ("git@github.com:argoproj/argo-workflows.git", "git"),
        ("https://github.com/argoproj/argo-workflows.git", "git"),
        ("ssh://git.example.invalid/org/repo.git", "git"),
    ],
)
def test_the_ssh_user_comes_from_the_url_and_defaults_to_git(repo: str, user: str) -> None:
    assert get_user(repo) == user


@pytest.mark.parametrize(
    ("repo", "shown"),
    [
        ("https://user:tok3n@example.invalid/r.git", "https://example.invalid/r.git"),
        ("https://user@example.invalid/r.git", "https://example.invalid/r.git"),
        ("ssh://git@example.invalid:22/r.git", "ssh://example.invalid:22/r.git"),
        ("git@github.com:org/r.git", "github.com:org/r.git"),
        ("git://example.invalid/r.git", "git://example.invalid/r.git"),
    ],
)
def test_userinfo_is_stripped_from_shown_urls(repo: str, shown: str) -> None:
    assert strip_userinfo(repo) == shown


def test_the_location_is_the_credential_free_url_and_revision(driver: GitDriver) -> None:
    artifact = git_artifact("https://bot:tok3n-secret@example.invalid/r.git", revision="v1.2")
    assert driver.location(artifact) == "https://example.invalid/r.git@v1.2"
    assert driver.location(git_artifact()) == "https://example.invalid/org/repo.git"


@pytest.mark.parametrize(
    ("fields", "described"),
    [
        (
            {
                "sshPrivateKeySecret": {"name": "git-ssh", "key": "key"},
                "usernameSecret": {"name": "git-creds", "key": "username"},
            },
            "ssh key from secret 'git-ssh'",
        ),
        (
            {
                "usernameSecret": {"name": "git-creds", "key": "username"},
                "passwordSecret": {"name": "git-creds", "key": "password"},
            },
            "basic auth from secret 'git-creds'",
        ),
        ({"passwordSecret": {"name": "git-creds", "key": "password"}}, "basic auth from secret"),
        (
            {
                "usernameSecret": {"name": "empty", "key": "username"},
                "passwordSecret": {"name": "empty", "key": "password"},
            },
            "anonymous",
        ),
        ({}, "anonymous"),
    ],
)
def test_credentials_are_chosen_in_argos_order(
    driver: GitDriver, fields: dict[str, Any], described: str
) -> None:
    text = driver.describe_credentials(git_artifact(**fields))
    assert text.startswith(described)
    assert "hunter2" not in text


def test_a_missing_secret_is_reported_by_name(driver: GitDriver) -> None:
    artifact = git_artifact(passwordSecret={"name": "nope", "key": "password"})
    with pytest.raises(ArtifactError) as info:
        driver.describe_credentials(artifact)
    assert "'nope'" in str(info.value)
    assert "artifact 'src' (git)" in str(info.value)


def test_saving_is_unsupported(driver: GitDriver, tmp_path: Path) -> None:
    for call in (
        lambda: driver.save(tmp_path, git_artifact()),
        lambda: driver.save_stream(io.BytesIO(b"x"), git_artifact()),
    ):
        with pytest.raises(ArtifactError) as info:
            call()
        assert info.value.code is ErrorCode.BAD_REQUEST
        assert info.value.message == "git output artifacts unsupported"
        assert "artifact 'src' (git) at https://example.invalid/org/repo.git" in str(info.value)


def test_delete_and_listing_are_bad_requests(driver: GitDriver) -> None:
    with pytest.raises(ArtifactError) as info:
        driver.delete(git_artifact())
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert "delete not supported for this artifact storage" in info.value.message
    with pytest.raises(ArtifactError) as info:
        driver.list_objects(git_artifact())
    assert info.value.code is ErrorCode.BAD_REQUEST


def test_streaming_and_is_directory_are_not_implemented(driver: GitDriver) -> None:
    for call in (
        lambda: driver.open_stream(git_artifact()),
        lambda: driver.is_directory(git_artifact()),
    ):
        with pytest.raises(ArtifactError) as info:
            call()
        assert info.value.code is ErrorCode.NOT_IMPLEMENTED


def test_an_artifact_without_a_repo_is_a_bad_request(driver: GitDriver, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as info:
        driver.load(Artifact(name="src"), tmp_path / "out")
    assert info.value.code is ErrorCode.BAD_REQUEST


def test_a_revision_that_looks_like_an_option_is_refused(driver: GitDriver, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError) as info:
        driver.load(git_artifact(revision="--upload-pack=touch /tmp/x"), tmp_path / "out")
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "spec",
    [
        "+refs/heads/*:refs/remotes/origin/*",
        "refs/heads/main:refs/heads/main",
        "refs/pull/1/head:refs/remotes/pr/1",
    ],
)
def test_valid_refspecs_pass_validation(spec: str) -> None:
    validate_refspec(spec)


@pytest.mark.parametrize(
    "spec",
    ["garbage", "refs/heads/main:", "a:b:c", "refs/heads/*:refs/heads/main", "-x:y", "**:**"],
)
def test_malformed_refspecs_are_rejected(spec: str) -> None:
    with pytest.raises(ArtifactError) as info:
        validate_refspec(spec)
    assert info.value.code is ErrorCode.BAD_REQUEST


@pytest.mark.parametrize(
    ("stderr", "code", "transient"),
    [
        ("fatal: Authentication failed for 'https://h/r.git/'", ErrorCode.FORBIDDEN, False),
        ("git@h: Permission denied (publickey).", ErrorCode.FORBIDDEN, False),
        ("Host key verification failed.", ErrorCode.FORBIDDEN, False),
        ("remote: Repository not found.", ErrorCode.NOT_FOUND, False),
        (
            "fatal: remote error: access denied or repository not exported: /x",
            ErrorCode.NOT_FOUND,
            False,
        ),
        ("fatal: Remote branch nope not found in upstream origin", ErrorCode.NOT_FOUND, False),
        ("ssh: connect to host h port 22: Connection refused", ErrorCode.INTERNAL, True),
        ("Connection closed by foreign host", ErrorCode.INTERNAL, True),
        (
            "fatal: unable to access 'https://h/': Could not resolve host: h",
            ErrorCode.INTERNAL,
            True,
        ),
        (
            "error: RPC failed; HTTP 503 curl 22 The requested URL returned error: 503",
            ErrorCode.INTERNAL,
            True,
        ),
        ("fatal: early EOF", ErrorCode.INTERNAL, True),
        ("fatal: something else entirely", ErrorCode.INTERNAL, False),
    ],
)
def test_git_messages_are_classified(stderr: str, code: ErrorCode, transient: bool) -> None:
    assert classify(stderr) == (code, transient)


def test_the_transient_error_pattern_setting_marks_errors_transient() -> None:
    assert classify("fatal: flaky backend today", r"flaky backend") == (ErrorCode.INTERNAL, True)


def test_the_child_environment_is_minimal_and_private(tmp_path: Path) -> None:
    artifact = git_artifact(
        insecureSkipTLS=True,
        usernameSecret={"name": "git-creds", "key": "username"},
        passwordSecret={"name": "git-creds", "key": "password"},
    )
    assert artifact.git is not None
    creds = resolve_credentials(artifact.git, SECRETS)
    env = child_environment(artifact.git, creds, TransferSettings(), tmp_path)
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["HOME"].startswith(str(tmp_path))
    assert env[PASSWORD_ENV] == "hunter2-not-real"
    config = {
        env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"]
        for i in range(int(env["GIT_CONFIG_COUNT"]))
    }
    assert config["http.sslVerify"] == "false"
    assert "hunter2" not in config["credential.helper"]
    assert "BatchMode=yes" in env["GIT_SSH_COMMAND"]
    assert not [k for k in env if k.startswith(("SSH_AUTH", "GIT_ASKPASS", "SSH_ASKPASS"))]


def test_an_ssh_key_is_written_to_a_private_file(tmp_path: Path) -> None:
    artifact = git_artifact(
        "git@github.com:org/r.git", sshPrivateKeySecret={"name": "git-ssh", "key": "key"}
    )
    assert artifact.git is not None
    creds = resolve_credentials(artifact.git, SECRETS)
    known = tmp_path / "known_hosts"
    env = child_environment(artifact.git, creds, TransferSettings(ssh_known_hosts=known), tmp_path)
    key = tmp_path / "id_key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().endswith("END OPENSSH\n")
    command = env["GIT_SSH_COMMAND"]
    assert f"-i {key}" in command
    assert "IdentitiesOnly=yes" in command
    assert f"UserKnownHostsFile={known}" in command
    assert "StrictHostKeyChecking=yes" in command
    assert "AAAAkey" not in command


def test_ignoring_host_keys_turns_strict_checking_off(tmp_path: Path) -> None:
    artifact = git_artifact("ssh://example.invalid/r.git", insecureIgnoreHostKey=True)
    assert artifact.git is not None
    creds = resolve_credentials(artifact.git, NoSecrets())
    command = child_environment(artifact.git, creds, TransferSettings(), tmp_path)[
        "GIT_SSH_COMMAND"
    ]
    assert "StrictHostKeyChecking=no" in command
    assert "UserKnownHostsFile=/dev/null" in command
    assert "User=git" in command
