"""Environment variables of workflow-pod containers and the ``ARGO_TEMPLATE`` value
(argo-contract.md §1.5-1.6)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from argoexec import contract
from argoexec.controller.pod.context import PodContext
from argoexec.durations import format_go_duration, rfc3339
from argoexec.varrun import VarRun

PROGRESS_FILE = str(VarRun().progress)

# Go's struct field order of wfv1.Template and corev1.Container: json.Marshal writes keys in
# this order, so ARGO_TEMPLATE reads the same as the real controller's.
TEMPLATE_KEYS = [
    "name",
    "inputs",
    "outputs",
    "nodeSelector",
    "affinity",
    "metadata",
    "daemon",
    "steps",
    "container",
    "containerSet",
    "script",
    "resource",
    "dag",
    "suspend",
    "data",
    "http",
    "plugin",
    "volumes",
    "initContainers",
    "sidecars",
    "archiveLocation",
    "activeDeadlineSeconds",
    "retryStrategy",
    "parallelism",
    "failFast",
    "tolerations",
    "schedulerName",
    "priorityClassName",
    "serviceAccountName",
    "automountServiceAccountToken",
    "executor",
    "hostAliases",
    "securityContext",
    "podSpecPatch",
    "metrics",
    "synchronization",
    "memoize",
    "timeout",
    "annotations",
    "pendingTimeout",
    "podResources",
    "resourceClaims",
]
CONTAINER_KEYS = [
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "ports",
    "envFrom",
    "env",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
]
# Go marshals these struct-valued fields even when empty.
_ALWAYS_TEMPLATE = ("inputs", "outputs", "metadata")


def _ordered(value: Mapping[str, Any], order: list[str]) -> dict[str, Any]:
    known = {k: value[k] for k in order if k in value}
    return known | {k: v for k, v in value.items() if k not in known}


def _go_container(value: Mapping[str, Any]) -> dict[str, Any]:
    # corev1.Container: `name` has no omitempty and `resources` is a struct.
    return _ordered({"name": "", "resources": {}} | dict(value), CONTAINER_KEYS)


def go_template_order(wire: Mapping[str, Any]) -> dict[str, Any]:
    """The template dict with Go's key order and always-present fields."""
    tmpl = dict(wire)
    for key in _ALWAYS_TEMPLATE:
        tmpl.setdefault(key, {})
    for key in ("container", "script"):
        if isinstance(tmpl.get(key), Mapping):
            tmpl[key] = _go_container(tmpl[key])
    for key in ("initContainers", "sidecars"):
        if isinstance(tmpl.get(key), list):
            tmpl[key] = [_go_container(c) for c in tmpl[key]]
    cset = tmpl.get("containerSet")
    if isinstance(cset, Mapping) and isinstance(cset.get("containers"), list):
        tmpl["containerSet"] = {
            **cset,
            "containers": [_go_container(c) for c in cset["containers"]],
        }
    return _ordered(tmpl, TEMPLATE_KEYS)


def go_json(value: Any) -> str:
    """``encoding/json.Marshal``: compact, UTF-8, with Go's HTML-safe escapes."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def template_env_value(wire: Mapping[str, Any]) -> str:
    """``ARGO_TEMPLATE``: the template JSON with ``inputs.parameters`` cleared."""
    tmpl = dict(wire)
    inputs = {k: v for k, v in (tmpl.get("inputs") or {}).items() if k != "parameters"}
    tmpl["inputs"] = inputs
    return go_json(go_template_order(tmpl))


def _field_ref(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def exec_env(ctx: PodContext) -> list[dict[str, Any]]:
    """The leading env of containers running the executor image."""
    env = [
        _field_ref(contract.ENV_POD_NAME, "metadata.name"),
        _field_ref(contract.ENV_POD_UID, "metadata.uid"),
        {"name": contract.ENV_WORKFLOW_NAME, "value": ctx.workflow_name},
        {"name": contract.ENV_WORKFLOW_UID, "value": ctx.workflow_uid},
    ]
    if ctx.instance_id:
        env.append({"name": contract.ENV_INSTANCE_ID, "value": ctx.instance_id})
    env += [dict(e) for e in ctx.executor_env]
    return env


def common_env(
    ctx: PodContext, container_name: str, template_value: str | None
) -> list[dict[str, Any]]:
    """The env every init container and container gets, in Argo's order; ``template_value``
    only for init containers."""
    env = [{"name": contract.ENV_CONTAINER_NAME, "value": container_name}]
    if template_value is not None:
        env.append({"name": contract.ENV_TEMPLATE, "value": template_value})
    env += [
        {"name": contract.ENV_NODE_ID, "value": ctx.resolved_node_id()},
        {
            "name": contract.ENV_INCLUDE_SCRIPT_OUTPUT,
            "value": "true" if ctx.include_script_output else "false",
        },
        {"name": contract.ENV_DEADLINE, "value": rfc3339(ctx.deadline)},
        {"name": contract.ENV_WORKFLOW_NAME, "value": ctx.workflow_name},
    ]
    if ctx.progress_patch_tick_seconds and ctx.progress_file_tick_seconds:
        env += [
            {"name": contract.ENV_PROGRESS_FILE, "value": PROGRESS_FILE},
            {
                "name": contract.ENV_PROGRESS_PATCH_TICK,
                "value": format_go_duration(ctx.progress_patch_tick_seconds),
            },
            {
                "name": contract.ENV_PROGRESS_FILE_TICK,
                "value": format_go_duration(ctx.progress_file_tick_seconds),
            },
        ]
    return env
