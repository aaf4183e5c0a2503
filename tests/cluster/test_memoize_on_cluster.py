"""Memoization on a cluster: cache ConfigMaps through the API (`ClusterCaches`), and
`argoexec controller` running a memoized workflow twice (the second a hit, no pod)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller.cluster.api import ClusterApi, Connection
from argoexec.controller.cluster.caches import ClusterCaches
from argoexec.controller.engine.memo import CacheError
from argoexec.kube.errors import KubeNotFoundError
from tests.cluster.harness import CONTROLLER_USER, Cluster
from tests.cluster.rbac import Authorizer, violations
from tests.servers.kube import FakeKube

LABEL = "workflows.argoproj.io/configmap-type"


def entry(node: str) -> dict[str, Any]:
    moment = "2026-01-01T00:00:00Z"
    return {
        "nodeID": node,
        "outputs": {"result": node},
        "creationTimestamp": moment,
        "lastHitTimestamp": moment,
    }


def caches_on(fake: FakeKube, tmp_path: Path) -> ClusterCaches:
    config = fake.kubeconfig(tmp_path / "kc", token=fake.token)
    return ClusterCaches(ClusterApi.connect(Connection(kubeconfig=str(config))))


def test_the_first_save_creates_the_labelled_config_map_and_later_ones_update_it(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    caches = caches_on(kube_api, tmp_path)
    caches.save("team", "my-cache", "k1", entry("n1"), hit=False)
    caches.save("team", "my-cache", "k2", entry("n2"), hit=False)
    stored = kube_api.get("configmaps", "my-cache", "team")
    assert stored["metadata"]["labels"] == {LABEL: "Cache"}
    assert {k: json.loads(v) for k, v in stored["data"].items()} == {
        "k1": entry("n1"),
        "k2": entry("n2"),
    }
    methods = [r.method for r in kube_api.requests(path=r"/configmaps")]
    assert methods == ["GET", "POST", "GET", "PUT"]
    assert caches.view("team")["my-cache"]["data"] == stored["data"]


def test_a_save_that_meets_a_conflict_reads_again_and_keeps_the_other_writers_entry(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    ours, theirs = caches_on(kube_api, tmp_path), caches_on(kube_api, tmp_path)
    ours.save("team", "shared", "a", entry("a"), hit=False)
    # Another controller writes between our read and our write: our PUT gets a 409.
    real_get = ours.api.get
    raced = threading.Event()

    def get_then_race(path: str, **query: str) -> dict[str, Any]:
        found = real_get(path, **query)
        if not raced.is_set():
            raced.set()
            theirs.save("team", "shared", "b", entry("b"), hit=False)
        return found

    ours.api.get = get_then_race  # type: ignore[method-assign]
    ours.save("team", "shared", "c", entry("c"), hit=False)
    data = kube_api.get("configmaps", "shared", "team")["data"]
    assert sorted(data) == ["a", "b", "c"]
    puts = kube_api.requests("PUT", r"/configmaps/shared")
    assert [r.status for r in puts] == [200, 409, 200]


def test_a_create_that_finds_it_created_meanwhile_updates_it_instead(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    caches = caches_on(kube_api, tmp_path)
    kube_api.seed(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "late", "namespace": "team", "labels": {LABEL: "Cache"}},
            "data": {"x": json.dumps(entry("x"))},
        }
    )
    real_get = caches.api.get
    calls = []

    def first_get_misses(path: str, **query: str) -> dict[str, Any]:
        calls.append(path)
        if len(calls) == 1:  # not there yet when read: created by another writer before POST
            raise KubeNotFoundError(404, "NotFound", "not yet")
        return real_get(path, **query)

    caches.api.get = first_get_misses  # type: ignore[method-assign]
    caches.save("team", "late", "y", entry("y"), hit=False)
    assert sorted(kube_api.get("configmaps", "late", "team")["data"]) == ["x", "y"]


def test_a_config_map_without_the_cache_label_is_refused_and_left_alone(
    kube_api: FakeKube, tmp_path: Path
) -> None:
    kube_api.seed(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "theirs", "namespace": "team"},
            "data": {"x": "1"},
        }
    )
    with pytest.raises(CacheError, match="refusing to use it"):
        caches_on(kube_api, tmp_path).save("team", "theirs", "k", entry("n"), hit=False)
    assert kube_api.get("configmaps", "theirs", "team")["data"] == {"x": "1"}
    assert not kube_api.requests("PUT")


MEMOIZED = {
    "spec": {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "memoize": {
                    "key": "answer",
                    "maxAge": "1h",
                    "cache": {"configMap": {"name": "answers"}},
                },
                "container": {"image": "busybox", "command": ["sh", "-c", "echo 42"]},
            }
        ],
    }
}


def test_a_second_workflow_of_the_same_key_hits_without_a_pod(
    cluster: Cluster, objects: list[dict[str, Any]]
) -> None:
    cluster.start_controller()
    cluster.submit({**MEMOIZED, "metadata": {"name": "one"}})
    one = cluster.wait_finished("one")
    assert one["status"]["phase"] == "Succeeded"
    pods = [p["metadata"]["name"] for p in cluster.fake.objects("pods", namespace="default")]
    stored = cluster.fake.get("configmaps", "answers", "default")
    assert stored["metadata"]["labels"] == {LABEL: "Cache"}
    [node] = one["status"]["nodes"].values()
    assert json.loads(stored["data"]["answer"])["nodeID"] == node["id"]
    assert node["memoizationStatus"] == {"hit": False, "key": "answer", "cacheName": "answers"}

    cluster.submit({**MEMOIZED, "metadata": {"name": "two"}})
    two = cluster.wait_finished("two")
    assert two["status"]["phase"] == "Succeeded"
    [hit] = two["status"]["nodes"].values()
    assert hit["memoizationStatus"] == {"hit": True, "key": "answer", "cacheName": "answers"}
    assert hit["outputs"]["result"] == "42"
    created = cluster.fake.requests("POST", r"/pods$")
    assert len(created) == len(pods) == 1  # the first workflow's pod only
    # Every cache call (GET, POST, PUT) is one the manifests grant the controller.
    journal = cluster.fake.requests(path=r"/configmaps")
    assert {r.method for r in journal if r.user == CONTROLLER_USER} >= {"GET", "POST", "PUT"}
    assert violations(journal, Authorizer.from_objects(objects), CONTROLLER_USER) == []
