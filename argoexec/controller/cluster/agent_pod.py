"""The agent pod of a workflow with `http` templates, as Argo's createAgentPod builds it: named
`<workflow>-<fnv("agent")>-agent`, labelled with the workflow, `completed: "false"` and
`component: agent`; an `init` container (`argoexec agent init`) and a `main` container
(`argoexec agent main`) of the executor image, with Argo's restricted security context and
small resources; the workflow's service account; restartPolicy OnFailure; owned by the
Workflow; then, as Argo, the workflow's scheduling constraints (node selector, affinity,
tolerations, scheduler, priority class, host aliases, security context), its `podMetadata`,
its DNS settings and its `spec.podSpecPatch` (as written: Argo applies it unsubstituted).
`ARGO_AGENT_PATCH_RATE` is given as this controller's patch rate.

Differences: the service account token is mounted the usual way (Argo mounts it as a volume
of its own with `automountServiceAccountToken: false`); no executor plugin sidecars, no CA
certificates volume."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from argoexec import contract as c
from argoexec.controller.pod.meta import apply_user_metadata
from argoexec.controller.pod.patch import apply_pod_spec_patches
from argoexec.controller.pod.spec import add_scheduling_constraints

from .tasksets import agent_pod_name


@dataclass(frozen=True)
class AgentPodSettings:
    executor_image: str = c.DEFAULT_EXECUTOR_IMAGE
    executor_image_pull_policy: str | None = None
    instance_id: str = ""
    log_level: str = "info"
    patch_rate: str = "1s"  # Argo passes its requeue time (10s): the first results wait less


def _container(name: str, phase: str, workflow: Mapping[str, Any], s: AgentPodSettings
               ) -> dict[str, Any]:  # fmt: skip
    meta = workflow.get("metadata") or {}
    container: dict[str, Any] = {
        "name": name,
        "image": s.executor_image,
        "command": [c.EXECUTOR_COMMAND],
        "args": ["agent", phase, "--loglevel", s.log_level],
        "env": [
            {"name": c.ENV_WORKFLOW_NAME, "value": str(meta.get("name"))},
            {"name": c.ENV_WORKFLOW_UID, "value": str(meta.get("uid") or "")},
            {"name": c.ENV_AGENT_PATCH_RATE, "value": s.patch_rate},
            {"name": c.ENV_PLUGIN_ADDRESSES, "value": "null"},
            {"name": c.ENV_PLUGIN_NAMES, "value": "null"},
        ],
        "securityContext": {
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "runAsUser": 8737,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
        },
        "resources": {
            "requests": {"cpu": "10m", "memory": "64M"},
            "limits": {"cpu": "100m", "memory": "256M"},
        },
        "volumeMounts": [{"name": c.VAR_RUN_ARGO_VOLUME, "mountPath": c.VAR_RUN_ARGO}],
    }
    if s.executor_image_pull_policy:
        container["imagePullPolicy"] = s.executor_image_pull_policy
    return container


def agent_pod(workflow: Mapping[str, Any], settings: AgentPodSettings) -> dict[str, Any]:
    meta = workflow.get("metadata") or {}
    spec = workflow.get("spec") or {}
    name = str(meta.get("name"))
    own = {c.LABEL_WORKFLOW: name, c.LABEL_COMPLETED: "false", c.LABEL_COMPONENT: "agent"}
    if settings.instance_id:
        own[c.LABEL_INSTANCE_ID] = settings.instance_id
    labels = dict(own)
    pod_spec: dict[str, Any] = {
        "restartPolicy": "OnFailure",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 8737},
        "volumes": [{"name": c.VAR_RUN_ARGO_VOLUME, "emptyDir": {}}],
        "initContainers": [_container(c.INIT_CONTAINER, "init", workflow, settings)],
        "containers": [_container(c.MAIN_CONTAINER, "main", workflow, settings)],
    }
    if spec.get("serviceAccountName"):
        pod_spec["serviceAccountName"] = spec["serviceAccountName"]
    if spec.get("imagePullSecrets"):
        pod_spec["imagePullSecrets"] = spec["imagePullSecrets"]
    add_scheduling_constraints(pod_spec, {}, spec)
    for field in ("dnsPolicy", "dnsConfig"):  # Argo's addDNSConfig
        if spec.get(field):
            pod_spec[field] = spec[field]
    if spec.get("podSpecPatch"):
        patch = [("spec.podSpecPatch", str(spec["podSpecPatch"]))]
        pod_spec = apply_pod_spec_patches(pod_spec, patch, required=[c.MAIN_CONTAINER])
    metadata = {
        "name": agent_pod_name(name),
        "labels": labels,
        "annotations": {c.ANNOTATION_DEFAULT_CONTAINER: c.MAIN_CONTAINER},
    }
    apply_user_metadata(metadata, spec.get("podMetadata"), None)
    labels.update(own)  # the controller's labels are never the user's to change
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            **metadata,
            "ownerReferences": [
                {
                    "apiVersion": c.API_VERSION,
                    "kind": "Workflow",
                    "name": name,
                    "uid": meta.get("uid") or "",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": pod_spec,
    }
