"""Memoization caches on a cluster (`seams.MemoizationCaches`): ConfigMaps in the workflow's
namespace through the API, as Argo's `configMapCache`.

A save reads the ConfigMap (GET), changes its one key and writes it back (PUT with the
resourceVersion it read), or creates it (POST) the first time; a 409 (another controller wrote
it, or created it, meanwhile) starts again from a fresh read, so two writers lose neither entry.
What this controller read or wrote is kept `KEEP_SECONDS` (a workflow's passes read its caches
every pass; an entry saved here is seen at once): an entry another controller saved is seen
after at most that long.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from argoexec.controller.engine.memo import CacheError, name_problem, with_entry
from argoexec.controller.loop.caches import CacheView
from argoexec.kube.errors import (
    KubeAlreadyExistsError,
    KubeConflictError,
    KubeError,
    KubeNotFoundError,
)

from .api import ClusterApi
from .configmaps import config_map_path

KEEP_SECONDS = 2.0
ATTEMPTS = 5


class ClusterCaches:
    def __init__(self, api: ClusterApi) -> None:
        self.api = api
        self._kept: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()

    def view(self, namespace: str) -> Mapping[str, Mapping[str, Any]]:
        return CacheView(lambda name: self._read(namespace, name))

    def _read(self, namespace: str, name: str) -> dict[str, Any] | None:
        if name_problem(name):
            return None  # no such ConfigMap can exist (the reconciler says why)
        with self._lock:
            kept = self._kept.get((namespace, name))
        if kept is not None and time.monotonic() - kept[0] < KEEP_SECONDS:
            return kept[1]
        found = self._get(namespace, name)
        self._keep(namespace, name, found)
        return found

    def _get(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.api.get(config_map_path(namespace, name))
        except KubeNotFoundError:
            return None
        except KubeError as exc:
            raise CacheError(f"could not load config map cache: {exc}") from None

    def _keep(self, namespace: str, name: str, found: dict[str, Any] | None) -> None:
        with self._lock:
            self._kept[(namespace, name)] = (time.monotonic(), found)

    def save(
        self, namespace: str, name: str, key: str, entry: Mapping[str, Any], *, hit: bool
    ) -> None:
        for _ in range(ATTEMPTS):
            current = self._get(namespace, name)
            changed = with_entry(
                current, namespace=namespace, name=name, key=key, entry=entry, hit=hit
            )
            if changed is None:
                self._keep(namespace, name, current)
                return
            try:
                stored = self._write(namespace, name, changed, create=current is None)
            except (KubeConflictError, KubeAlreadyExistsError):  # written meanwhile: read again
                continue
            self._keep(namespace, name, stored)
            return
        raise CacheError(
            f"error creating cache entry: ConfigMap {namespace}/{name} kept changing "
            f"({ATTEMPTS} attempts)"
        )

    def _write(
        self, namespace: str, name: str, config_map: dict[str, Any], *, create: bool
    ) -> dict[str, Any]:
        try:
            if create:
                return self.api.create(config_map_path(namespace), config_map)
            return self.api.replace(config_map_path(namespace, name), config_map)
        except (KubeConflictError, KubeAlreadyExistsError):
            raise
        except KubeError as exc:
            raise CacheError(f"error creating cache entry: {exc}") from None
