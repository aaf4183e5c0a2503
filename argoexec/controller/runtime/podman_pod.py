"""Argo's pod as ``podman kube play`` runs it (the ``podman`` runtime's translation).

The pod keeps its shape: init containers, containers, images, commands, ``securityContext``,
``resources.limits``, ``workingDir``, ``stdin``/``tty``. What podman cannot take from a
Kubernetes pod is resolved here, from the same code the ``local`` runtime uses:

* **Volumes** are prepared on the host (`volumes.PodVolumes`: emptyDirs, secrets and ConfigMaps
  written as files, claims, host paths) and every mount becomes a ``hostPath``: the controller
  reads what the pod leaves (the result file, ``/var/run/argo``) from the host side, and an
  emptyDir is not a podman named volume shared by every pod of that volume name.
* **Environment**: ``valueFrom`` (secrets, ConfigMaps, the downward API) and ``envFrom`` are
  resolved to literal values, and ``$(VAR)`` in ``command``/``args``, as the kubelet does.
* **The termination message** file of each container is a host file bound at its
  ``terminationMessagePath``.
* **Names**: podman's pods share one namespace on the machine; the pod is named
  ``<prefix>-<pod>`` (`PodmanNames`), its containers ``<prefix>-<pod>-<container>``; the
  containers' hostname is the pod's own name, as on Kubernetes (`pod_hostname`).
* **Pull policy**: an image under ``localhost/`` cannot come from a registry, so its unset
  policy is ``Never`` (`pull_policy`): one that is not here fails at once, without podman
  trying a registry at ``localhost`` (Kubernetes' default for ``:latest`` would be ``Always``).
* **Executor containers** (their image is the executor image) without a ``runAsUser`` run as
  this process's user: they write into host directories of the run (a ``local`` artifact
  repository) that the image's user could not.

The pod uses the host's network (``hostNetwork``): servers on 127.0.0.1 are reachable, and two
pods cannot both listen on one port (a run's own network is future work).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argoexec.contract import TERMINATION_LOG
from argoexec.controller.runtime.env import command_line, container_env
from argoexec.controller.runtime.launch import PodContext
from argoexec.controller.sandbox import Mount

# Keep init containers after they ran: their logs and exit codes are read when the pod ends.
INIT_KEPT = {"io.podman.annotations.init.container.type": "always"}
LOCAL_REGISTRY = "localhost/"
NEVER_PULL = "Never"
# Container fields passed on as they are.
_KEPT_FIELDS = ("workingDir", "stdin", "stdinOnce", "tty", "ports")


@dataclass(frozen=True)
class PodmanNames:
    """Names of one runtime's pods in podman: the runtime's root (a state directory) makes
    them unique on the machine, so two runs of one workflow in two state directories do not
    collide."""

    prefix: str

    @classmethod
    def of(cls, root: str) -> PodmanNames:
        return cls("argoexec-" + hashlib.sha256(root.encode()).hexdigest()[:8])

    def pod(self, pod_name: str) -> str:
        return f"{self.prefix}-{pod_name}"

    def container(self, pod_name: str, container: str) -> str:
        return f"{self.pod(pod_name)}-{container}"


def kube_pod(ctx: PodContext, names: PodmanNames, executor_image: str) -> dict[str, Any]:
    """The ``Pod`` document for ``podman kube play``. `EnvError` for an environment that
    cannot be resolved, `VolumeError` for a mount that cannot be (the volumes are prepared)."""
    spec = ctx.pod.get("spec") or {}
    meta = ctx.pod.get("metadata") or {}
    volumes: dict[str, dict[str, Any]] = {}

    def convert(container: Mapping[str, Any]) -> dict[str, Any]:
        return _container(ctx, container, volumes, executor_image)

    init = [convert(c) for c in spec.get("initContainers") or []]
    main = [convert(c) for c in spec.get("containers") or []]
    pod_spec: dict[str, Any] = {"restartPolicy": "Never", "hostNetwork": True}
    pod_spec["hostname"] = pod_hostname(ctx.name, spec.get("hostname"))
    if init:
        pod_spec["initContainers"] = init
    pod_spec["containers"] = main
    pod_spec["volumes"] = list(volumes.values())
    security = spec.get("securityContext")
    if security:
        pod_spec["securityContext"] = dict(security)
    labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": names.pod(ctx.name),
            "labels": labels,
            "annotations": dict(INIT_KEPT),
        },
        "spec": pod_spec,
    }


def pod_hostname(pod_name: str, given: object = None) -> str:
    """The containers' hostname, as the kubelet gives it: the pod's ``hostname``, else its name
    cut to 63 characters (no trailing ``-`` or ``.``). Without it podman names the host after
    its own pod name, which the prefix can take past Linux's 64 characters (``sethostname``
    fails and no container starts)."""
    if isinstance(given, str) and given:
        return given
    return pod_name[:63].rstrip("-.")


def pull_policy(container: Mapping[str, Any]) -> str | None:
    """The container's ``imagePullPolicy`` as played: ``Never`` when unset for an image under
    ``localhost/``, else as given (None: podman's default, as Kubernetes')."""
    policy = container.get("imagePullPolicy")
    if not policy and str(container.get("image") or "").startswith(LOCAL_REGISTRY):
        return NEVER_PULL
    return str(policy) if policy else None


def _container(
    ctx: PodContext,
    container: Mapping[str, Any],
    volumes: dict[str, dict[str, Any]],
    executor_image: str,
) -> dict[str, Any]:
    name = str(container["name"])
    image = str(container.get("image") or "")
    env = container_env(
        ctx.pod, container, base={}, secrets=ctx.secrets, config_maps=ctx.config_maps
    )
    out: dict[str, Any] = {"name": name, "image": image}
    if container.get("command"):
        out["command"] = command_line(container, env)
    elif container.get("args"):  # the image's ENTRYPOINT with these arguments
        out["args"] = command_line(container, env)
    policy = pull_policy(container)
    if policy:
        out["imagePullPolicy"] = policy
    out["env"] = [{"name": k, "value": v} for k, v in env.items()]
    for field in _KEPT_FIELDS:
        if field in container:
            out[field] = container[field]
    limits = (container.get("resources") or {}).get("limits")
    if limits:
        out["resources"] = {"limits": dict(limits)}
    security = dict(container.get("securityContext") or {})
    if image == executor_image and "runAsUser" not in security:
        security.setdefault("runAsUser", os.getuid())
        security.setdefault("runAsGroup", os.getgid())
    if security:
        out["securityContext"] = security
    mounts = ctx.volumes.mounts(container)
    target = str(container.get("terminationMessagePath") or TERMINATION_LOG)
    mounts.append(Mount(ctx.dirs.termination(name), target))
    out["volumeMounts"] = [_mount(m, volumes) for m in mounts]
    return out


def _mount(mount: Mount, volumes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A hostPath volume per host path (one volume shared by the mounts of the same path)."""
    source = str(mount.source)
    volume = volumes.get(source)
    if volume is None:
        kind = "File" if mount.source.is_file() else "Directory"
        volume = {"name": f"v{len(volumes)}", "hostPath": {"path": source, "type": kind}}
        volumes[source] = volume
    entry: dict[str, Any] = {"name": volume["name"], "mountPath": mount.target}
    if mount.read_only:
        entry["readOnly"] = True
    return entry
