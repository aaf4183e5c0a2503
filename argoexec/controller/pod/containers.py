"""The containers of a workflow pod (argo-contract.md §1.3-1.4, §1.7)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from argoexec.contract import (
    EXECUTOR_COMMAND,
    INIT_CONTAINER,
    MAIN_CONTAINER,
    STAGING_SCRIPT,
    WAIT_CONTAINER,
)
from argoexec.controller.pod.context import PodBuildError, PodContext
from argoexec.controller.pod.env import exec_env, go_json
from argoexec.models import Template
from argoexec.varrun import VarRun

ARTIFACT_PLUGIN_PREFIX = "artifact-plugin-"
EMISSARY = str(VarRun().executable)
# Fields of Argo's UserContainer / ContainerNode that are not part of a Kubernetes container.
_ARGO_ONLY_FIELDS = ("mirrorVolumeMounts", "dependencies")
_LOOKUP_HELP = (
    "you must either explicitly specify the command, or list the image's command in the "
    "index: https://argo-workflows.readthedocs.io/en/latest/workflow-executors/#emissary-emissary"
)

Container = dict[str, Any]


def template_kind(template: Template) -> str:
    """The pod-producing kind of a template (Argo's ``GetType``, pod kinds only)."""
    for kind, value in (
        ("container", template.container),
        ("containerSet", template.container_set),
        ("script", template.script),
        ("resource", template.resource),
        ("data", template.data),
    ):
        if value is not None:
            return kind
    raise PodBuildError(f"template {template.name!r} does not run in a workflow pod")


def minimal_security_context(read_only_root: bool) -> dict[str, Any]:
    """Argo's ``MinimalCtrSC`` as used for resource templates without an executor
    securityContext; the root filesystem is read-only only on ``main``."""
    ctx: dict[str, Any] = {
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "runAsUser": 8737,
        "runAsNonRoot": True,
    }
    if read_only_root:
        ctx["readOnlyRootFilesystem"] = True
    ctx["allowPrivilegeEscalation"] = False
    ctx["seccompProfile"] = {"type": "RuntimeDefault"}
    return ctx


def exec_container(name: str, command: list[str], ctx: PodContext, kind: str) -> Container:
    """A container running the executor image (init, wait, main of resource/data)."""
    ctr: Container = {"name": name, "image": ctx.executor_image, "command": command}
    if ctx.executor_args:
        ctr["args"] = list(ctx.executor_args)
    ctr["env"] = exec_env(ctx)
    if ctx.executor_resources:
        ctr["resources"] = copy.deepcopy(dict(ctx.executor_resources))
    if ctx.executor_image_pull_policy:
        ctr["imagePullPolicy"] = ctx.executor_image_pull_policy
    if ctx.executor_security_context is not None:
        ctr["securityContext"] = copy.deepcopy(dict(ctx.executor_security_context))
    elif kind == "resource":
        ctr["securityContext"] = minimal_security_context(
            name not in (INIT_CONTAINER, WAIT_CONTAINER)
        )
    return ctr


def init_container(ctx: PodContext, kind: str) -> Container:
    return exec_container(INIT_CONTAINER, [EXECUTOR_COMMAND, "init", *ctx.log_flags()], ctx, kind)


def wait_container(ctx: PodContext, kind: str) -> Container:
    return exec_container(WAIT_CONTAINER, [EXECUTOR_COMMAND, "wait", *ctx.log_flags()], ctx, kind)


def user_container(spec: Mapping[str, Any]) -> Container:
    """A deep copy of a template container without Argo-only fields."""
    ctr = copy.deepcopy(dict(spec))
    for key in _ARGO_ONLY_FIELDS:
        ctr.pop(key, None)
    return ctr


def _named_main(spec: Mapping[str, Any]) -> Container:
    ctr = user_container(spec)
    return {"name": MAIN_CONTAINER} | {k: v for k, v in ctr.items() if k != "name"}


def main_containers(template: Template, ctx: PodContext, kind: str) -> list[Container]:
    """The main container(s) per template kind (§1.7)."""
    if kind == "container":
        assert template.container is not None
        return [_named_main(template.container)]
    if kind == "script":
        assert template.script is not None
        script = template.script.to_wire()
        source = script.pop("source", "")
        ctr = _named_main(script)
        if source:
            ctr["args"] = [*(ctr.get("args") or []), STAGING_SCRIPT]
        return [ctr]
    if kind == "resource":
        assert template.resource is not None
        command = [EXECUTOR_COMMAND, "resource", template.resource.action, *ctx.log_flags()]
        return [exec_container(MAIN_CONTAINER, command, ctx, kind)]
    if kind == "data":
        spec = template.data or {}
        data: dict[str, Any] = {k: spec[k] for k in ("source", "transformation") if k in spec}
        data |= {k: v for k, v in spec.items() if k not in data}
        command = [EXECUTOR_COMMAND, "data", go_json(data), *ctx.log_flags()]
        return [exec_container(MAIN_CONTAINER, command, ctx, kind)]
    return _container_set_members(template)


def _container_set_members(template: Template) -> list[Container]:
    cset = template.container_set
    assert cset is not None
    members = []
    for spec in cset.containers:
        ctr = user_container(spec)
        ctr["name"] = ctr.get("name") or MAIN_CONTAINER
        if cset.volume_mounts:
            ctr["volumeMounts"] = [
                *(ctr.get("volumeMounts") or []),
                *copy.deepcopy(cset.volume_mounts),
            ]
        members.append(ctr)
    return members


def is_wrapped(container: Mapping[str, Any]) -> bool:
    """Every entry of ``spec.containers`` except wait, supervisor and plugin sidecars runs
    under the emissary."""
    name = str(container.get("name", ""))
    return name not in (WAIT_CONTAINER, "supervisor") and not name.startswith(
        ARTIFACT_PLUGIN_PREFIX
    )


def wrap_with_emissary(container: Container, ctx: PodContext) -> None:
    """Prefix the command with ``/var/run/argo/argoexec emissary <flags> --``; an empty command
    takes the image's ENTRYPOINT (and CMD when ``args`` is unset) from ``ctx.images``."""
    command = list(container.get("command") or [])
    if not command:
        image = str(container.get("image", ""))
        entry = ctx.images.get(image)
        if entry is None:
            raise PodBuildError(
                f"failed to look-up entrypoint/cmd for image {image!r}, {_LOOKUP_HELP}: "
                "registry look-ups are not available offline; pass the image in `images`"
            )
        command = list(entry.entrypoint)
        if container.get("args") is None and entry.cmd is not None:
            container["args"] = list(entry.cmd)
        if not command and not container.get("args"):
            raise PodBuildError(f"image {image!r} has neither ENTRYPOINT nor CMD; {_LOOKUP_HELP}")
    container["command"] = [EMISSARY, "emissary", *ctx.log_flags(), "--", *command]
