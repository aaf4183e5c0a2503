"""Sandboxed host processes with bubblewrap: the container of the ``local`` runtime.

The sandbox root is a fresh tmpfs holding read-only binds of the host's top-level directories
(so the host's programs and libraries are there), a private ``/tmp`` and ``/run``, and the pod's
volumes bound at their mount paths. Because the root is a tmpfs, mount points such as ``/argo``
or ``/mainctrfs`` can be created without touching the host.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Replaced by fresh, private filesystems inside the sandbox.
_PRIVATE = {"proc", "dev", "tmp", "run", "sys"}


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    read_only: bool = False


def _runtime_paths() -> set[Path]:
    """What the sandboxed executor needs from the host: this interpreter and this project."""
    project = Path(__file__).resolve().parents[2]
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    return {project, *prefixes}


def _hidden_by_private_dirs(paths: set[Path]) -> list[Path]:
    """Those of ``paths`` that the private /tmp or /run would hide (e.g. a checkout in /tmp)."""
    hidden = [p for p in paths if p.parts[1:2] and p.parts[1] in ("tmp", "run")]
    return sorted(hidden)


def find_bwrap() -> str | None:
    return shutil.which("bwrap")


def bwrap_argv(
    command: Sequence[str],
    mounts: Sequence[Mount] = (),
    *,
    bwrap: str = "bwrap",
    cwd: str | None = None,
    host_root: Path = Path("/"),
    as_pid_1: bool = False,
) -> list[str]:
    """The ``bwrap`` command line that runs ``command`` in a sandbox with ``mounts``.

    ``as_pid_1`` makes ``command`` itself PID 1 of the sandbox's PID namespace (no bwrap reaper
    in between), as the container's entrypoint is in a pod: the controller's ``kill 15 1`` then
    reaches the emissary or the executor, and the kernel's PID-1 signal rules apply to it.
    """
    argv = [bwrap, "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    if as_pid_1:
        argv.append("--as-pid-1")
    for entry in sorted(os.listdir(host_root)):
        path = host_root / entry
        if entry in _PRIVATE:
            continue
        if path.is_symlink():
            argv += ["--symlink", os.readlink(path), f"/{entry}"]
        elif path.is_dir():
            argv += ["--ro-bind", str(path), f"/{entry}"]
    argv += ["--ro-bind", "/sys", "/sys", "--proc", "/proc", "--dev", "/dev"]
    argv += ["--tmpfs", "/tmp", "--tmpfs", "/run"]
    for mount in mounts:
        flag = "--ro-bind" if mount.read_only else "--bind"
        # Follow host symlinks in the target (/var/run -> /run): bwrap will not create a mount
        # point through a symlink into another mount.
        argv += [flag, str(mount.source), os.path.realpath(mount.target)]
    # Last, so that neither the private /tmp nor a volume mounted at /tmp hides them.
    for path in _hidden_by_private_dirs(_runtime_paths()):
        argv += ["--ro-bind", str(path), str(path)]
    if cwd:
        argv += ["--chdir", cwd]
    return [*argv, "--", *command]
