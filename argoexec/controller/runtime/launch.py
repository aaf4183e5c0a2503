"""How one container of a pod spec becomes a host command line (``Launch``).

Images are ignored: ``command`` + ``args`` run on this host, with no resource limits and no
``securityContext`` applied. An *executor container* (its image is the configured executor
image, or its command is the bare ``argoexec``) runs this project's own executor
(`executor.Executor`); ``/var/run/argo/argoexec`` in user containers is the emissary launcher
``init`` installed.

Sandboxed (bubblewrap, `sandbox.Sandbox`), each container gets its own writable root over the
host's system directories, each volume mount is bound at its ``mountPath`` and the termination
log at ``terminationMessagePath``; a ``workingDir`` that does not exist is created. The
environment is a container's: the standard ``PATH``, ``HOME=/root``, ``HOSTNAME`` the pod's
name, then the container's ``env`` and ``envFrom``.

Unsandboxed (no bubblewrap, or ``--no-sandbox``), absolute paths inside the container cannot
be honoured. The runtime maps what it can: every path under a ``mountPath`` in
``command``/``args`` (a whole word, or a token of a shell line) and every ``env`` value naming
one is rewritten to the host path of that mount; ``ARGOEXEC_VAR_RUN_DIR`` points at the host
directory of ``/var/run/argo``, ``ARGOEXEC_TERMINATION_LOG`` at the container's termination file
(our executor and emissary honour both) and ``ARGOEXEC_PATH_MAP`` lists every mount, so the
executor's other fixed paths (``/argo/staging``, ``/argo/inputs/artifacts``, ``/mainctrfs``...)
land in the pod's volumes; ``TMPDIR``, a ``HOME`` of ``/tmp`` and the default working directory
are a per-container host directory (or the host path of a ``/tmp`` mount). Paths a program
computes itself (a script writing ``/tmp/out.txt``, output parameters at ``/tmp/x``,
``/dev/termination-log`` written by a user script, or secrets read from ``/argo/secret``) are
NOT mapped, and the host's files are all visible: such pods need the sandbox.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from argoexec.contract import (
    ENV_EMISSARY_BINARY,
    ENV_PATH_MAP,
    ENV_TERMINATION_LOG,
    ENV_VAR_RUN_DIR,
    EXECUTOR_COMMAND,
    TERMINATION_LOG,
    VAR_RUN_ARGO,
)
from argoexec.controller.runtime.env import command_line, container_env
from argoexec.controller.runtime.executor import Executor
from argoexec.controller.runtime.process import Launch
from argoexec.controller.runtime.volumes import PodDirs, PodVolumes
from argoexec.controller.sandbox import Mount, Sandbox

FALLBACK_TO_LOGS = "FallbackToLogsOnError"
# What an image's default environment holds (Debian and most others).
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CONTAINER_HOME = "/root"


@dataclass(frozen=True)
class PodContext:
    """What every container of one pod shares."""

    pod: Mapping[str, Any]
    dirs: PodDirs
    volumes: PodVolumes
    secrets: Path | None
    config_maps: Mapping[str, Mapping[str, str]]
    # The kubelet-managed /etc/hosts of a pod with a network of its own (its name resolves to
    # its address without a DNS server, which it cannot reach).
    hosts: Path | None = None

    @property
    def name(self) -> str:
        return str((self.pod.get("metadata") or {}).get("name", ""))


@dataclass(frozen=True)
class Launcher:
    """Builds ``Launch``es; ``sandbox`` is None when running unsandboxed."""

    executor_image: str
    executor: Executor
    sandbox: Sandbox | None

    def launch(self, ctx: PodContext, container: Mapping[str, Any]) -> Launch:
        name = str(container["name"])
        home = CONTAINER_HOME if self.sandbox is not None else "/tmp"
        base = {"PATH": SYSTEM_PATH, "HOME": home, "HOSTNAME": ctx.name}
        executor = self.is_executor(container)
        if executor:  # the executor image's PATH holds `argoexec`; init installs the launcher
            base["PATH"] = f"{self.executor.bin}:{SYSTEM_PATH}"
            base[ENV_EMISSARY_BINARY] = self.executor.emissary
        env = container_env(
            ctx.pod, container, base=base, secrets=ctx.secrets, config_maps=ctx.config_maps
        )
        argv = self.executor_argv(container, command_line(container, env))
        mounts = ctx.volumes.mounts(container)
        termination = ctx.dirs.termination(name)
        target = str(container.get("terminationMessagePath") or TERMINATION_LOG)
        mounts.append(Mount(termination, target))
        if ctx.hosts is not None and not executor:
            mounts.append(Mount(ctx.hosts, "/etc/hosts"))
        fallback = container.get("terminationMessagePolicy") == FALLBACK_TO_LOGS
        working_dir = str(container.get("workingDir") or "")
        if self.sandbox is not None:
            binds = self.executor.binds if executor else self.executor.emissary_binds
            full = self.sandbox.argv(
                argv,
                mounts=mounts,
                binds=binds,
                cwd=working_dir or "/",
                hostname=ctx.name,
                as_pid_1=True,
            )
            return Launch(
                full,
                env,
                None,
                ctx.dirs.log(name),
                termination,
                True,
                fallback,
                record=ctx.dirs.process(name),
                pod_dir=ctx.dirs.root,
            )
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
        cwd = mapped_env["TMPDIR"]
        if working_dir:
            inside = paths.host(working_dir)
            if inside is not None:  # in one of the pod's volumes: created as a runtime would
                inside.mkdir(parents=True, exist_ok=True)
            cwd = str(inside or working_dir)
        # The interpreter running an executor container is this host's, never a container path
        # (a checkout under /tmp must not be "mapped" into a volume mounted at /tmp).
        if argv[:1] == list(self.executor.python):
            command = [argv[0], *(paths.map(w) for w in argv[1:])]
        else:  # a user command: also the paths inside shell lines (`wc -l < /data/in.txt`)
            command = [paths.map_text(w) for w in argv]
        termination = ctx.dirs.termination(name)
        return Launch(
            command,
            mapped_env,
            cwd,
            ctx.dirs.log(name),
            termination,
            False,
            fallback,
            record=ctx.dirs.process(name),
            pod_dir=ctx.dirs.root,
        )

    def is_executor(self, container: Mapping[str, Any]) -> bool:
        command = container.get("command") or []
        return container.get("image") == self.executor_image or command[:1] == [EXECUTOR_COMMAND]

    def executor_argv(self, container: Mapping[str, Any], argv: Sequence[str]) -> list[str]:
        """The bare ``argoexec`` of an executor container becomes this project's executor.
        An executor container without a command runs the image's entrypoint, ``argoexec``
        (Argo's artifact-GC pod gives only ``args``)."""
        if self.is_executor(container) and not container.get("command"):
            argv = [EXECUTOR_COMMAND, *argv]
        if argv[:1] == [EXECUTOR_COMMAND] and self.is_executor(container):
            return self.executor.argv(argv[1:])
        return list(argv)


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
