"""Git fixtures: bare repositories and three loopback servers that serve them.

* ``git_repos`` (session): bare repos under one root —
  ``argo-test.git`` (branches ``main`` and ``my-branch``, tag ``v0.0.0``, several commits, and a
  submodule ``test-repo`` with the *relative* URL ``../test-repo.git`` so every server serves it
  with the same auth), ``test-repo.git`` and ``empty.git`` (no commits).
* ``git_http_server``: smart HTTP (``git http-backend`` as CGI) behind HTTP basic auth;
  ``git_https_server`` is the same over TLS with an untrusted self-signed certificate. Below
  ``/echo-headers/`` an authenticated request is answered ``500`` with its own request headers
  as a ``text/plain`` body, as some servers and proxies do (git prints such a body).
* ``git_daemon``: anonymous ``git://``.
* ``git_sshd``: OpenSSH on 127.0.0.1 with a client key and a known_hosts file for its host key.

The repos are only read by the tests, so servers start once per session and need no reset.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import getpass
import ipaddress
import os
import secrets
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from tests.servers.procs import free_port, port_open, require, require_binary, running

MAIN_REPO = "argo-test.git"
ECHO_HEADERS = "echo-headers"
SUBMODULE_REPO = "test-repo.git"
EMPTY_REPO = "empty.git"


@dataclass
class GitRepos:
    root: Path
    # Named commits of argo-test.git: first, tagged (v0.0.0), submodule, branch (my-branch), head.
    commits: dict[str, str] = field(default_factory=dict)


def _git_env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Argo Test",
        "GIT_AUTHOR_EMAIL": "argo@example.invalid",
        "GIT_COMMITTER_NAME": "Argo Test",
        "GIT_COMMITTER_EMAIL": "argo@example.invalid",
        "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
        "LC_ALL": "C",
    }


class _Builder:
    def __init__(self, git: str, env: dict[str, str]) -> None:
        self.git = git
        self.env = env

    def __call__(self, cwd: Path, *args: str) -> str:
        done = subprocess.run(
            [self.git, *args], cwd=cwd, env=self.env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"git {' '.join(args)} failed: {done.stderr}"
        return done.stdout.strip()

    def commit(self, work: Path, message: str, files: dict[str, str]) -> str:
        for name, text in files.items():
            (work / name).write_text(text)
            self(work, "add", name)
        self(work, "commit", "-q", "-m", message)
        return self(work, "rev-parse", "HEAD")

    def bare(self, root: Path, name: str, work: Path | None, *refs: str) -> None:
        bare = root / name
        self(root, "init", "-q", "--bare", "-b", "main", str(bare))
        self(bare, "config", "uploadpack.allowReachableSHA1InWant", "true")
        if work is not None:
            self(work, "push", "-q", str(bare), *refs)


def _build_repos(root: Path, scratch: Path) -> GitRepos:
    run = _Builder(require_binary("git"), _git_env(scratch))
    repos = GitRepos(root)

    sub = scratch / "test-repo"
    sub.mkdir()
    run(sub, "init", "-q", "-b", "main")
    sub_commit = run.commit(sub, "test repo", {"README.md": "# test repo\n"})
    run.bare(root, SUBMODULE_REPO, sub, "main")

    work = scratch / "argo-test"
    work.mkdir()
    run(work, "init", "-q", "-b", "main")
    c = repos.commits
    c["first"] = run.commit(work, "first", {"README.md": "# argo test\n"})
    c["tagged"] = run.commit(work, "second", {"a.txt": "a\n"})
    run(work, "tag", "v0.0.0")
    (work / ".gitmodules").write_text(
        '[submodule "test-repo"]\n\tpath = test-repo\n\turl = ../test-repo.git\n'
    )
    run(work, "add", ".gitmodules")
    run(work, "update-index", "--add", "--cacheinfo", f"160000,{sub_commit},test-repo")
    c["submodule"] = run.commit(work, "add submodule", {})
    run(work, "checkout", "-q", "-b", "my-branch")
    c["branch"] = run.commit(work, "my branch", {"my-branch": "on my-branch\n"})
    run(work, "checkout", "-q", "main")
    c["head"] = run.commit(work, "update readme", {"README.md": "# argo test\n\nupdated\n"})
    run.bare(root, MAIN_REPO, work, "main", "my-branch", "v0.0.0")

    run.bare(root, EMPTY_REPO, None)
    return repos


@pytest.fixture(scope="session")
def git_repos(tmp_path_factory: pytest.TempPathFactory) -> GitRepos:
    root = tmp_path_factory.mktemp("git-root")
    return _build_repos(root, tmp_path_factory.mktemp("git-scratch"))


# -- smart HTTP with basic auth -----------------------------------------------------------


@dataclass
class GitHTTPServer:
    base_url: str  # http://127.0.0.1:P/
    username: str
    password: str

    def url(self, repo: str) -> str:
        return self.base_url + repo

    def echo_url(self, repo: str) -> str:
        """A URL whose authenticated requests fail with the request headers in the body."""
        return f"{self.base_url}{ECHO_HEADERS}/{repo}"


class _GitHTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: object) -> None:
        return

    def _authorized(self) -> str | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        ok = (user, password) == (self.server.username, self.server.password)
        return user if ok else None

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self) -> None:
        user = self._authorized()
        if user is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self._body()
        if self.path.startswith(f"/{ECHO_HEADERS}/"):
            self._echo_headers()
            return
        path, _, query = self.path.partition("?")
        env = {
            "PATH": self.server.path_env,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0],
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        done = subprocess.run(
            [self.server.git, "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        self._reply_cgi(done.stdout)

    def _echo_headers(self) -> None:
        echoed = "".join(f"{name}: {value}\n" for name, value in self.headers.items()).encode()
        self.send_response(500)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(echoed)))
        self.end_headers()
        self.wfile.write(echoed)

    def _reply_cgi(self, output: bytes) -> None:
        sep = b"\r\n\r\n" if b"\r\n\r\n" in output else b"\n\n"
        head, _, payload = output.partition(sep)
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    git: str
    path_env: str
    username: str
    password: str


@contextlib.contextmanager
def _serve_http(root: Path, tls: ssl.SSLContext | None = None) -> Iterator[GitHTTPServer]:
    server = _Server(("127.0.0.1", 0), _GitHTTPHandler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.root = root
    server.git = require_binary("git")
    server.path_env = os.environ["PATH"]
    server.username = "argo-user"
    server.password = "pw-" + secrets.token_urlsafe(12)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        scheme = "https" if tls else "http"
        port = server.server_address[1]
        yield GitHTTPServer(f"{scheme}://127.0.0.1:{port}/", server.username, server.password)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def _self_signed(d: Path) -> ssl.SSLContext:
    """A TLS context with a throwaway self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(
        d / "key.pem",
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(d / "cert.pem", d / "key.pem")
    return context


@pytest.fixture(scope="session")
def git_http_server(git_repos: GitRepos) -> Iterator[GitHTTPServer]:
    with _serve_http(git_repos.root) as server:
        yield server


@pytest.fixture(scope="session")
def git_https_server(
    git_repos: GitRepos, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GitHTTPServer]:
    """The same server over TLS with a self-signed certificate nobody trusts."""
    with _serve_http(git_repos.root, _self_signed(tmp_path_factory.mktemp("tls"))) as server:
        yield server


# -- git daemon ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def git_daemon(git_repos: GitRepos, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL ``git://127.0.0.1:P/`` of an anonymous git daemon over the repos."""
    git = require_binary("git")
    port = free_port()
    root = str(git_repos.root)
    argv = [git, "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}"]
    argv += [f"--base-path={root}", "--export-all", "--informative-errors", root]
    log = tmp_path_factory.mktemp("git-daemon") / "daemon.log"
    with running(argv, ready=lambda: port_open(port), what="git daemon", log=log):
        yield f"git://127.0.0.1:{port}/"


# -- sshd ---------------------------------------------------------------------------------


@dataclass
class GitSSHServer:
    base_url: str  # ssh://USER@127.0.0.1:P/<repo root>/
    port: int
    client_key: str  # OpenSSH private key text
    known_hosts: Path  # holds this server's host key
    host_public_key: str

    def url(self, repo: str) -> str:
        return self.base_url + repo


def _ed25519() -> tuple[bytes, str]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _sshd_config(d: Path, port: int) -> Path:
    config = d / "sshd_config"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {d / 'host_key'}\n"
        f"PidFile {d / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "AcceptEnv GIT_PROTOCOL\n"
    )
    return config


@pytest.fixture(scope="session")
def git_sshd(
    git_repos: GitRepos, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GitSSHServer]:
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"  # /usr/sbin is often not on PATH
    require(Path(sshd).exists(), "sshd is not installed (apt-get install openssh-server)")
    require_binary("ssh")
    try:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        require(False, f"cannot create /run/sshd for sshd: {exc}")
    d = tmp_path_factory.mktemp("sshd")
    host_private, host_public = _ed25519()
    client_private, client_public = _ed25519()
    _write_private(d / "host_key", host_private)
    (d / "authorized_keys").write_text(client_public + "\n")
    port = free_port()
    known_hosts = d / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_public}\n")
    argv = [sshd, "-D", "-e", "-f", str(_sshd_config(d, port))]
    with running(argv, ready=lambda: port_open(port), what="sshd", log=d / "sshd.log"):
        yield GitSSHServer(
            base_url=f"ssh://{getpass.getuser()}@127.0.0.1:{port}{git_repos.root}/",
            port=port,
            client_key=client_private.decode(),
            known_hosts=known_hosts,
            host_public_key=host_public,
        )
