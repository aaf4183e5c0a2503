"""Run a test's process in the local runtime's container sandbox.

Tests of the executor start it as ``sys.executable -m argoexec ...`` with ``PYTHONPATH`` at the
checkout: the interpreter's prefix and the checkout are bound read-only at their host paths,
which the runtime itself never does (it binds them under ``/.argoexec``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from argoexec.controller.sandbox import Bubblewrap, HostSystem, Mount, Sandbox, find_bubblewrap
from tests.servers.procs import require

REPO = Path(__file__).resolve().parents[1]
# bwrap options for a non-root container (uid 65534) whose root turns read-only after the mounts.
NONROOT = ("--uid", "65534", "--gid", "65534", "--remount-ro", "/")


def require_bubblewrap() -> Bubblewrap:
    bwrap = find_bubblewrap()
    require(bwrap is not None, "bubblewrap (bwrap) is not installed")
    assert bwrap is not None
    return bwrap


def host_python() -> list[Mount]:
    """This interpreter and the checkout, read-only at their host paths."""
    prefix = Path(sys.base_prefix).resolve()
    return [Mount(prefix, str(prefix), read_only=True), Mount(REPO, str(REPO), read_only=True)]


def container_argv(
    command: Sequence[str],
    mounts: Sequence[Mount],
    *,
    work: Path,
    cwd: str = "/",
    as_pid_1: bool = False,
    nonroot: bool = False,
) -> list[str]:
    """``command`` in a fresh container (the sandbox's files under ``work``).
    ``nonroot``: as uid 65534 with a read-only root and a writable /tmp, as a pod with
    ``readOnlyRootFilesystem`` and an emptyDir at /tmp."""
    sandbox = Sandbox(require_bubblewrap(), HostSystem.scan(), work / "sandbox-files")
    sandbox.prepare()
    extra: Sequence[str] = ()
    if nonroot:
        tmp = work / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        tmp.chmod(0o1777)
        mounts = [*mounts, Mount(tmp, "/tmp")]  # before the binds: a checkout in /tmp shows
        extra = NONROOT
    argv = sandbox.argv(
        command,
        mounts=mounts,
        binds=host_python(),
        cwd=cwd,
        as_pid_1=as_pid_1,
    )
    cut = len(argv) - len(command) - 1  # bwrap's own "--" before the command
    return [*argv[:cut], *extra, *argv[cut:]]
