"""A `WorkflowStore` in memory: for tests, benchmarks, and runs that keep no state directory.
Objects are copied in and out, as an API server's would be."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from argoexec.controller.loop.clone import clone

from .seams import ConflictError, NotFoundError


class MemoryStore:
    def __init__(self) -> None:
        self._objects: dict[str, dict[str, Any]] = {}
        self._version = 0

    def _next(self) -> str:
        self._version += 1
        return str(self._version)

    def get(self, name: str) -> dict[str, Any]:
        if name not in self._objects:
            raise NotFoundError(f"workflow {name!r} not found")
        return clone(self._objects[name])

    def list(self) -> list[dict[str, Any]]:
        return [clone(o) for o in self._objects.values()]

    def create(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        name = str(workflow["metadata"]["name"])
        if name in self._objects:
            raise ConflictError(f"workflow {name!r} exists already")
        stored = clone(dict(workflow))
        stored["metadata"]["resourceVersion"] = self._next()
        self._objects[name] = stored
        return clone(stored)

    def update(self, workflow: Mapping[str, Any]) -> dict[str, Any]:
        name = str(workflow["metadata"]["name"])
        current = self._objects.get(name)
        if current is None:
            raise NotFoundError(f"workflow {name!r} not found")
        version = workflow["metadata"].get("resourceVersion")
        if version != current["metadata"]["resourceVersion"]:
            raise ConflictError(f"workflow {name!r} changed since it was read")
        stored = clone(dict(workflow))
        stored["metadata"]["resourceVersion"] = self._next()
        self._objects[name] = stored
        return clone(stored)
