"""What the local runtime adds to Argo's pod before it runs it (its `adapt` step; the engine
never patches a pod after building it): the host directories of `local:` artifact locations
bound into `init` and `wait`, and the controller's kubeconfig for a resource template's main.
The result channel (`runtime.results.add_result_channel`) is added by whoever reads results."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from argoexec.contract import (
    INIT_CONTAINER,
    KUBECONFIG_IN_POD,
    KUBECONFIG_VOLUME,
    LOCAL_ARTIFACTS_VOLUME,
    MAIN_CONTAINER,
    WAIT_CONTAINER,
)


def adapt_local(
    pod: Mapping[str, Any], template: Mapping[str, Any], *, kubeconfig: Path | None
) -> dict[str, Any]:
    adapted = copy.deepcopy(dict(pod))
    _add_local_roots(adapted, template)
    if template.get("resource") is not None and kubeconfig is not None:
        _mount_kubeconfig(adapted, str(kubeconfig))
    return adapted


def _executor_containers(pod: Mapping[str, Any], data: bool) -> list[dict[str, Any]]:
    """init and wait; and a data template's main, which lists artifact locations itself."""
    spec = pod["spec"]
    names = (WAIT_CONTAINER, MAIN_CONTAINER) if data else (WAIT_CONTAINER,)
    found = [c for c in spec.get("initContainers") or [] if c.get("name") == INIT_CONTAINER]
    found += [c for c in spec.get("containers") or [] if c.get("name") in names]
    return found


def _local_roots(template: Mapping[str, Any]) -> set[str]:
    source = ((template.get("data") or {}).get("source") or {}).get("artifactPaths")
    locations: list[Any] = [template.get("archiveLocation"), source]
    for side in ("inputs", "outputs"):
        locations += (template.get(side) or {}).get("artifacts") or []
    roots: set[str] = set()
    for location in locations:
        local = location.get("local") if isinstance(location, Mapping) else None
        if isinstance(local, Mapping) and local.get("root"):
            roots.add(str(local["root"]))
    return roots


def _add_local_roots(pod: dict[str, Any], template: Mapping[str, Any]) -> None:
    """Bind the host directories of `local:` artifact locations into init and wait (and the
    main of a data template)."""
    volumes = pod["spec"].setdefault("volumes", [])
    for index, root in enumerate(sorted(_local_roots(template))):
        Path(root).mkdir(parents=True, exist_ok=True)
        name = f"{LOCAL_ARTIFACTS_VOLUME}-{index}"
        volumes.append({"name": name, "hostPath": {"path": root, "type": "DirectoryOrCreate"}})
        for container in _executor_containers(pod, template.get("data") is not None):
            mounts = container.setdefault("volumeMounts", [])
            mounts.append({"name": name, "mountPath": root})


def _mount_kubeconfig(pod: dict[str, Any], host_path: str) -> None:
    """A resource pod's main talks to the API of the controller's kubeconfig: the file is bound
    read-only into the container (a host path may sit under the host's /tmp, which a sandboxed
    container does not see)."""
    pod["spec"].setdefault("volumes", []).append(
        {"name": KUBECONFIG_VOLUME, "hostPath": {"path": host_path, "type": "File"}}
    )
    for container in pod["spec"]["containers"]:
        if container.get("name") == MAIN_CONTAINER:
            container.setdefault("volumeMounts", []).append(
                {"name": KUBECONFIG_VOLUME, "mountPath": KUBECONFIG_IN_POD, "readOnly": True}
            )
            container.setdefault("env", []).append(
                {"name": "KUBECONFIG", "value": KUBECONFIG_IN_POD}
            )
