"""The cluster controller's caches (`Informer`): list then watch, a relist on 410 Gone that
reports what vanished meanwhile, an index, and writes of our own that a late event does not
replace."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from argoexec.controller.cluster.api import ClusterApi, Connection
from argoexec.controller.cluster.informer import Informer
from tests.servers.kube import FakeKube


def _config_map(name: str, team: str) -> dict[str, Any]:
    meta = {"name": name, "namespace": "default", "labels": {"team": team}}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {}}


def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "not in time"
        time.sleep(0.02)


def test_an_informer_lists_watches_relists_on_410_and_keeps_its_index(
    kube_api: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kube_api.bookmark_interval = 0.2
    monkeypatch.setattr(kube_api, "max_watch_seconds", 0.5)  # watches end often
    api = ClusterApi.connect(
        Connection(kubeconfig=str(kube_api.kubeconfig(tmp_path / "kc", token=kube_api.token)))
    )
    kube_api.seed(_config_map("a", "red"))
    events: list[tuple[str, str]] = []
    lock = threading.Lock()

    def handler(kind: str, obj: dict[str, Any]) -> None:
        with lock:
            events.append((kind, obj["metadata"]["name"]))

    informer = Informer(
        api,
        "/api/v1/namespaces/default/configmaps",
        handler=handler,
        index=lambda o: o["metadata"]["labels"]["team"],
    )
    informer.start()
    try:
        assert informer.wait_synced(10)
        assert [o["metadata"]["name"] for o in informer.indexed("red")] == ["a"]
        kube_api.seed(_config_map("b", "blue"))
        _until(lambda: informer.get("default", "b") is not None)
        assert [o["metadata"]["name"] for o in informer.indexed("blue")] == ["b"]
        # The next watch is answered 410 Gone: the informer lists again; what vanished
        # meanwhile is reported deleted.
        lists = informer.lists
        kube_api.fault("GET", r"/configmaps$", status=410, times=1, reason="Expired")
        kube_api.store.delete(kube_api.kind("configmaps"), "default", "a", {})
        kube_api.seed(_config_map("c", "red"))
        _until(lambda: informer.get("default", "c") is not None and informer.lists > lists)
        _until(lambda: informer.get("default", "a") is None)
        assert ("DELETED", "a") in events
        assert [o["metadata"]["name"] for o in informer.indexed("red")] == ["c"]
        # A write of ours is newer than a late event for an older version of the object.
        newer = {**informer.get("default", "c"), "data": {"k": "ours"}}  # type: ignore[dict-item]
        newer["metadata"] = {**newer["metadata"], "resourceVersion": "999999"}
        informer.put(newer)
        api.replace(
            "/api/v1/namespaces/default/configmaps/c",
            {**_config_map("c", "red"), "data": {"k": "server"}},
        )
        time.sleep(0.5)
        assert informer.get("default", "c")["data"] == {"k": "ours"}  # type: ignore[index]
    finally:
        informer.stop()
        api.close()
