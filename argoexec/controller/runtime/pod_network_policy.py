"""Which pods of the ``local`` runtime get a network of their own (`contract.POD_NETWORKS`):
under ``auto`` (the default) a daemon's pod and a pod with sidecars, under ``pod`` every pod (as
on Kubernetes), under ``host`` none. Read from the pod's ``ARGO_TEMPLATE``, as Argo's pods
carry it; `podnet` makes the networks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from argoexec.contract import POD_NETWORK_HOST, POD_NETWORK_POD, POD_NETWORKS


def wants_own_network(template: Mapping[str, Any], policy: str) -> bool:
    """Whether a pod of `template` (its ARGO_TEMPLATE) gets a network of its own under
    `policy`: under ``auto``, a daemon's pod and a pod with sidecars (they listen on ports of
    their own, which two such pods at once must not share)."""
    if policy == POD_NETWORK_POD:
        return True
    if policy == POD_NETWORK_HOST:
        return False
    return template.get("daemon") is True or bool(template.get("sidecars"))


def runs_daemon(pod: Mapping[str, Any]) -> bool:
    """Whether the pod runs a daemon template (``"daemon": true`` in its ARGO_TEMPLATE)."""
    return pod_template(pod).get("daemon") is True


def check_policy(policy: str) -> str:
    """`policy` if it is one of `POD_NETWORKS`; `ValueError` naming them otherwise."""
    if policy not in POD_NETWORKS:
        raise ValueError(f"pod network {policy!r}: must be one of {', '.join(POD_NETWORKS)}")
    return policy


def pod_template(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The template the pod runs (its ARGO_TEMPLATE, as Argo's pods carry it); {} if none."""
    spec = pod.get("spec") or {}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for var in container.get("env") or []:
            if var.get("name") == "ARGO_TEMPLATE":
                try:
                    found = json.loads(str(var.get("value") or "{}"))
                except ValueError:
                    return {}
                return found if isinstance(found, dict) else {}
    return {}
