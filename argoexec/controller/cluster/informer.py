"""A list+watch cache of one kind of object (client-go's informer, reduced to what the
controller reads).

It lists, then watches from the list's resourceVersion with bookmarks (so a quiet watch still
moves its resourceVersion on); a watch the server ends is started again from the last version
seen; `410 Gone` (the version was compacted away) relists, and objects that vanished meanwhile
are reported deleted. Failures back off (1 s doubling to 30 s) and never end the informer.
Every `resync` seconds the handler is told about every cached object again (client-go's
resync): a level-triggered safety net for what no event announced.

Objects in the cache are never changed in place: an event replaces them. Readers may keep a
reference; they must copy before changing one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from argoexec.kube.errors import KubeError, KubeGoneError

from .api import ClusterApi

log = logging.getLogger("argoexec.controller")

Key = tuple[str, str]  # (namespace, name)
Handler = Callable[[str, dict[str, Any]], None]
WATCH_SECONDS = 300.0  # one watch request's length; the server may end it earlier
BACKOFF_MIN, BACKOFF_MAX = 1.0, 30.0


def key_of(obj: Mapping[str, Any]) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def version_of(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _older(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """Whether `new` is an older version than `old`. Kubernetes' resourceVersions are opaque,
    but etcd's (and every server's we know) are increasing integers: compared as such when
    both are, never otherwise."""
    a, b = version_of(new), version_of(old)
    return a.isdigit() and b.isdigit() and int(a) < int(b)


class Informer:
    def __init__(
        self,
        api: ClusterApi,
        path: str,
        *,
        label_selector: str = "",
        handler: Handler | None = None,
        resync: float = 0.0,
        what: str = "",
        index: Callable[[Mapping[str, Any]], Hashable] | None = None,
    ) -> None:
        self.api = api
        self.path = path  # the collection: all namespaces or one
        self.label_selector = label_selector
        self.handler = handler
        self.resync = resync
        self.what = what or path.rsplit("/", 1)[-1]
        self.synced = threading.Event()
        self.lists = 0  # how many times it listed (the first one and each relist)
        self._items: dict[Key, dict[str, Any]] = {}
        # An index of the cache (client-go's indexers): value -> keys, e.g. a pod's workflow.
        self.index = index
        self._indexed: dict[Hashable, set[Key]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._version = ""

    # --- reading ----------------------------------------------------------------------------

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._items.get((namespace, name))

    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items.values())

    def indexed(self, value: Hashable) -> list[dict[str, Any]]:
        """The cached objects whose index value is `value`."""
        with self._lock:
            return [self._items[k] for k in self._indexed.get(value, ()) if k in self._items]

    def put(self, obj: dict[str, Any]) -> None:
        """What this process just wrote (or read) itself: the cache has it before its watch
        event comes (a later event replaces it)."""
        with self._lock:
            self._store(obj)

    def _store(self, obj: dict[str, Any]) -> None:
        key = key_of(obj)
        old = self._items.get(key)
        if old is not None and _older(obj, old):
            return  # a write of ours is newer than this (late) event
        self._unindex(key)
        self._items[key] = obj
        if self.index is not None:
            self._indexed.setdefault(self.index(obj), set()).add(key)

    def _remove(self, key: Key) -> None:
        self._unindex(key)
        self._items.pop(key, None)

    def _unindex(self, key: Key) -> None:
        old = self._items.get(key)
        if old is not None and self.index is not None:
            keys = self._indexed.get(self.index(old))
            if keys is not None:
                keys.discard(key)

    # --- running ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"informer-{self.what}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def wait_synced(self, timeout: float) -> bool:
        return self.synced.wait(timeout)

    def _run(self) -> None:
        backoff = BACKOFF_MIN
        resynced = time.monotonic()
        while not self._stop.is_set():
            try:
                if not self._version:
                    self._list()
                self._watch()
                backoff = BACKOFF_MIN
            except KubeGoneError:
                log.debug("%s: watch version expired, listing again", self.what)
                self._version = ""
            except KubeError as exc:
                log.warning("%s: %s; trying again in %.0f s", self.what, exc, backoff)
                self._stop.wait(backoff)
                backoff = min(BACKOFF_MAX, backoff * 2)
            if self.resync and time.monotonic() - resynced >= self.resync:
                resynced = time.monotonic()
                for obj in self.items():
                    self._tell("SYNC", obj)

    def _query(self) -> dict[str, str]:
        return {"labelSelector": self.label_selector} if self.label_selector else {}

    def _list(self) -> None:
        listed = self.api.get(self.path, **self._query())
        self.lists += 1
        fresh = {key_of(obj): obj for obj in listed.get("items") or []}
        with self._lock:
            gone = [obj for key, obj in self._items.items() if key not in fresh]
            changed = [
                obj
                for key, obj in fresh.items()
                if version_of(self._items.get(key) or {}) != version_of(obj)
            ]
            self._items, self._indexed = {}, {}
            for obj in fresh.values():
                self._store(obj)
        self._version = str((listed.get("metadata") or {}).get("resourceVersion") or "")
        self.synced.set()
        for obj in gone:
            self._tell("DELETED", obj)
        for obj in changed:
            self._tell("MODIFIED", obj)

    def _watch(self) -> None:
        query = {**self._query(), "resourceVersion": self._version, "allowWatchBookmarks": "true"}
        for event in self.api.watch(self.path, query, timeout=WATCH_SECONDS):
            if self._stop.is_set():
                return
            kind, obj = str(event.get("type") or ""), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise KubeGoneError(410, "Expired", str(obj.get("message") or "expired"))
                raise KubeError(
                    int(obj.get("code") or 0), str(obj.get("reason") or ""), str(obj.get("message"))
                )
            version = version_of(obj)
            if version:
                self._version = version
            if kind == "BOOKMARK":
                continue
            with self._lock:
                if kind == "DELETED":
                    self._remove(key_of(obj))
                else:
                    self._store(obj)
            self._tell(kind, obj)

    def _tell(self, kind: str, obj: dict[str, Any]) -> None:
        if self.handler is None:
            return
        try:
            self.handler(kind, obj)
        except Exception:  # a handler's bug must not end the informer
            log.exception("%s: an event handler failed", self.what)
