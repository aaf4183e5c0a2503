"""`retryStrategy.affinity.nodeAntiAffinity`: a retried pod carries a required node affinity
keeping it off the hosts its failed attempts ran on (Argo's RetryOnDifferentHost,
AddHostnamesToAffinity); the hosts are the failed pods' `spec.nodeName`."""

from __future__ import annotations

from typing import Any

from argoexec.controller.pod.affinity import add_hostnames_to_affinity
from tests.controller.reconcile_double import Cluster, nodes_by_name, step, workflow
from tests.controller.test_reconcile import T0

HOST = "kubernetes.io/hostname"


def _not_in(*hosts: str) -> dict[str, Any]:
    return {"key": HOST, "operator": "NotIn", "values": list(hosts)}


def _required(*expressions: dict[str, Any]) -> dict[str, Any]:
    return {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": list(expressions)}]}}  # fmt: skip


def test_no_affinity_becomes_the_required_not_in_term() -> None:
    assert add_hostnames_to_affinity(None, ["a", "a", "b"]) == {
        "nodeAffinity": _required(_not_in("a", "b"))
    }


def test_an_existing_not_in_on_the_hostname_gains_the_hosts_without_duplicates() -> None:
    zone = {"key": "zone", "operator": "In", "values": ["z1"]}
    before = {"nodeAffinity": _required(zone, _not_in("a")), "podAffinity": {"x": 1}}
    after = add_hostnames_to_affinity(before, ["a", "b"])
    assert after == {"nodeAffinity": _required(zone, _not_in("a", "b")), "podAffinity": {"x": 1}}
    assert before["nodeAffinity"] == _required(zone, _not_in("a"))  # not changed in place


def test_other_terms_get_the_requirement_added_to_the_first_term() -> None:
    zone = {"key": "zone", "operator": "In", "values": ["z1"]}
    after = add_hostnames_to_affinity({"nodeAffinity": _required(zone)}, ["a"])
    assert after == {"nodeAffinity": _required(zone, _not_in("a"))}


def test_a_preferred_only_node_affinity_gains_the_required_term() -> None:
    preferred = {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1}]}
    after = add_hostnames_to_affinity({"nodeAffinity": dict(preferred)}, ["a"])
    assert after == {"nodeAffinity": {**preferred, **_required(_not_in("a"))}}


def _retried(strategy: dict[str, Any]) -> dict[str, Any]:
    return {
        "entrypoint": "main",
        "templates": [
            {"name": "main", "retryStrategy": strategy,
             "container": {"image": "alpine", "command": ["false"]}},
        ],
    }  # fmt: skip


def _attempt_pods(strategy: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    wf = workflow(_retried(strategy))
    cluster = Cluster()
    step(wf, cluster, T0)
    for number, host in enumerate(["node-a", "node-b"]):
        attempt = nodes_by_name(wf)[f"wf({number})"]
        cluster.pods[attempt["id"]].status.node_name = host
        step(wf, cluster, T0 + 2 * number + 1)  # observed running on its host
        cluster.end(attempt["id"], 1)
        step(wf, cluster, T0 + 2 * number + 2)  # failed: the next attempt's pod is created
    return wf, [cluster.specs[name] for name in cluster.created]


def test_each_retry_avoids_the_hosts_of_the_failed_attempts() -> None:
    wf, pods = _attempt_pods({"limit": 2, "affinity": {"nodeAntiAffinity": {}}})
    assert nodes_by_name(wf)["wf(0)"]["hostNodeName"] == "node-a"
    assert "affinity" not in pods[0]["spec"]
    assert pods[1]["spec"]["affinity"] == {"nodeAffinity": _required(_not_in("node-a"))}
    # depth first from the Retry node, its last child first (Argo's GetFailHosts)
    assert pods[2]["spec"]["affinity"] == {"nodeAffinity": _required(_not_in("node-b", "node-a"))}


def test_without_node_anti_affinity_retries_keep_the_templates_affinity() -> None:
    _, pods = _attempt_pods({"limit": 2})
    assert ["affinity" in pod["spec"] for pod in pods] == [False, False, False]
