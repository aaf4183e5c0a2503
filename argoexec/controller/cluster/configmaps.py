"""The ConfigMaps of one namespace as the engine's `config_maps` mapping (name -> data): read
from the API server when asked (parameters' `configMapKeyRef`), kept a few seconds."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from argoexec.kube.client import resource_path
from argoexec.kube.errors import KubeError, KubeNotFoundError

from .api import ClusterApi

log = logging.getLogger("argoexec.controller")
KEEP_SECONDS = 5.0


def config_map_path(namespace: str, name: str | None = None) -> str:
    return resource_path("", "v1", "configmaps", namespace=namespace, name=name)


class NamespaceConfigMaps(Mapping[str, Mapping[str, str]]):
    def __init__(self, api: ClusterApi, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self._kept: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def object(self, name: str) -> dict[str, Any] | None:
        """The ConfigMap `name`, None if there is none (or it cannot be read: logged)."""
        with self._lock:
            kept = self._kept.get(name)
        if kept is not None and time.monotonic() - kept[0] < KEEP_SECONDS:
            return kept[1]
        try:
            found: dict[str, Any] | None = self.api.get(config_map_path(self.namespace, name))
        except KubeNotFoundError:
            found = None
        except KubeError as exc:
            log.warning("ConfigMap %s/%s: %s", self.namespace, name, exc)
            return None
        with self._lock:
            self._kept[name] = (time.monotonic(), found)
        return found

    def __getitem__(self, name: str) -> Mapping[str, str]:
        found = self.object(name)
        if found is None:
            raise KeyError(name)
        return {str(k): str(v) for k, v in (found.get("data") or {}).items()}

    def __iter__(self) -> Iterator[str]:
        try:
            listed = self.api.get(config_map_path(self.namespace))
        except KubeError as exc:
            log.warning("ConfigMaps of %s: %s", self.namespace, exc)
            return iter(())
        return iter([str(i["metadata"]["name"]) for i in listed.get("items") or []])

    def __len__(self) -> int:
        return sum(1 for _ in self)
