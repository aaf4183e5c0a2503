"""``build_pod``: a resolved template + workflow/node context → the workflow pod Argo's
controller would create (argo-contract.md §1, legacy layout)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from argoexec import contract
from argoexec.contract import MAIN_CONTAINER, WAIT_CONTAINER
from argoexec.controller.pod import containers as ctrs
from argoexec.controller.pod import meta, spec, volumes
from argoexec.controller.pod.affinity import add_hostnames_to_affinity
from argoexec.controller.pod.archive import archive_logs, fill_archive_location
from argoexec.controller.pod.context import PodBuildError, PodContext
from argoexec.controller.pod.env import common_env, template_env_value
from argoexec.controller.pod.naming import pod_name
from argoexec.controller.pod.offload import offload
from argoexec.controller.pod.patch import apply_pod_spec_patches, pod_spec_patches
from argoexec.models import Template

Container = dict[str, Any]


@dataclass(frozen=True)
class PodObjects:
    """The pod, and the ConfigMap to create first when values were offloaded (§1.6)."""

    pod: dict[str, Any]
    config_map: dict[str, Any] | None
    template: Template  # as the executor sees it (archiveLocation filled)


def build_pod(template: Template, ctx: PodContext) -> dict[str, Any]:
    """The pod alone; use :func:`build_pod_objects` when offloading may need a ConfigMap."""
    return build_pod_objects(template, ctx).pod


def build_pod_objects(template: Template, ctx: PodContext) -> PodObjects:
    kind = ctrs.template_kind(template)
    if kind in ("data", "resource"):
        ctx = dataclasses.replace(ctx, include_script_output=kind == "data")
    name = pod_name(
        ctx.workflow_name,
        ctx.node_name,
        ctx.template_name or template.name or "",
        ctx.resolved_node_id(),
        ctx.pod_name_version,
    )
    tmpl = fill_archive_location(template.model_copy(deep=True), ctx, name)
    wire = tmpl.to_wire()
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta.pod_metadata(ctx, name),
        "spec": _base_spec(wire, ctx),
    }
    _add_containers(pod, tmpl, wire, ctx, kind)
    config_map = offload(pod, tmpl.main_containers(), meta.owner_reference(ctx))
    return PodObjects(pod=pod, config_map=config_map, template=tmpl)


def _base_spec(wire: dict[str, Any], ctx: PodContext) -> dict[str, Any]:
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "volumes": [
            volumes.empty_dir(contract.VAR_RUN_ARGO_VOLUME),
            volumes.empty_dir(contract.TMP_DIR_VOLUME),
            *(wire.get("volumes") or []),
        ],
    }
    deadline = spec.active_deadline_seconds(wire, ctx)
    if deadline is not None:
        pod_spec["activeDeadlineSeconds"] = deadline
    spec.add_workflow_fields(pod_spec, ctx.workflow_spec)
    spec.setup_service_account(pod_spec, wire, ctx.workflow_spec)
    if ctx.termination_grace_period_seconds is not None:
        pod_spec["terminationGracePeriodSeconds"] = ctx.termination_grace_period_seconds
    return pod_spec


def _needs_wait(tmpl: Template, ctx: PodContext, kind: str) -> bool:
    if kind == "data":
        return False
    if kind == "resource":
        return archive_logs(tmpl, ctx)
    return True


def _add_containers(
    pod: dict[str, Any], tmpl: Template, wire: dict[str, Any], ctx: PodContext, kind: str
) -> None:
    pod_spec, metadata = pod["spec"], pod["metadata"]
    mains = ctrs.main_containers(tmpl, ctx, kind)
    containers = [ctrs.wait_container(ctx, kind)] if _needs_wait(tmpl, ctx, kind) else []
    containers += mains
    init = ctrs.init_container(ctx, kind)
    init_containers = [init]
    names = [c["name"] for c in containers]
    default = MAIN_CONTAINER if MAIN_CONTAINER in names else names[-1]
    metadata["annotations"][contract.ANNOTATION_DEFAULT_CONTAINER] = default
    if ctx.workflow_spec.get("podGC"):
        gc = meta.pod_gc_annotation(ctx.workflow_spec["podGC"], ctx.pod_gc_delete_delay)
        metadata["annotations"][contract.ANNOTATION_POD_GC_STRATEGY] = gc
    spec.add_scheduling_constraints(pod_spec, wire, ctx.workflow_spec)
    if ctx.retry_fail_hosts:
        affinity = add_hostnames_to_affinity(pod_spec.get("affinity"), ctx.retry_fail_hosts)
        pod_spec["affinity"] = affinity
    meta.apply_user_metadata(metadata, ctx.workflow_spec.get("podMetadata"), wire.get("metadata"))
    secret_targets = [init, volumes.find(containers, WAIT_CONTAINER)]
    secret_targets += [volumes.find(containers, MAIN_CONTAINER)] if kind == "data" else []
    _add_references(pod_spec["volumes"], tmpl, wire, ctx, secret_targets)
    volumes.add_input_artifact_volumes(tmpl, pod_spec["volumes"], init, containers)
    if kind == "script":
        volumes.add_script_staging(pod_spec["volumes"], init, mains[0])
    main = volumes.find(containers, MAIN_CONTAINER)
    init_containers += [_user(c, main) for c in wire.get("initContainers") or []]
    containers += [_user(c, main) for c in wire.get("sidecars") or []]
    if kind not in ("resource", "data"):
        _mirror_main_on_wait(containers)
    _finish_init_containers(init_containers, wire, ctx)
    _add_env(containers, ctx)
    if spec.debug_paused(mains):
        pod_spec.pop("activeDeadlineSeconds", None)
    pod_spec["initContainers"] = init_containers
    pod_spec["containers"] = containers
    patches = pod_spec_patches(ctx.workflow_spec, wire)
    if patches:  # Argo: after the env, before the emissary wrapping and the last mounts
        required = [init["name"], *names]  # the executor's and the template's own
        pod["spec"] = pod_spec = apply_pod_spec_patches(pod_spec, patches, required)
    _finish_containers(pod_spec.get("containers") or [], ctx)


def _add_references(
    pod_volumes: list[dict[str, Any]],
    tmpl: Template,
    wire: dict[str, Any],
    ctx: PodContext,
    secret_targets: list[Container | None],
) -> None:
    """Referenced user volumes, then one secret volume per referenced secret, mounted on
    init, wait and (data templates) main."""
    mount_lists = [volumes.template_volume_mounts(tmpl)]
    mount_lists += [c.get("volumeMounts") or [] for c in wire.get("initContainers") or []]
    mount_lists += [c.get("volumeMounts") or [] for c in wire.get("sidecars") or []]
    sources = [
        wire.get("volumes") or [],
        ctx.workflow_spec.get("volumes") or [],
        ctx.persistent_volume_claims,
    ]
    volumes.add_volume_references(pod_volumes, mount_lists, sources)
    secret_vols, secret_mounts = volumes.secret_volumes(volumes.secret_locations(tmpl))
    pod_volumes.extend(secret_vols)
    for target in secret_targets:
        if target is not None:
            volumes.add_mounts(target, secret_mounts)


def _user(spec_: dict[str, Any], main: Container | None) -> Container:
    """A user init container or sidecar, optionally mirroring main's mounts."""
    ctr = ctrs.user_container(spec_)
    if main is not None and spec_.get("mirrorVolumeMounts"):
        volumes.add_mounts(ctr, main.get("volumeMounts") or [])
    return ctr


def _mirror_main_on_wait(containers: list[Container]) -> None:
    wait = volumes.find(containers, WAIT_CONTAINER)
    main = volumes.find(containers, MAIN_CONTAINER)
    if wait is not None and main is not None:
        mounts = volumes.mirrored(main.get("volumeMounts") or [], writable=True)
        volumes.add_mounts(wait, mounts)


def _finish_init_containers(
    init_containers: list[Container], wire: dict[str, Any], ctx: PodContext
) -> None:
    template_value = template_env_value(wire)
    for ctr in init_containers:
        volumes.add_mounts(ctr, [volumes.var_run_argo_mount()])
        ctr.setdefault("env", []).extend(common_env(ctx, ctr["name"], template_value))


def _add_env(containers: list[Container], ctx: PodContext) -> None:
    for ctr in containers:
        env = ctr.setdefault("env", [])
        env.extend(common_env(ctx, ctr["name"], None))
        if ctx.termination_grace_period_seconds is not None:
            grace = str(ctx.termination_grace_period_seconds)
            env.append({"name": contract.ENV_TERMINATION_GRACE_PERIOD_SECONDS, "value": grace})


def _finish_containers(containers: list[Container], ctx: PodContext) -> None:
    """Emissary wrapping, ``/tmp`` for executor-image containers, ``/var/run/argo``."""
    for index, ctr in enumerate(containers):
        if ctrs.is_wrapped(ctr):
            ctrs.wrap_with_emissary(ctr, ctx)
        if ctr.get("image") == ctx.executor_image:
            tmp = {"name": contract.TMP_DIR_VOLUME, "mountPath": "/tmp", "subPath": str(index)}
            volumes.add_mounts(ctr, [tmp])
        volumes.add_mounts(ctr, [volumes.var_run_argo_mount()])


__all__ = ["PodBuildError", "PodContext", "PodObjects", "build_pod", "build_pod_objects"]
