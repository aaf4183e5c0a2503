"""Loading git artifacts over an anonymous git daemon: Argo's git driver cases (contract §16.14)
re-expressed against local repositories."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from argoexec.models import Artifact
from artifacts.driver import DriverContext
from artifacts.drivers.git import GitDriver
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.secrets import NoSecrets
from tests.servers.git import EMPTY_REPO, MAIN_REPO, GitRepos


def git_artifact(repo: str, **fields: Any) -> Artifact:
    return Artifact.model_validate(
        {"name": "repo", "path": "/src", "git": {"repo": repo, **fields}}
    )


@pytest.fixture
def driver() -> GitDriver:
    return GitDriver(DriverContext(secrets=NoSecrets()))


@pytest.fixture
def repo_url(git_daemon: str) -> str:
    return git_daemon + MAIN_REPO


def head_of(path: Path) -> str:
    done = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def local_branches(path: Path) -> list[str]:
    done = subprocess.run(
        ["git", "-C", str(path), "for-each-ref", "--format=%(refname:short)", "refs/heads"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def load_error(driver: GitDriver, artifact: Artifact, path: Path) -> ArtifactError:
    with pytest.raises(ArtifactError) as info:
        driver.load(artifact, path)
    return info.value


def test_an_empty_remote_repository_loads_as_an_empty_repository(
    driver: GitDriver, git_daemon: str, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    driver.load(git_artifact(git_daemon + EMPTY_REPO, revision="HEAD~1"), target)
    assert (target / ".git").is_dir()
    config = (target / ".git" / "config").read_text()
    assert "origin" in config
    assert 'branch "HEAD~1"' in config


def test_an_empty_remote_repository_gets_a_master_branch_config_without_a_revision(
    driver: GitDriver, git_daemon: str, tmp_path: Path
) -> None:
    driver.load(git_artifact(git_daemon + EMPTY_REPO), tmp_path / "out")
    assert 'branch "master"' in (tmp_path / "out" / ".git" / "config").read_text()


def test_a_repository_is_cloned_with_its_default_branch(
    driver: GitDriver, repo_url: str, git_repos: GitRepos, tmp_path: Path
) -> None:
    driver.load(git_artifact(repo_url), tmp_path / "out")
    assert (tmp_path / "out" / "README.md").read_text().endswith("updated\n")
    assert head_of(tmp_path / "out") == git_repos.commits["head"]
    assert not (tmp_path / "out" / "my-branch").exists()


def test_depth_one_makes_a_shallow_clone(driver: GitDriver, repo_url: str, tmp_path: Path) -> None:
    driver.load(git_artifact(repo_url, depth=1), tmp_path / "out")
    assert (tmp_path / "out" / ".git" / "shallow").is_file()
    assert (tmp_path / "out" / "README.md").is_file()


def test_a_garbage_fetch_refspec_is_rejected(
    driver: GitDriver, repo_url: str, tmp_path: Path
) -> None:
    err = load_error(driver, git_artifact(repo_url, fetch=["garbage"]), tmp_path / "out")
    assert err.code is ErrorCode.BAD_REQUEST
    assert "failed to fetch [garbage]" in err.message


def test_a_valid_fetch_refspec_that_is_already_up_to_date_is_fine(
    driver: GitDriver, repo_url: str, tmp_path: Path
) -> None:
    artifact = git_artifact(repo_url, fetch=["+refs/heads/*:refs/remotes/origin/*"])
    driver.load(artifact, tmp_path / "out")
    assert (tmp_path / "out" / "README.md").is_file()


def test_a_fetch_refspec_can_bring_in_extra_refs(
    driver: GitDriver, repo_url: str, git_repos: GitRepos, tmp_path: Path
) -> None:
    artifact = git_artifact(repo_url, fetch=["refs/tags/v0.0.0:refs/tags/pinned"])
    driver.load(artifact, tmp_path / "out")
    done = subprocess.run(
        ["git", "-C", str(tmp_path / "out"), "rev-parse", "pinned^{commit}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == git_repos.commits["tagged"]


def test_a_garbage_revision_is_not_found(driver: GitDriver, repo_url: str, tmp_path: Path) -> None:
    err = load_error(driver, git_artifact(repo_url, revision="garbage"), tmp_path / "out")
    assert err.code is ErrorCode.NOT_FOUND
    assert err.message.startswith("failed to get resolve revision")
    assert "garbage" in err.message


@pytest.mark.parametrize(
    "case",
    [
        # (revision, commit it names, whether that commit has the file "my-branch")
        ("<first:7>", "first", False),
        ("<branch>", "branch", True),
        ("HEAD", "head", False),
        ("HEAD~1", "submodule", False),
        ("main", "head", False),
        ("origin/my-branch", "branch", True),
        ("my-branch", "branch", True),
        ("v0.0.0", "tagged", False),
    ],
    ids=lambda case: case[0],
)
def test_a_revision_in_git_syntax_is_checked_out_detached(
    driver: GitDriver, repo_url: str, git_repos: GitRepos, tmp_path: Path, case: tuple[Any, ...]
) -> None:
    revision, expected, has_branch_file = case
    commits = git_repos.commits
    revision = {"<first:7>": commits["first"][:7], "<branch>": commits["branch"]}.get(
        revision, revision
    )
    target = tmp_path / "out"
    driver.load(git_artifact(repo_url, revision=revision), target)
    assert head_of(target) == commits[expected]
    assert (target / "my-branch").exists() is has_branch_file
    assert (target / ".git" / "HEAD").read_text().strip() == commits[expected]


def test_a_full_hash_outside_a_shallow_clone_is_fetched_by_id(
    driver: GitDriver, repo_url: str, git_repos: GitRepos, tmp_path: Path
) -> None:
    artifact = git_artifact(repo_url, depth=1, revision=git_repos.commits["first"])
    driver.load(artifact, tmp_path / "out")
    assert head_of(tmp_path / "out") == git_repos.commits["first"]


def test_an_unknown_full_hash_is_not_found(
    driver: GitDriver, repo_url: str, tmp_path: Path
) -> None:
    err = load_error(driver, git_artifact(repo_url, revision="ab" * 20), tmp_path / "out")
    assert err.code is ErrorCode.NOT_FOUND
    assert err.message.startswith("failed to get resolve revision")


def test_submodules_are_checked_out_recursively(
    driver: GitDriver, repo_url: str, tmp_path: Path
) -> None:
    driver.load(git_artifact(repo_url), tmp_path / "out")
    assert (tmp_path / "out" / "test-repo" / "README.md").read_text() == "# test repo\n"


def test_disabled_submodules_are_left_empty(
    driver: GitDriver, repo_url: str, tmp_path: Path
) -> None:
    driver.load(git_artifact(repo_url, disableSubmodules=True), tmp_path / "out")
    assert (tmp_path / "out" / "README.md").is_file()
    assert not (tmp_path / "out" / "test-repo" / "README.md").exists()


def test_single_branch_mode_clones_only_that_branch(
    driver: GitDriver, repo_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    driver.load(git_artifact(repo_url, singleBranch=True, branch="my-branch"), target)
    assert (target / "my-branch").is_file()
    assert local_branches(target) == ["my-branch"]


def test_single_branch_mode_with_a_revision_checks_out_that_revision(
    driver: GitDriver, repo_url: str, git_repos: GitRepos, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    short = git_repos.commits["first"][:7]
    artifact = git_artifact(repo_url, singleBranch=True, branch="my-branch", revision=short)
    driver.load(artifact, target)
    assert not (target / "my-branch").exists()
    assert local_branches(target) == ["my-branch"]
    assert head_of(target) == git_repos.commits["first"]


def test_single_branch_mode_with_depth_one_is_fine(
    driver: GitDriver, repo_url: str, tmp_path: Path
) -> None:
    artifact = git_artifact(repo_url, singleBranch=True, branch="my-branch", depth=1)
    driver.load(artifact, tmp_path / "out")
    assert (tmp_path / "out" / "my-branch").is_file()
    assert (tmp_path / "out" / ".git" / "shallow").is_file()


def test_single_branch_mode_without_a_branch_is_an_error(
    driver: GitDriver, repo_url: str, tmp_path: Path
) -> None:
    err = load_error(driver, git_artifact(repo_url, singleBranch=True), tmp_path / "out")
    assert err.message == "single branch mode without a branch specified"
    assert err.code is ErrorCode.BAD_REQUEST
    assert not (tmp_path / "out").exists()


def test_single_branch_mode_with_an_unknown_branch_is_not_found(
    driver: GitDriver, repo_url: str, tmp_path: Path
) -> None:
    artifact = git_artifact(repo_url, singleBranch=True, branch="garbage")
    err = load_error(driver, artifact, tmp_path / "out")
    assert err.code is ErrorCode.NOT_FOUND
    assert err.message.startswith(f'failed to clone "{repo_url}"')
    assert "garbage" in err.message


def test_an_unknown_repository_is_not_found_and_the_error_names_it(
    driver: GitDriver, git_daemon: str, tmp_path: Path
) -> None:
    url = git_daemon + "no-such-repo.git"
    err = load_error(driver, git_artifact(url), tmp_path / "out")
    assert err.code is ErrorCode.NOT_FOUND
    assert not err.transient
    assert f'failed to clone "{url}"' in err.message
    assert "artifact 'repo' (git)" in str(err)
    assert url in str(err)


def test_a_refused_connection_is_transient(driver: GitDriver, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        err = load_error(driver, git_artifact(f"git://127.0.0.1:{port}/x.git"), tmp_path / "o")
    assert err.transient
    assert "refused" in err.message.lower()


@pytest.fixture
def hanging_up_server() -> Iterator[int]:
    """Accepts connections and closes them at once (a server dying mid-protocol)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)  # so the loop notices the end of the test
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    done.set()
    server.close()
    thread.join(5)


def test_a_server_hanging_up_is_transient(
    driver: GitDriver, hanging_up_server: int, tmp_path: Path
) -> None:
    url = f"git://127.0.0.1:{hanging_up_server}/x.git"
    err = load_error(driver, git_artifact(url), tmp_path / "out")
    assert err.transient
    assert "connection reset" in err.message.lower()


def test_a_stop_ends_a_clone_that_hangs(tmp_path: Path) -> None:
    ctx = DriverContext(secrets=NoSecrets())
    driver = GitDriver(ctx)
    # A listening socket that never answers: git waits for the server forever.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        timer = threading.Timer(0.5, ctx.stop.set, args=("pod is terminating",))
        timer.start()
        try:
            err = load_error(driver, git_artifact(f"git://127.0.0.1:{port}/x.git"), tmp_path / "o")
        finally:
            timer.cancel()
    assert "pod is terminating" in err.message
    assert not err.transient
