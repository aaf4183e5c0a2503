"""A loopback HTTP(S) file server for the HTTP/Artifactory driver tests.

Stdlib ``ThreadingHTTPServer`` on 127.0.0.1, port 0, started once per session and reset per test.
Supported subset: ``GET``/``HEAD`` (with ``Content-Length``) and ``PUT`` (``Content-Length`` or
chunked bodies) of files keyed by the percent-decoded URL path, stored on disk (so a big upload does
not sit in this process's memory); ``POST /oauth/token`` (OAuth2 client-credentials grant). Per-test
behaviour is set on :class:`ServerState`: required basic auth or bearer token, statuses for paths,
307 on the first ``PUT`` to a path, truncated bodies, paths answered ``500`` with the request's
headers echoed in the reason phrase and the body (as some servers do). Every request is journaled.

A second instance serves HTTPS and requires a client certificate issued by a throwaway CA.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import json
import shutil
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest

from argoexec.models import Artifact, BasicAuth, HTTPArtifact, HTTPAuth, SecretKeySelector
from artifacts.driver import DriverContext
from artifacts.secrets import MappingSecretResolver
from artifacts.settings import TransferSettings
from tests.servers.backend import Backend

TOKEN_PATH = "/oauth/token"
_BLOCK = 64 * 1024


class DiskStore:
    """Stored files by URL path (``/a/b``), kept on disk; a small dict-like API."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._index: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._n = 0

    def new_file(self) -> Path:
        with self._lock:
            self._n += 1
            return self.root / f"blob-{self._n}"

    def commit(self, key: str, blob: Path) -> None:
        with self._lock:
            old = self._index.get(key)
            self._index[key] = blob
        if old is not None:
            old.unlink(missing_ok=True)

    def __setitem__(self, key: str, data: bytes) -> None:
        blob = self.new_file()
        blob.write_bytes(data)
        self.commit(key, blob)

    def __getitem__(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def path(self, key: str) -> Path:
        with self._lock:
            return self._index[key]

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._index

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._index)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def clear(self) -> None:
        with self._lock:
            blobs, self._index = list(self._index.values()), {}
        for blob in blobs:
            blob.unlink(missing_ok=True)


@dataclass
class Recorded:
    method: str
    path: str  # as sent, with the query string
    headers: dict[str, str]  # lower-case names
    body_size: int = 0
    chunked: bool = False


@dataclass
class OAuth2Config:
    client_id: str
    client_secret: str
    expected_scopes: list[str] | None = None
    expected_params: dict[str, str] = field(default_factory=dict)
    expires_in: int = 3600


@dataclass
class ServerState:
    """What the server does in the current test (reset before each test)."""

    store: DiskStore
    journal: list[Recorded] = field(default_factory=list)
    basic_auth: tuple[str, str] | None = None
    require_bearer: bool = False
    bearer_tokens: set[str] = field(default_factory=set)
    status_for: dict[str, int] = field(default_factory=dict)
    redirect_first_put: set[str] = field(default_factory=set)
    truncate: dict[str, int] = field(default_factory=dict)  # path -> bytes actually sent
    get_redirects: dict[str, str] = field(default_factory=dict)  # path -> 302 target path
    echo_headers: set[str] = field(default_factory=set)  # paths answered 500 + request headers
    oauth2: OAuth2Config | None = None
    token_requests: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        self.store.clear()
        self.journal.clear()
        self.basic_auth = None
        self.require_bearer = False
        self.bearer_tokens.clear()
        self.status_for.clear()
        self.redirect_first_put.clear()
        self.truncate.clear()
        self.get_redirects.clear()
        self.echo_headers.clear()
        self.oauth2 = None
        self.token_requests.clear()

    def requests(self, method: str) -> list[Recorded]:
        return [r for r in self.journal if r.method == method]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def state(self) -> ServerState:
        return self.server.state

    @property
    def key(self) -> str:
        return unquote(urlsplit(self.path).path)

    def _record(self, size: int = 0, chunked: bool = False) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.state.lock:
            self.state.journal.append(Recorded(self.command, self.path, headers, size, chunked))

    def _read_body(self, out: BinaryIO | None) -> tuple[int, bool]:
        """Read the request body (by length or chunked) into ``out``; (size, chunked)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            size = 0
            while True:
                line = self.rfile.readline().strip()
                n = int(line.split(b";")[0], 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return size, True
                size += self._copy(n, out)
                self.rfile.readline()
        return self._copy(int(self.headers.get("Content-Length") or 0), out), False

    def _copy(self, n: int, out: BinaryIO | None) -> int:
        left = n
        while left:
            block = self.rfile.read(min(left, _BLOCK))
            if not block:
                raise ConnectionError("client closed mid-body")
            if out is not None:
                out.write(block)
            left -= len(block)
        return n

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _authorized(self) -> bool:
        given = self.headers.get("Authorization", "")
        if self.state.basic_auth is not None:
            user, password = self.state.basic_auth
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            if given != f"Basic {token}":
                return False
        if self.state.require_bearer:
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or token not in self.state.bearer_tokens:
                return False
        return True

    def _refuse_or_fail(self) -> bool:
        """Answer 401 or a configured status (after draining any body); True if answered."""
        status = self.state.status_for.get(self.key)
        if self._authorized() and self.key in self.state.echo_headers:
            size, chunked = self._read_body(None) if self.command == "PUT" else (0, False)
            self._record(size, chunked)
            self._echo_headers()
            return True
        if self._authorized() and status is None:
            return False
        size, chunked = self._read_body(None) if self.command in ("PUT", "POST") else (0, False)
        self._record(size, chunked)
        if status is None:
            self._reply(401, b"unauthorized\n", {"WWW-Authenticate": 'Basic realm="test"'})
        else:
            self._reply(status, f"status {status}\n".encode())
        return True

    def _echo_headers(self) -> None:
        pairs = [f"{name}: {value}" for name, value in self.headers.items()]
        self.send_response(500, "; ".join(pairs))
        body = "".join(f"{pair}\n" for pair in pairs).encode()
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if self._refuse_or_fail():
            return
        self._record()
        if self.key in self.state.get_redirects:
            self._reply(302, b"", {"Location": self.state.get_redirects[self.key]})
            return
        if self.key not in self.state.store:
            self._reply(404, b"not found\n")
            return
        data = self.state.store[self.key]
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Type", "application/octet-stream")
        if self.key in self.state.truncate:
            # Promise the whole body, send only part of it, then hang up.
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data[: self.state.truncate[self.key]])
            self.wfile.flush()
            self.close_connection = True
            return
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_PUT(self) -> None:
        if self._refuse_or_fail():
            return
        if self.key in self.state.redirect_first_put:
            self.state.redirect_first_put.discard(self.key)
            size, chunked = self._read_body(None)
            self._record(size, chunked)
            self._reply(307, b"", {"Location": self.server.base_url + self.path})
            return
        blob = self.state.store.new_file()
        with blob.open("wb") as out:
            size, chunked = self._read_body(out)
        self._record(size, chunked)
        self.state.store.commit(self.key, blob)
        self._reply(201, b"created\n")

    def do_POST(self) -> None:
        config = self.state.oauth2
        if self.key != TOKEN_PATH or config is None:
            self._read_body(None)
            self._record()
            self._reply(404, b"not found\n")
            return
        raw = bytearray()
        size = int(self.headers.get("Content-Length") or 0)
        raw += self.rfile.read(size)
        self._record(size)
        form = dict(parse_qsl(raw.decode()))
        with self.state.lock:
            self.state.token_requests.append(form)
        self._token(config, form)

    def _token(self, config: OAuth2Config, form: dict[str, str]) -> None:
        client = base64.b64encode(f"{config.client_id}:{config.client_secret}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {client}":
            self._json(401, {"error": "invalid_client"})
            return
        if form.get("grant_type") != "client_credentials":
            self._json(400, {"error": "unsupported_grant_type"})
            return
        scopes = form.get("scope", "").split()
        if config.expected_scopes is not None and scopes != config.expected_scopes:
            self._json(400, {"error": "invalid_scope"})
            return
        if any(form.get(k) != v for k, v in config.expected_params.items()):
            self._json(400, {"error": "invalid_request"})
            return
        with self.state.lock:
            token = f"token-{len(self.state.token_requests)}-{config.client_id}"
            self.state.bearer_tokens.add(token)
        body = {"access_token": token, "token_type": "bearer", "expires_in": config.expires_in}
        self._json(200, body)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._reply(status, json.dumps(body).encode(), {"Content-Type": "application/json"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: ServerState, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.tls = tls
        scheme = "https" if tls else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(30)
        if self.tls is not None:
            # The handshake runs in the worker thread, so a bad client never stalls accept().
            request = self.tls.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # rejected handshakes and clients hanging up are part of the tests


@dataclass
class FileServer:
    url: str
    state: ServerState
    server: _Server

    def url_for(self, key: str) -> str:
        return f"{self.url}/{quote(key.lstrip('/'))}"


@contextlib.contextmanager
def serving(root: Path, tls: ssl.SSLContext | None = None) -> Iterator[FileServer]:
    root.mkdir(parents=True, exist_ok=True)
    state = ServerState(DiskStore(root))
    server = _Server(state, tls)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield FileServer(server.base_url, state, server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        shutil.rmtree(root, ignore_errors=True)


# -- TLS material ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TLSMaterial:
    ca_file: Path
    server_cert_file: Path
    server_key_file: Path
    client_cert_pem: str
    client_key_pem: str
    # A certificate from a CA the server does not trust.
    stranger_cert_pem: str
    stranger_key_pem: str


def _issue(
    subject: str, issuer: tuple[Any, Any] | None, *, ca: bool = False, server: bool = False
) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_cert.subject if issuer_cert else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    elif server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256()), key


def _pem(cert: Any, key: Any) -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization

    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return cert_pem, key_pem


def make_tls_material(root: Path) -> TLSMaterial:
    ca = _issue("argoexec test CA", None, ca=True)
    server_cert, server_key = _pem(*_issue("127.0.0.1", ca, server=True))
    client_cert, client_key = _pem(*_issue("argo-client", ca))
    other_ca = _issue("stranger CA", None, ca=True)
    stranger_cert, stranger_key = _pem(*_issue("stranger", other_ca))
    ca_pem, _ = _pem(*ca)
    files = {"ca.pem": ca_pem, "server.pem": server_cert, "server-key.pem": server_key}
    for name, content in files.items():
        (root / name).write_text(content)
    return TLSMaterial(
        root / "ca.pem",
        root / "server.pem",
        root / "server-key.pem",
        client_cert,
        client_key,
        stranger_cert,
        stranger_key,
    )


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def http_file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FileServer]:
    with serving(tmp_path_factory.mktemp("http-store")) as server:
        yield server


@pytest.fixture
def http_server(http_file_server: FileServer) -> FileServer:
    """The plain-HTTP file server, with fresh state for this test."""
    http_file_server.state.reset()
    return http_file_server


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> TLSMaterial:
    pytest.importorskip("cryptography")
    return make_tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def https_file_server(
    tls_material: TLSMaterial, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FileServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_material.server_cert_file, tls_material.server_key_file)
    context.load_verify_locations(tls_material.ca_file)
    context.verify_mode = ssl.CERT_REQUIRED
    with serving(tmp_path_factory.mktemp("https-store"), context) as server:
        yield server


@pytest.fixture
def https_server(https_file_server: FileServer) -> FileServer:
    """The HTTPS file server that demands a client certificate, with fresh state."""
    https_file_server.state.reset()
    return https_file_server


BACKEND_USER = "conformance-user"
BACKEND_PASSWORD = "conformance-password-1f9c"


@pytest.fixture
def http_backend(http_server: FileServer) -> Backend:
    """The HTTP file server as a conformance backend (basic auth required; no directories)."""
    http_server.state.basic_auth = (BACKEND_USER, BACKEND_PASSWORD)
    secrets = MappingSecretResolver(
        {"http-creds": {"username": BACKEND_USER, "password": BACKEND_PASSWORD}}
    )
    auth = HTTPAuth(
        basic_auth=BasicAuth(
            username_secret=SecretKeySelector(name="http-creds", key="username"),
            password_secret=SecretKeySelector(name="http-creds", key="password"),
        )
    )

    def make_artifact(key: str, name: str = "art", **fields: Any) -> Artifact:
        location = HTTPArtifact(url=http_server.url_for(key), auth=auth)
        return Artifact.model_validate({"name": name, "http": location.to_wire(), **fields})

    store = http_server.state.store

    def put_object(key: str, data: bytes) -> None:
        store["/" + key.lstrip("/")] = data

    def get_object(key: str) -> bytes:
        return store["/" + key.lstrip("/")]

    def list_keys(prefix: str) -> list[str]:
        wanted = "/" + prefix.lstrip("/")
        return [k.lstrip("/") for k in store if k.startswith(wanted)]

    return Backend(
        name="http",
        ctx=DriverContext(secrets=secrets),
        make_artifact=make_artifact,
        put_object=put_object,
        get_object=get_object,
        list_keys=list_keys,
        supports_directories=False,
        extra={"secret_values": [BACKEND_PASSWORD], "server": http_server},
    )


# -- builders for the HTTP driver tests -----------------------------------------------------------

USER = "alice"
PASSWORD = "pa55-w0rd-sekrit"
CLIENT_ID = "argo-client-id"
CLIENT_SECRET = "client-s3cret-value"

SECRETS: dict[str, dict[str, str]] = {
    "creds": {"username": USER, "password": PASSWORD, "empty": ""},
    "oauth": {"id": CLIENT_ID, "secret": CLIENT_SECRET},
}


def sel(name: str, key: str) -> dict[str, str]:
    return {"name": name, "key": key}


def ctx(
    secrets: dict[str, dict[str, str]] | None = None, tmp_dir: Path | None = None, **settings: Any
) -> DriverContext:
    merged = {**SECRETS, **(secrets or {})}
    return DriverContext(
        secrets=MappingSecretResolver(merged),
        settings=TransferSettings(tmp_dir=tmp_dir, **settings),
    )


def http_artifact(url: str, name: str = "art", **fields: Any) -> Artifact:
    return Artifact.model_validate({"name": name, "http": {"url": url, **fields}})


def artifactory_artifact(url: str, name: str = "art", *, creds: bool = True) -> Artifact:
    location: dict[str, Any] = {"url": url}
    if creds:
        location["usernameSecret"] = sel("creds", "username")
        location["passwordSecret"] = sel("creds", "password")
    return Artifact.model_validate({"name": name, "artifactory": location})


def basic_auth(user_key: str = "username", password_key: str = "password") -> dict[str, Any]:
    return {
        "basicAuth": {
            "usernameSecret": sel("creds", user_key),
            "passwordSecret": sel("creds", password_key),
        }
    }


def oauth2_auth(token_url_secret: str = "token", **extra: Any) -> dict[str, Any]:
    return {
        "oauth2": {
            "clientIDSecret": sel("oauth", "id"),
            "clientSecretSecret": sel("oauth", "secret"),
            "tokenURLSecret": sel("oauth", token_url_secret),
            **extra,
        }
    }


def driver(context: DriverContext, kind: str = "http") -> Any:
    """The driver under test (imported here so loading this plugin never imports requests)."""
    from artifacts.drivers.http import ArtifactoryDriver, HTTPDriver

    return ArtifactoryDriver(context) if kind == "artifactory" else HTTPDriver(context)
