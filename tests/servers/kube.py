"""A minimal fake Kubernetes API server on 127.0.0.1: just enough for the secret reader.

Supported subset (to be grown into the full faithful fake described in test-infra.md):

* ``GET /api/v1/namespaces/<ns>/secrets/<name>`` → the ``Secret`` (values base64 in ``data``).
* Authentication: ``Authorization: Bearer <token>``, or (TLS variant) a client certificate
  signed by the test CA. Anything else → 401 ``Unauthorized``.
* Authorization: secrets marked forbidden → 403 ``Forbidden`` with the API server's wording.
* Missing secret → 404 ``NotFound``; unknown path → 404; other methods → 405.
* Every error is a real ``Status`` body (``kind: Status``, ``reason``, ``message``, ``code``).
* A request journal (method, path, authenticated user) for assertions.

Fixtures: ``kube_api`` (plain HTTP) and ``kube_api_tls`` (HTTPS with a throwaway CA, optional
client certificates); both reset their state for every test and start their server once.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import re
import ssl
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

SECRET_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets/([^/?]+)$")
DEFAULT_TOKEN = "fake-kube-token-0123456789"
CLIENT_CERT_USER = "argoexec-client"


def status(code: int, reason: str, message: str, **details: str) -> dict[str, Any]:
    """A ``metav1.Status`` failure body as the API server sends it."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


@dataclass
class Pki:
    """A throwaway CA with a server certificate for 127.0.0.1 and a client certificate."""

    dir: Path
    ca_pem: bytes
    client_cert_pem: bytes
    client_key_pem: bytes
    server_cert: Path
    server_key: Path

    @classmethod
    def create(cls, directory: Path) -> Pki:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.UTC)

        def cert(cn: str, key: Any, issuer: Any, signer: Any, *, ca: bool = False, san: Any = None):
            builder = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                .issuer_name(issuer)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            )
            if san is not None:
                builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
            return builder.sign(signer, hashes.SHA256())

        def pem_key(key: Any) -> bytes:
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-kube-ca")])
        ca_cert = cert("fake-kube-ca", ca_key, ca_name, ca_key, ca=True)
        server_key = ec.generate_private_key(ec.SECP256R1())
        ip = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        server_cert = cert("127.0.0.1", server_key, ca_name, ca_key, san=ip)
        client_key = ec.generate_private_key(ec.SECP256R1())
        client_cert = cert(CLIENT_CERT_USER, client_key, ca_name, ca_key)
        pem = serialization.Encoding.PEM
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "server.crt").write_bytes(server_cert.public_bytes(pem))
        (directory / "server.key").write_bytes(pem_key(server_key))
        return cls(
            dir=directory,
            ca_pem=ca_cert.public_bytes(pem),
            client_cert_pem=client_cert.public_bytes(pem),
            client_key_pem=pem_key(client_key),
            server_cert=directory / "server.crt",
            server_key=directory / "server.key",
        )


@dataclass
class FakeKube:
    """State and control of one fake API server."""

    token: str = DEFAULT_TOKEN
    pki: Pki | None = None
    secrets: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    forbidden: set[tuple[str, str]] = field(default_factory=set)
    journal: list[tuple[str, str, str]] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def add_secret(self, namespace: str, name: str, data: Mapping[str, str | bytes]) -> None:
        values = {k: v.encode() if isinstance(v, str) else v for k, v in data.items()}
        self.secrets[(namespace, name)] = values

    def forbid(self, namespace: str, name: str) -> None:
        self.forbidden.add((namespace, name))

    def reset(self) -> None:
        self.secrets.clear()
        self.forbidden.clear()
        self.journal.clear()

    def kubeconfig(
        self,
        path: Path,
        *,
        token: str | None = None,
        namespace: str | None = "default",
        ca: bool = True,
        insecure: bool = False,
        client_cert: bool = False,
        user: dict[str, Any] | None = None,
    ) -> Path:
        """Write a kubeconfig for this server (one cluster, user and current context)."""
        cluster: dict[str, Any] = {"server": self.url}
        if self.pki is not None and ca and not insecure:
            cluster["certificate-authority-data"] = base64.b64encode(self.pki.ca_pem).decode()
        if insecure:
            cluster["insecure-skip-tls-verify"] = True
        creds: dict[str, Any] = dict(user or {})
        if token is not None:
            creds["token"] = token
        if client_cert and self.pki is not None:
            creds["client-certificate-data"] = base64.b64encode(self.pki.client_cert_pem).decode()
            creds["client-key-data"] = base64.b64encode(self.pki.client_key_pem).decode()
        context: dict[str, Any] = {"cluster": "fake", "user": "tester"}
        if namespace:
            context["namespace"] = namespace
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": cluster}],
            "users": [{"name": "tester", "user": creds}],
            "contexts": [{"name": "fake", "context": context}],
            "current-context": "fake",
        }
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        return path

    # --- serving -----------------------------------------------------------------------------

    def _user(self, handler: BaseHTTPRequestHandler) -> str | None:
        auth = handler.headers.get("Authorization", "")
        if auth == f"Bearer {self.token}":
            return "system:serviceaccount:default:tester"
        peer = getattr(handler.connection, "getpeercert", None)
        if peer is not None and peer():
            return CLIENT_CERT_USER
        return None

    def _secret_response(self, namespace: str, name: str, user: str) -> tuple[int, dict[str, Any]]:
        if (namespace, name) in self.forbidden:
            message = (
                f'secrets "{name}" is forbidden: User "{user}" cannot get resource "secrets" '
                f'in API group "" in the namespace "{namespace}"'
            )
            return 403, status(403, "Forbidden", message, name=name, kind="secrets")
        data = self.secrets.get((namespace, name))
        if data is None:
            message = f'secrets "{name}" not found'
            return 404, status(404, "NotFound", message, name=name, kind="secrets")
        return 200, {
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{name}")),
                "resourceVersion": "1",
                "creationTimestamp": "2024-01-01T00:00:00Z",
            },
            "type": "Opaque",
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
        }

    def handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        user = self._user(handler)
        self.journal.append((handler.command, handler.path, user or ""))
        if user is None:
            return 401, status(401, "Unauthorized", "Unauthorized")
        if handler.command != "GET":
            return 405, status(405, "MethodNotAllowed", "the server does not allow this method")
        match = SECRET_PATH.match(handler.path)
        if match is None:
            return 404, status(404, "NotFound", "the server could not find the requested resource")
        return self._secret_response(match.group(1), match.group(2), user)

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _respond(self) -> None:
                code, body = fake.handle(self)
                payload = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _respond  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        scheme = "http"
        if self.pki is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.pki.server_cert, self.pki.server_key)
            context.load_verify_locations(cadata=self.pki.ca_pem.decode())
            context.verify_mode = ssl.CERT_OPTIONAL
            server.socket = context.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        self._server = server
        self.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, name="fake-kube", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture(scope="session")
def _kube_server() -> Iterator[FakeKube]:
    fake = FakeKube()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def _kube_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeKube]:
    fake = FakeKube(pki=Pki.create(tmp_path_factory.mktemp("kube-pki")))
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def kube_api(_kube_server: FakeKube) -> FakeKube:
    """The plain-HTTP fake API server, emptied for this test."""
    _kube_server.reset()
    return _kube_server


@pytest.fixture
def kube_api_tls(_kube_tls_server: FakeKube) -> FakeKube:
    """The HTTPS fake API server (test CA; client certificates accepted), emptied for this test."""
    _kube_tls_server.reset()
    return _kube_tls_server
