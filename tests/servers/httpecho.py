"""A loopback HTTP(S) server for `http` templates: it answers what a request asks for.

Stdlib ``ThreadingHTTPServer`` on 127.0.0.1, port 0, one per session (plain and TLS), its
journal reset per test. Paths (any method):
- ``/status/N`` answers status N with the body ``status N``;
- ``/echo`` answers 200 with a JSON body of the request (method, path, headers, body);
- ``/redirect/N?to=PATH`` answers status N with ``Location: PATH``;
- ``/loop`` answers 302 with ``Location: /loop``;
- ``/slow?seconds=S`` waits S seconds, then answers 200;
- ``/big?bytes=N`` answers 200 with N bytes;
- anything else answers 200 with ``hello world``.
Every request is journaled (method, path, headers, body).
"""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.servers.http import TLSMaterial


@dataclass
class Journal:
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(entry)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        entry = {
            "method": self.command,
            "path": parts.path,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body.decode("utf-8", errors="replace"),
        }
        self.server.journal.add(entry)
        status, headers, data = 200, {}, b"hello world"
        if parts.path.startswith("/status/"):
            status = int(parts.path.rsplit("/", 1)[1])
            data = f"status {status}".encode()
        elif parts.path == "/echo":
            data = json.dumps(entry).encode()
            headers["Content-Type"] = "application/json"
        elif parts.path.startswith("/redirect/"):
            status = int(parts.path.rsplit("/", 1)[1])
            headers["Location"] = query.get("to", "/")
            data = b""
        elif parts.path == "/loop":
            status, data = 302, b""
            headers["Location"] = "/loop"
        elif parts.path == "/slow":
            time.sleep(float(query.get("seconds", "1")))
        elif parts.path == "/big":
            data = b"x" * int(query.get("bytes", "0"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("X-Echo", "yes")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            with contextlib.suppress(OSError):
                self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    journal: Journal


@dataclass
class EchoServer:
    url: str
    journal: Journal


@contextlib.contextmanager
def echo_serving(tls: ssl.SSLContext | None = None) -> Iterator[EchoServer]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.journal = Journal()
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="httpecho", daemon=True)
    thread.start()
    scheme = "https" if tls is not None else "http"
    try:
        yield EchoServer(f"{scheme}://127.0.0.1:{server.server_address[1]}", server.journal)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="session")
def _echo_server() -> Iterator[EchoServer]:
    with echo_serving() as server:
        yield server


@pytest.fixture
def echo_server(_echo_server: EchoServer) -> EchoServer:
    """The plain HTTP echo server, its journal empty."""
    _echo_server.journal.requests.clear()
    return _echo_server


@pytest.fixture(scope="session")
def echo_tls_server(tls_material: TLSMaterial) -> Iterator[EchoServer]:
    """The echo server over TLS, with a certificate from a throwaway CA (no client cert)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_material.server_cert_file, tls_material.server_key_file)
    with echo_serving(context) as server:
        yield server
