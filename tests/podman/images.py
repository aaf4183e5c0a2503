"""The locally built container images and the project's podman configuration, for tests.

Nothing is ever pulled (no registry is reachable): ``make images`` (``images/build.sh``) builds
every image below. The names and ``CONTAINERS_CONF`` mirror ``images/podman/env.sh``, the shell
side; keep the two in step.

* :func:`require_podman` / :func:`require_image` skip with a reason on a laptop without podman
  or an image, and fail under ``CI=true``.
* :func:`podman` runs podman with the project's ``containers.conf``.
* Fixtures (session scope, each checks its image exists): ``busybox_image``, ``scratch_image``,
  ``python_image``, ``executor_image``; mark tests that use them ``podman``.

Containers reach the tests' loopback servers with ``--network host`` and nothing else.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.servers.procs import require

REPO = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = REPO / "images" / "podman" / "containers.conf"

BASE_IMAGE = "localhost/argoexec-base:bookworm"
EXECUTOR_IMAGE = "localhost/argoexec:latest"
BUSYBOX_IMAGE = "localhost/busybox:test"
SCRATCH_IMAGE = "localhost/scratch:test"
PYTHON_IMAGE = "localhost/python:test"

# Options of every smoke run: loopback servers reachable, a read-only root, an arbitrary user.
RUN_OPTIONS = ("--rm", "--network", "host", "--read-only", "--user", "4242")


def podman_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's environment) with the project's ``CONTAINERS_CONF``."""
    return {**(os.environ if env is None else env), "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(
    *args: str, timeout: float = 120, input: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``podman ARGS...`` with the project's configuration; output captured as text."""
    return subprocess.run(
        ["podman", *args],
        env=podman_env(),
        input=None if input is None else input.decode(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@functools.cache
def _podman_works() -> str | None:
    """None when podman answers with the project's configuration, else why not."""
    if shutil.which("podman") is None:
        return "podman is not installed (make system-deps)"
    result = podman("info", "--format", "{{.Host.OCIRuntime.Name}}", timeout=60)
    if result.returncode != 0:
        return f"podman info failed: {result.stderr.strip()[-500:]}"
    return None


def require_podman() -> None:
    """Skip (laptop) or fail (CI=true) unless podman works with the project's configuration."""
    reason = _podman_works()
    require(reason is None, reason or "")


def require_image(name: str) -> str:
    """``name`` once podman works and the image exists locally (never pulled)."""
    require_podman()
    exists = podman("image", "exists", name, timeout=60).returncode == 0
    require(exists, f"image {name} is not built (make images)")
    return name


@pytest.fixture(scope="session")
def busybox_image() -> str:
    """Debian's static busybox with its applets in /bin: a shell without libc."""
    return require_image(BUSYBOX_IMAGE)


@pytest.fixture(scope="session")
def scratch_image() -> str:
    """Only ``/tool`` (images/scratch/tool.c), its ENTRYPOINT: no libc, no shell."""
    return require_image(SCRATCH_IMAGE)


@pytest.fixture(scope="session")
def python_image() -> str:
    """The Debian base with python3 (``python`` too), standing in for python:slim."""
    return require_image(PYTHON_IMAGE)


@pytest.fixture(scope="session")
def executor_image() -> str:
    """The executor image built from the root Dockerfile."""
    return require_image(EXECUTOR_IMAGE)
