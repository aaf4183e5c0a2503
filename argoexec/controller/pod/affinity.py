"""`retryStrategy.affinity.nodeAntiAffinity`: a retried pod is kept off the hosts its failed
attempts ran on (Argo's `RetryOnDifferentHost` and `AddHostnamesToAffinity`): a required node
affinity term `kubernetes.io/hostname NotIn [hosts]`, merged into the affinity the pod has.

The pod only carries the term; the local and podman runtimes have one host and ignore
affinity, a Kubernetes scheduler honours it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

HOSTNAME_LABEL = "kubernetes.io/hostname"  # Argo's RETRY_HOST_NAME_LABEL_KEY default


def add_hostnames_to_affinity(
    affinity: dict[str, Any] | None, hosts: Sequence[str], label: str = HOSTNAME_LABEL
) -> dict[str, Any] | None:
    """`affinity` with `label NotIn hosts` required: added to an existing `NotIn` on the same
    label (no duplicates), else to the first term that has no expression, else to the first
    term, else as the only term (Argo's order of cases)."""
    if not hosts:
        return affinity
    requirement = {"key": label, "operator": "NotIn", "values": list(dict.fromkeys(hosts))}
    source = {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [requirement]}]}}  # fmt: skip
    if affinity is None:
        return {"nodeAffinity": source}
    result = copy.deepcopy(affinity)
    node_affinity = result.get("nodeAffinity")
    if node_affinity is None:
        result["nodeAffinity"] = source
        return result
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None or not required.get("nodeSelectorTerms"):
        node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = source[
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]
        return result
    _merge_into_terms(required["nodeSelectorTerms"], requirement)
    return result


def _merge_into_terms(terms: list[dict[str, Any]], requirement: dict[str, Any]) -> None:
    for term in terms:
        expressions = term.setdefault("matchExpressions", [])
        if not expressions:
            expressions.append(requirement)
            return
        for expression in expressions:
            same = (expression.get("key"), expression.get("operator"))
            if same == (requirement["key"], "NotIn"):
                values = [*(expression.get("values") or []), *requirement["values"]]
                expression["values"] = list(dict.fromkeys(values))
                return
    terms[0]["matchExpressions"].append(requirement)
