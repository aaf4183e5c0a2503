"""How one container of a pod spec becomes a host command line (``Launch``).

Images are ignored: ``command`` + ``args`` run on the host, as root, with no resource limits and
no ``securityContext`` applied. An *executor container* (its image is the configured executor
image, or its command is the bare ``argoexec``) runs this project's own executor: a leading
``argoexec`` becomes ``sys.executable -m argoexec``; ``/var/run/argo/argoexec`` needs nothing, it
is the launcher ``argoexec init`` wrote for this same Python.

Sandboxed (bubblewrap), each volume mount is bound at its ``mountPath`` and the termination log
at ``terminationMessagePath``; ``/tmp`` is private to the container unless a mount replaces it
(Argo's ``tmp-dir-argo`` subPath on executor containers).

Unsandboxed (no bubblewrap), absolute paths inside the container cannot be honoured. The runtime
maps what it can: every path under a ``mountPath`` in ``command``/``args`` (a whole word, or a
token of a shell line) and every ``env`` value naming one is rewritten to the host path of that
mount; ``ARGOEXEC_VAR_RUN_DIR`` points at the host directory of ``/var/run/argo``,
``ARGOEXEC_TERMINATION_LOG`` at the container's termination file (our executor and emissary
honour both) and ``ARGOEXEC_PATH_MAP`` lists every mount, so the executor's other fixed paths
(``/argo/staging``, ``/argo/inputs/artifacts``, ``/mainctrfs``...) land in the pod's volumes;
``TMPDIR``, a ``HOME`` of ``/tmp`` and the default working directory are a per-container host
directory (or the host path of a ``/tmp`` mount). Paths a program computes itself (a script
writing ``/tmp/out.txt``, output parameters at ``/tmp/x``, ``/dev/termination-log`` written by a
user script, or secrets read from ``/argo/secret``) are NOT mapped: such pods need the sandbox.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from argoexec.contract import (
    ENV_PATH_MAP,
    ENV_TERMINATION_LOG,
    ENV_VAR_RUN_DIR,
    TERMINATION_LOG,
    VAR_RUN_ARGO,
)
from argoexec.controller.runtime.env import command_line, container_env
from argoexec.controller.runtime.process import Launch
from argoexec.controller.runtime.volumes import PodDirs, PodVolumes
from argoexec.controller.sandbox import Mount, bwrap_argv

ARGOEXEC = "argoexec"
FALLBACK_TO_LOGS = "FallbackToLogsOnError"


@dataclass(frozen=True)
class PodContext:
    """What every container of one pod shares."""

    pod: Mapping[str, Any]
    dirs: PodDirs
    volumes: PodVolumes
    secrets: Path | None
    config_maps: Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class Launcher:
    """Builds ``Launch``es; ``bwrap`` is None when running unsandboxed."""

    executor_image: str
    base_env: Mapping[str, str]
    bwrap: str | None

    def launch(self, ctx: PodContext, container: Mapping[str, Any]) -> Launch:
        name = str(container["name"])
        meta = ctx.pod.get("metadata") or {}
        base = {**self.base_env, "HOSTNAME": str(meta.get("name", ""))}
        env = container_env(
            ctx.pod, container, base=base, secrets=ctx.secrets, config_maps=ctx.config_maps
        )
        argv = self.executor_argv(container, command_line(container, env))
        mounts = ctx.volumes.mounts(container)
        termination = ctx.dirs.termination(name)
        target = str(container.get("terminationMessagePath") or TERMINATION_LOG)
        mounts.append(Mount(termination, target))
        log = ctx.dirs.log(name)
        fallback = container.get("terminationMessagePolicy") == FALLBACK_TO_LOGS
        working_dir = str(container.get("workingDir") or "")
        if self.bwrap is not None:
            full = bwrap_argv(argv, mounts, bwrap=self.bwrap, cwd=working_dir or "/", as_pid_1=True)
            return Launch(full, env, None, log, termination, True, fallback)
        return self._unsandboxed(
            ctx, name, argv=argv, env=env, mounts=mounts, working_dir=working_dir, fallback=fallback
        )

    def _unsandboxed(
        self,
        ctx: PodContext,
        name: str,
        *,
        argv: list[str],
        env: dict[str, str],
        mounts: list[Mount],
        working_dir: str,
        fallback: bool,
    ) -> Launch:
        paths = HostPaths(mounts)
        tmp = ctx.dirs.tmp(name)
        tmp.mkdir(parents=True, exist_ok=True)
        mapped_env = {k: paths.map(v) for k, v in env.items()}
        var_run = paths.host(VAR_RUN_ARGO)
        if var_run is not None:
            mapped_env[ENV_VAR_RUN_DIR] = str(var_run)
        mapped_env[ENV_TERMINATION_LOG] = str(ctx.dirs.termination(name))
        # The executor's other fixed paths (/argo/staging, /mainctrfs...) follow the mounts.
        mapped_env[ENV_PATH_MAP] = json.dumps({m.target: str(m.source) for m in mounts})
        mapped_env["TMPDIR"] = str(paths.host("/tmp") or tmp)
        if mapped_env.get("HOME") == "/tmp":
            mapped_env["HOME"] = mapped_env["TMPDIR"]
        cwd = paths.map(working_dir) if working_dir else mapped_env["TMPDIR"]
        # The interpreter running an executor container is this host's, never a container path
        # (a checkout under /tmp must not be "mapped" into a volume mounted at /tmp).
        if argv[:1] == [sys.executable]:
            command = [argv[0], *(paths.map(w) for w in argv[1:])]
        else:  # a user command: also the paths inside shell lines (`wc -l < /data/in.txt`)
            command = [paths.map_text(w) for w in argv]
        termination = ctx.dirs.termination(name)
        return Launch(command, mapped_env, cwd, ctx.dirs.log(name), termination, False, fallback)

    def is_executor(self, container: Mapping[str, Any]) -> bool:
        command = container.get("command") or []
        return container.get("image") == self.executor_image or command[:1] == [ARGOEXEC]

    def executor_argv(self, container: Mapping[str, Any], argv: Sequence[str]) -> list[str]:
        """The bare ``argoexec`` of an executor container becomes this project's executor."""
        if argv[:1] == [ARGOEXEC] and self.is_executor(container):
            return [sys.executable, "-S", "-c", _EXECUTOR_CODE, *argv[1:]]
        return list(argv)


# Executor containers start without ``site`` (-S) and with this process's import path: the
# same modules, without processing site-packages (.pth files, the editable-install finder) on
# every start, which costs about as much as the interpreter itself.
_SOURCE_ROOT = str(Path(__file__).resolve().parents[3])  # holds argoexec/ and artifacts/
_EXECUTOR_CODE = (
    f"import sys; sys.path[:0] = {[_SOURCE_ROOT, *(p for p in sys.path if p)]!r}; "
    "from argoexec.cli import main; sys.exit(main())"
)


class HostPaths:
    """In-container absolute paths → host paths, through the container's mounts."""

    def __init__(self, mounts: Sequence[Mount]) -> None:
        # Deepest mount first: a nested mount wins over its parent's.
        self.mounts = sorted(mounts, key=lambda m: -len(PurePosixPath(m.target).parts))

    def host(self, path: str) -> Path | None:
        for mount in self.mounts:
            if path == mount.target:
                return mount.source
            if path.startswith(mount.target.rstrip("/") + "/"):
                return mount.source / path[len(mount.target.rstrip("/")) + 1 :]
        return None

    def map(self, word: str) -> str:
        host = self.host(word) if word.startswith("/") else None
        return str(host) if host is not None else word

    def map_text(self, text: str) -> str:
        """Every absolute path in ``text`` that lies under a mount (a whole word, or a token of
        a shell line such as ``cat /data/in.txt | wc -l``) mapped to its host path."""
        return _PATH_TOKEN.sub(lambda m: m.group(1) + self.map(m.group(2)), text)


# An absolute path at the start of the text or after a shell delimiter.
_PATH_TOKEN = re.compile(r"""(^|[\s'"=<>|&;:(])(/[^\s'"<>|&;:()]*)""")
