"""The controller's health and metrics endpoints: `/healthz` (200 while the loop goes round,
503 once it has not for `stale_after` seconds) and `/metrics` (Prometheus text: the controller's
own gauges, written by `prometheus-client`, then the workflows' custom metrics)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("argoexec.controller")


class Endpoints:
    def __init__(
        self,
        address: str,
        port: int,
        *,
        healthy: Callable[[], bool],
        metrics: Callable[[], bytes],
    ) -> None:
        handler = _handler(healthy, metrics)
        self.server = ThreadingHTTPServer((address, port), handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="endpoints", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(
    healthy: Callable[[], bool], metrics: Callable[[], bytes]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/healthz", "/livez", "/readyz"):
                ok = healthy()
                self._send(200 if ok else 503, b"ok\n" if ok else b"not healthy\n", "text/plain")
            elif path == "/metrics":
                try:
                    body = metrics()
                except Exception:  # a scrape must not take the controller down
                    log.exception("metrics: could not write them")
                    self._send(500, b"metrics unavailable\n", "text/plain")
                    return
                self._send(200, body, "text/plain; version=0.0.4; charset=utf-8")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("endpoints: " + format, *args)

    return Handler
