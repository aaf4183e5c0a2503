"""Offloading oversized ``ARGO_TEMPLATE`` values and container args to a ConfigMap named like
the pod (argo-contract.md §1.6)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from argoexec import contract
from argoexec.controller.pod.context import PodBuildError
from argoexec.controller.pod.env import go_json

Container = dict[str, Any]


def _too_long(value: str) -> bool:
    # Go's len() counts bytes.
    return len(value.encode()) > contract.MAX_ARG_LEN


def _offload_template(containers: list[Container], data: dict[str, str]) -> list[Container]:
    carriers = []
    for ctr in containers:
        for env in ctr.get("env") or []:
            if env.get("name") == contract.ENV_TEMPLATE and _too_long(str(env.get("value", ""))):
                data[contract.ENV_TEMPLATE] = str(env["value"])
                env["value"] = contract.OFFLOADED
                carriers.append(ctr)
    return carriers


def _offload_args(
    containers: list[Container], main_names: Collection[str], data: dict[str, str]
) -> list[Container]:
    carriers = []
    for ctr in containers:
        args = ctr.get("args")
        if ctr.get("name") not in main_names or not args or not _too_long(go_json(args)):
            continue
        if contract.ENV_CONTAINER_ARGS_FILE in data:
            raise PodBuildError("more than one container has args beyond 131072 bytes")
        data[contract.ENV_CONTAINER_ARGS_FILE] = go_json(args)
        del ctr["args"]
        ctr.setdefault("env", []).append(
            {"name": contract.ENV_CONTAINER_ARGS_FILE, "value": contract.CONTAINER_ARGS_FILE_PATH}
        )
        carriers.append(ctr)
    return carriers


def offload(
    pod: dict[str, Any], main_names: Collection[str], owner: dict[str, Any]
) -> dict[str, Any] | None:
    """Rewrite ``pod`` in place when a value exceeds 131072 bytes; the ConfigMap to create
    alongside it, or ``None`` when nothing was offloaded."""
    spec = pod["spec"]
    everything = [*spec.get("initContainers", []), *spec.get("containers", [])]
    data: dict[str, str] = {}
    carriers = _offload_template(everything, data)
    carriers += _offload_args(spec.get("containers", []), main_names, data)
    if not data:
        return None
    meta = pod["metadata"]
    spec["volumes"].append({"name": contract.CONFIG_VOLUME, "configMap": {"name": meta["name"]}})
    mount = {"name": contract.CONFIG_VOLUME, "mountPath": contract.CONFIG_DIR}
    for ctr in carriers:
        mounts = ctr.setdefault("volumeMounts", [])
        if mount not in mounts:
            mounts.append(dict(mount))
    annotations = {
        k: meta["annotations"][k]
        for k in (contract.ANNOTATION_NODE_NAME, contract.ANNOTATION_NODE_ID)
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": {contract.LABEL_WORKFLOW: owner["name"]},
            "annotations": annotations,
            "ownerReferences": [owner],
        },
        "data": data,
    }
