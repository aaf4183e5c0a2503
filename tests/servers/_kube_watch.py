"""Watch streams of the fake API server (``?watch=true``): chunked JSON lines of events."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from tests.servers._kube_store import ApiError, Kind, field_matcher, label_matcher

if TYPE_CHECKING:
    from tests.servers.kube import FakeKube, Route


class Watch:
    """One watch stream: chunked JSON lines until ``timeoutSeconds`` or the server stops."""

    def __init__(
        self, fake: FakeKube, handler: BaseHTTPRequestHandler, route: Route, query: dict[str, str]
    ) -> None:
        self.fake, self.handler, self.route = fake, handler, route
        self.labels = label_matcher(query.get("labelSelector", ""))
        self.fields = field_matcher(query.get("fieldSelector", ""))
        self.bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        self.rv = query.get("resourceVersion", "")
        timeout = float(query.get("timeoutSeconds") or fake.max_watch_seconds)
        self.deadline = time.monotonic() + min(timeout, fake.max_watch_seconds)

    def _matches(self, kind: Kind, obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        return (
            kind == self.route.kind
            and (not self.route.namespace or meta.get("namespace") == self.route.namespace)
            and self.labels(meta.get("labels") or {})
            and self.fields(obj)
        )

    def _emit(self, kind: str, obj: dict[str, Any]) -> None:
        line = json.dumps({"type": kind, "object": obj}).encode() + b"\n"
        self.handler.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        self.handler.wfile.flush()

    def _bookmark(self, rv: int) -> None:
        kind = self.route.kind
        meta = {"resourceVersion": str(rv)}
        self._emit(
            "BOOKMARK", {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": meta}
        )

    def run(self) -> None:
        handler = self.handler
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            self._stream()
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except OSError:
            pass  # the client went away
        handler.close_connection = True

    def _stream(self) -> None:
        store = self.fake.store
        with store.lock:
            if self.rv in ("", "0"):
                last = store.rv
                initial = store.list(self.route.kind, self.route.namespace)["items"]
                pending = [
                    ("ADDED", self.route.kind, o)
                    for o in initial
                    if self._matches(self.route.kind, o)
                ]
            else:
                last = int(self.rv)
                try:
                    pending = [(e.type, e.kind, e.obj) for e in store.events_since(last)]
                except ApiError as exc:
                    self._emit("ERROR", exc.status())
                    return
                last = store.rv
        quiet_since = time.monotonic()
        while True:
            for event_type, kind, obj in pending:
                if self._matches(kind, obj):
                    self._emit(event_type, obj)
                    quiet_since = time.monotonic()
            now = time.monotonic()
            if now >= self.deadline or self.fake._stopping.is_set():
                if self.bookmarks:
                    self._bookmark(store.rv)
                return
            if self.bookmarks and now - quiet_since >= self.fake.bookmark_interval:
                self._bookmark(store.rv)
                quiet_since = now
            with store.changed:
                if store.rv == last:
                    wait = min(self.deadline - now, self.fake.bookmark_interval)
                    store.changed.wait(max(0.01, wait))
                try:
                    events = store.events_since(last)
                except ApiError as exc:
                    self._emit("ERROR", exc.status())
                    return
                pending = [(e.type, e.kind, e.obj) for e in events]
                last = store.rv
