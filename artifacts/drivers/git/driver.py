"""The Git driver: input artifacts cloned with the git CLI (argo-contract.md §12.3).

Argo clones with go-git; we drive the ``git`` binary instead (its transports, TLS and SSH are
the reference ones) and follow Argo's load sequence step by step: clone, optional refspec fetch,
optional revision checkout (detached), then submodules. GitPython is used only for local
repository bookkeeping that needs no network (is the clone empty, writing branch config).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, NoReturn

import git as gitpython

from argoexec.models import Artifact, GitArtifact
from artifacts.driver import DriverContext, ObjectStream, SaveResult
from artifacts.drivers.git.auth import (
    child_environment,
    clone_url,
    resolve_credentials,
    strip_userinfo,
)
from artifacts.drivers.git.runner import GitExitError, GitRunner, classify, explain
from artifacts.errors import ArtifactError, ErrorCode

_FULL_HASH = re.compile(r"^[0-9a-fA-F]{40}([0-9a-fA-F]{24})?$")
_DEFAULT_BRANCH = "master"


def validate_refspec(spec: str) -> None:
    """go-git's ``RefSpec.Validate``: one ``:``, a destination, and matching single wildcards."""
    body = spec.removeprefix("+")
    if spec.count(":") != 1 or spec.endswith(":") or body.startswith("-"):
        raise ArtifactError("malformed refspec, separators are wrong", code=ErrorCode.BAD_REQUEST)
    source, _, destination = spec.partition(":")
    wild_src, wild_dst = source.count("*"), destination.count("*")
    if wild_src != wild_dst or wild_src > 1:
        raise ArtifactError(
            "malformed refspec, mismatched number of wildcards", code=ErrorCode.BAD_REQUEST
        )


class GitDriver:
    """Input-only driver for ``git`` artifacts."""

    kind = "git"

    def __init__(self, ctx: DriverContext) -> None:
        self.ctx = ctx

    # -- identification -------------------------------------------------------------------

    def location(self, artifact: Artifact) -> str:
        git = _git_location(artifact)
        where = strip_userinfo(git.repo)
        return f"{where}@{git.revision}" if git.revision else where

    def describe_credentials(self, artifact: Artifact) -> str:
        git = _git_location(artifact)
        with self._context(artifact):
            creds = resolve_credentials(git, self.ctx.secrets)
        return creds.describe()

    # -- load -----------------------------------------------------------------------------

    def load(self, artifact: Artifact, path: Path) -> None:
        git = _git_location(artifact)
        with self._context(artifact):
            self._load(git, path)

    def _load(self, git: GitArtifact, path: Path) -> None:
        if git.single_branch and not git.branch:
            raise ArtifactError(
                "single branch mode without a branch specified", code=ErrorCode.BAD_REQUEST
            )
        if git.revision and git.revision.startswith("-"):
            raise ArtifactError(f"invalid revision {git.revision!r}", code=ErrorCode.BAD_REQUEST)
        creds = resolve_credentials(git, self.ctx.secrets)
        workdir = Path(tempfile.mkdtemp(prefix="argo-git-", dir=self.ctx.settings.tmp_dir))
        try:
            env = child_environment(git, creds, self.ctx.settings, workdir)
            runner = GitRunner(env, self.ctx.stop, creds.secret_values())
            _Checkout(git, runner, path, self.ctx.settings.transient_error_pattern).run(
                clone_url(git, creds)
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    # -- unsupported operations (Argo: git is input only) ---------------------------------

    def open_stream(self, artifact: Artifact) -> ObjectStream:
        self._fail(
            artifact,
            "a git artifact is a checked-out directory and cannot be streamed",
            ErrorCode.NOT_IMPLEMENTED,
        )

    def save(self, path: Path, artifact: Artifact) -> SaveResult:
        self._fail(artifact, "git output artifacts unsupported", ErrorCode.BAD_REQUEST)

    def save_stream(self, stream: BinaryIO, artifact: Artifact) -> SaveResult:
        self._fail(artifact, "git output artifacts unsupported", ErrorCode.BAD_REQUEST)

    def delete(self, artifact: Artifact) -> None:
        self._fail(
            artifact, "delete not supported for this artifact storage", ErrorCode.BAD_REQUEST
        )

    def list_objects(self, artifact: Artifact) -> list[str]:
        self._fail(
            artifact,
            "ListObjects is currently not supported for this artifact type",
            ErrorCode.BAD_REQUEST,
        )

    def is_directory(self, artifact: Artifact) -> bool:
        self._fail(
            artifact, "IsDirectory currently unimplemented for Git", ErrorCode.NOT_IMPLEMENTED
        )

    # -- helpers --------------------------------------------------------------------------

    def _fail(self, artifact: Artifact, message: str, code: ErrorCode) -> NoReturn:
        raise ArtifactError(
            message,
            code=code,
            artifact=artifact.name,
            driver=self.kind,
            location=self._safe_location(artifact),
        )

    def _safe_location(self, artifact: Artifact) -> str | None:
        git = artifact.git
        return self.location(artifact) if git is not None and git.repo else None

    @contextlib.contextmanager
    def _context(self, artifact: Artifact) -> Iterator[None]:
        """Name the artifact, driver and location in any ``ArtifactError`` leaving the block."""
        try:
            yield
        except ArtifactError as exc:
            location = self._safe_location(artifact)
            exc.with_context(artifact=artifact.name, driver=self.kind, location=location)
            raise


def _git_location(artifact: Artifact) -> GitArtifact:
    git = artifact.git
    if git is None or not git.repo:
        raise ArtifactError(
            "the artifact has no git repository (git.repo)",
            code=ErrorCode.BAD_REQUEST,
            artifact=artifact.name,
            driver="git",
        )
    return git


class _Checkout:
    """One load: Argo's clone → fetch → revision → submodules sequence into ``path``."""

    def __init__(
        self, git: GitArtifact, runner: GitRunner, path: Path, transient_pattern: str | None
    ) -> None:
        self.git = git
        self.runner = runner
        self.path = path
        self.transient_pattern = transient_pattern
        self.depth = ["--depth", str(git.depth)] if git.depth and git.depth > 0 else []

    def run(self, url: str) -> None:
        self._clone(url)
        if self._is_empty():
            self._configure_empty()
            return
        if self.git.fetch:
            self._fetch_refspecs(self.git.fetch)
        if self.git.revision:
            self._checkout_revision(self.git.revision)
        if not self.git.disable_submodules:
            self._git(
                lambda: "failed to update submodules",
                ["submodule", "update", "--init", "--recursive"],
            )

    def _clone(self, url: str) -> None:
        args = ["clone", *self.depth]
        if self.git.single_branch:
            args += ["--single-branch", f"--branch={self.git.branch}"]
        elif self.depth:
            args.append("--no-single-branch")  # git's --depth would imply a single branch
        repo = strip_userinfo(self.git.repo)
        target = str(self.path.absolute())
        self._git(
            lambda: f"failed to clone {_quote(repo)}", [*args, "--", url, target], in_repo=False
        )

    def _is_empty(self) -> bool:
        with gitpython.Repo(self.path) as repo:
            return not repo.refs

    def _configure_empty(self) -> None:
        # Argo initialises an empty repository with remote origin and a branch config named
        # after the revision (or master), then stops: there is nothing to check out.
        name = self.git.revision or _DEFAULT_BRANCH
        with gitpython.Repo(self.path) as repo, repo.config_writer() as config:
            section = f'branch "{name}"'
            config.set_value(section, "remote", "origin")
            config.set_value(section, "merge", f"refs/heads/{name}")

    def _fetch_refspecs(self, specs: list[str]) -> None:
        shown = "[" + " ".join(specs) + "]"
        for spec in specs:
            try:
                validate_refspec(spec)
            except ArtifactError as exc:
                raise ArtifactError(
                    f"failed to fetch {shown}: {exc.message}", code=exc.code
                ) from exc
        self._fetch(lambda: f"failed to fetch {shown}", specs)

    def _checkout_revision(self, revision: str) -> None:
        if self.git.single_branch:
            heads = f"refs/heads/{self.git.branch}:refs/heads/{self.git.branch}"
        else:
            heads = "refs/heads/*:refs/heads/*"
        self._fetch(lambda: "failed to fetch refs", [heads])
        commit = self._resolve(revision)
        if commit is None and _FULL_HASH.match(revision):
            commit = self._fetch_commit(revision)
        if commit is None:
            raise ArtifactError(
                f"failed to get resolve revision: unknown revision {_quote(revision)}",
                code=ErrorCode.NOT_FOUND,
            )
        self._git(
            lambda: f"failed to checkout {_quote(commit)}",
            ["checkout", "--quiet", "--force", "--detach", commit],
        )

    def _fetch_commit(self, commit: str) -> str | None:
        """Fetch a commit no head points at by its id (servers allow reachable ids); a server
        that refuses it just leaves the revision unresolved."""
        try:
            self._fetch(lambda: "failed to fetch refs", [commit])
        except ArtifactError as exc:
            if exc.transient or exc.code is ErrorCode.FORBIDDEN:
                raise
            return None
        return self._resolve(commit)

    def _resolve(self, revision: str) -> str | None:
        args = ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"]
        try:
            return self.runner.run(args, cwd=self.path).strip() or None
        except GitExitError:
            return None

    def _fetch(self, what: Callable[[], str], specs: list[str]) -> None:
        # --update-head-ok: refs/heads/* also rewrites the branch the clone checked out.
        self._git(what, ["fetch", "--update-head-ok", *self.depth, "--", "origin", *specs])

    def _git(self, what: Callable[[], str], args: list[str], *, in_repo: bool = True) -> str:
        try:
            return self.runner.run(args, cwd=self.path if in_repo else None)
        except GitExitError as exc:
            cause = explain(exc.failure)
            code, transient = classify(cause, self.transient_pattern)
            raise ArtifactError(f"{what()}: {cause}", code=code, transient=transient) from exc


def _quote(text: str) -> str:
    """Go's %q for the plain strings we quote (repo URLs, hashes, revisions)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
