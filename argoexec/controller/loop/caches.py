"""Where memoization caches live on this machine (`seams.MemoizationCaches`).

`DirectoryCaches`: the state directory, one file per ConfigMap in the ConfigMap's own shape
(`apiVersion`, `kind`, `metadata`, `data`), so a cache can be read, edited or seeded by hand
exactly as with `kubectl`:

    STATE_DIR/.configmaps/<namespace>/<name>.json     the ConfigMap, replaced atomically
    STATE_DIR/.configmaps/<namespace>/.<name>.lock    flock held while it is read and rewritten

Every `argoexec run` and `argoexec controller` of one state directory shares them: a save reads
the file, changes its one key and renames the new file over it, all under the ConfigMap's lock,
so two runs saving to one ConfigMap at once lose neither entry. Readers take no lock (a rename
is atomic: they see the old file or the new one). The directory's name starts with a dot: no
workflow can be called that (a run named `configmaps` has its own directory).

`MemoryCaches`: the same in this process's memory (a `run` on a `MemoryStore`, tests).
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from argoexec.controller.engine.memo import CacheError, name_problem, with_entry
from argoexec.controller.state import write_atomic

CACHES_DIR = ".configmaps"


class CacheView(Mapping[str, Mapping[str, Any]]):
    """The caches of one namespace for one pass: each ConfigMap read once, on first use."""

    def __init__(self, read: Any) -> None:
        self._read = read
        self._seen: dict[str, Mapping[str, Any] | None] = {}

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        if name not in self._seen:
            self._seen[name] = self._read(name)
        found = self._seen[name]
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter([k for k, v in self._seen.items() if v is not None])

    def __len__(self) -> int:
        return sum(1 for v in self._seen.values() if v is not None)


class MemoryCaches:
    def __init__(self) -> None:
        self._maps: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def view(self, namespace: str) -> Mapping[str, Mapping[str, Any]]:
        def read(name: str) -> Mapping[str, Any] | None:
            with self._lock:
                found = self._maps.get((namespace, name))
                return copy.deepcopy(found) if found is not None else None

        return CacheView(read)

    def save(
        self, namespace: str, name: str, key: str, entry: Mapping[str, Any], *, hit: bool
    ) -> None:
        with self._lock:
            current = self._maps.get((namespace, name))
            changed = with_entry(
                current, namespace=namespace, name=name, key=key, entry=entry, hit=hit
            )
            if changed is not None:
                self._maps[(namespace, name)] = changed


class DirectoryCaches:
    def __init__(self, root: Path) -> None:
        self.root = root / CACHES_DIR

    def path(self, namespace: str, name: str) -> Path:
        """The file of ConfigMap `name` (a StateError-free check: both are object names)."""
        for what, value in (("namespace", namespace), ("ConfigMap", name)):
            if name_problem(value) or value.startswith("."):
                raise CacheError(f"{what} {value!r} is not a Kubernetes object name")
        return self.root / namespace / f"{name}.json"

    def view(self, namespace: str) -> Mapping[str, Mapping[str, Any]]:
        return CacheView(lambda name: self._read(namespace, name))

    def _read(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        try:
            path = self.path(namespace, name)
        except CacheError:
            return None  # no such ConfigMap can exist (the reconciler says why)
        try:
            found = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise CacheError(f"memoization cache {path}: cannot be read: {exc}") from None
        if not isinstance(found, dict):
            raise CacheError(f"memoization cache {path}: not a ConfigMap object")
        return found

    def save(
        self, namespace: str, name: str, key: str, entry: Mapping[str, Any], *, hit: bool
    ) -> None:
        path = self.path(namespace, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path.with_name(f".{name}.lock")):
            current = self._read(namespace, name)
            changed = with_entry(
                current, namespace=namespace, name=name, key=key, entry=entry, hit=hit
            )
            if changed is not None:
                write_atomic(path, json.dumps(changed, indent=2) + "\n")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
