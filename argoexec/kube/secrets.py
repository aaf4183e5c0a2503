"""Read Kubernetes secrets through the API with a kubeconfig (stdlib ``urllib`` + ``ssl``).

A deliberately small client: one request, ``GET /api/v1/namespaces/<ns>/secrets/<name>``, with
the kubeconfig's server, TLS settings (CA data/file, ``insecure-skip-tls-verify``, client
certificate/key data/file) and credentials (bearer token or token file, basic auth). Namespace:
``--namespace``, else the current context's, else ``default``. Exec plugins and auth providers
are not supported; environment proxies are ignored (only the API server is ever contacted).

Every credential read from the kubeconfig and every secret value is registered for redaction.
"""

from __future__ import annotations

import base64
import binascii
import json
import ssl
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from argoexec.models import SecretKeySelector
from artifacts.secrets import SecretNotFoundError, register_secret


class KubeConfigError(Exception):
    """The kubeconfig is missing, unreadable or does not name a usable cluster/user."""


class KubeAPIError(Exception):
    """The API server refused or failed a request; ``reason`` is the ``Status`` reason."""

    def __init__(self, message: str, *, code: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class KubeOverrides:
    """kubectl-style command-line overrides of the kubeconfig (``--context``, ``--server`` ...)."""

    context: str | None = None
    cluster: str | None = None
    user: str | None = None
    namespace: str | None = None
    server: str | None = None
    token: str | None = field(default=None, repr=False)
    insecure_skip_tls_verify: bool | None = None
    certificate_authority: str | None = None


@dataclass(frozen=True)
class KubeClientConfig:
    """What one API request needs. Secret-bearing fields are kept out of ``repr``."""

    server: str
    namespace: str = "default"
    ca_data: bytes | None = None
    insecure: bool = False
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0


def _named(doc: dict[str, Any], section: str, item: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") is not None:
            out.setdefault(str(entry["name"]), entry.get(item) or {})
    return out


def _merge(paths: Sequence[Path]) -> tuple[dict[str, Any], dict[str, Path]]:
    """Merge kubeconfig files like kubectl: the first file to define a name wins. Also returns
    each entry's directory, against which its relative file paths resolve."""
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": ""}
    base: dict[str, Path] = {}
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            continue
        except (OSError, yaml.YAMLError) as exc:
            raise KubeConfigError(f"cannot read kubeconfig {path}: {exc}") from exc
        if not isinstance(doc, dict):
            raise KubeConfigError(f"kubeconfig {path} is not a mapping")
        for section, item in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for name, value in _named(doc, section, item).items():
                if name not in merged[section]:
                    merged[section][name] = value
                    base[f"{section}/{name}"] = path.parent
        merged["current-context"] = merged["current-context"] or doc.get("current-context") or ""
    return merged, base


def _read_bytes(entry: dict[str, Any], data_key: str, file_key: str, root: Path) -> bytes | None:
    if entry.get(data_key):
        try:
            return base64.b64decode(entry[data_key], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KubeConfigError(f"kubeconfig field {data_key} is not valid base64") from exc
    if entry.get(file_key):
        try:
            return (root / str(entry[file_key])).read_bytes()
        except OSError as exc:
            raise KubeConfigError(f"cannot read {file_key} {entry[file_key]}: {exc}") from exc
    return None


def _token(user: dict[str, Any], root: Path) -> str | None:
    if user.get("token"):
        return str(user["token"])
    if user.get("tokenFile"):
        data = _read_bytes(user, "", "tokenFile", root)
        return data.decode().strip() if data is not None else None
    return None


def _select(merged: dict[str, Any], over: KubeOverrides) -> tuple[str, dict[str, Any], str, str]:
    """(context name, context, cluster name, user name) after overrides."""
    context_name = over.context or merged["current-context"]
    context = merged["contexts"].get(context_name, {}) if context_name else {}
    if over.context and not context:
        raise KubeConfigError(f"context {over.context!r} not found in kubeconfig")
    cluster_name = over.cluster or context.get("cluster") or ""
    user_name = over.user or context.get("user") or ""
    return context_name, context, cluster_name, user_name


def load_kubeconfig(
    paths: Sequence[Path], overrides: KubeOverrides | None = None
) -> KubeClientConfig:
    """The client configuration for the current (or overridden) context of merged ``paths``."""
    over = overrides or KubeOverrides()
    merged, base = _merge(paths)
    context_name, context, cluster_name, user_name = _select(merged, over)
    cluster = merged["clusters"].get(cluster_name, {})
    user = merged["users"].get(user_name, {})
    server = over.server or cluster.get("server")
    if not server:
        where = ", ".join(map(str, paths)) or "no kubeconfig"
        raise KubeConfigError(f"no API server configured (context {context_name!r}; {where})")
    croot = base.get(f"clusters/{cluster_name}", Path("."))
    uroot = base.get(f"users/{user_name}", Path("."))
    if over.certificate_authority is not None:
        ca_data = _read_bytes({"file": over.certificate_authority}, "", "file", Path("."))
    else:
        ca_data = _read_bytes(cluster, "certificate-authority-data", "certificate-authority", croot)
    insecure = over.insecure_skip_tls_verify
    config = KubeClientConfig(
        server=str(server).rstrip("/"),
        namespace=over.namespace or context.get("namespace") or "default",
        ca_data=ca_data,
        insecure=bool(cluster.get("insecure-skip-tls-verify")) if insecure is None else insecure,
        client_cert_data=_read_bytes(user, "client-certificate-data", "client-certificate", uroot),
        client_key_data=_read_bytes(user, "client-key-data", "client-key", uroot),
        token=over.token or _token(user, uroot),
        username=user.get("username"),
        password=user.get("password"),
    )
    for secret in (config.token, config.password):
        if secret:
            register_secret(secret)
    if config.client_key_data:
        register_secret(config.client_key_data.decode(errors="replace"))
    return config


def _ssl_context(config: KubeClientConfig) -> ssl.SSLContext:
    if config.insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif config.ca_data is not None:
        context = ssl.create_default_context(cadata=config.ca_data.decode())
    else:
        context = ssl.create_default_context()
    if config.client_cert_data and config.client_key_data:
        # ssl loads certificate chains only from files: stage them in a private temp dir.
        with tempfile.TemporaryDirectory(prefix="argoexec-kube-") as tmp:
            cert, key = Path(tmp, "client.crt"), Path(tmp, "client.key")
            cert.write_bytes(config.client_cert_data)
            key.touch(mode=0o600)
            key.write_bytes(config.client_key_data)
            context.load_cert_chain(cert, key)
    return context


def _status_message(body: bytes) -> tuple[str, str]:
    """(reason, message) of a Kubernetes ``Status`` body, or ("", raw text)."""
    try:
        status = json.loads(body)
    except ValueError:
        return "", body.decode(errors="replace").strip()[:300]
    if isinstance(status, dict):
        return str(status.get("reason") or ""), str(status.get("message") or "")
    return "", ""


class KubeClient:
    """GET JSON from the API server described by a :class:`KubeClientConfig`."""

    def __init__(self, config: KubeClientConfig) -> None:
        self.config = config
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
        if config.server.startswith("https://"):
            handlers.append(urllib.request.HTTPSHandler(context=_ssl_context(config)))
        self._opener = urllib.request.build_opener(*handlers)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "argoexec"}
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        elif self.config.username is not None and self.config.password is not None:
            pair = f"{self.config.username}:{self.config.password}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        return headers

    def get_json(self, path: str) -> dict[str, Any]:
        request = urllib.request.Request(self.config.server + path, headers=self._headers())
        try:
            with self._opener.open(request, timeout=self.config.timeout) as response:
                data = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            reason, message = _status_message(exc.read())
            raise KubeAPIError(
                message or f"HTTP {exc.code}", code=exc.code, reason=reason or str(exc.reason)
            ) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            where = self.config.server
            raise KubeAPIError(f"cannot reach the Kubernetes API at {where}: {exc}") from exc
        if not isinstance(data, dict):
            raise KubeAPIError(f"unexpected response from {path}")
        return data


class KubeSecretResolver:
    """A ``SecretResolver`` over the Kubernetes API.

    The client is built on first use, so a kubeconfig problem only matters when a secret is
    actually looked up here. Each secret is fetched once per resolver (one short-lived process).
    """

    def __init__(
        self,
        config: KubeClientConfig | Callable[[], KubeClientConfig],
        *,
        namespace: str | None = None,
    ) -> None:
        self._config = config
        self._namespace = namespace
        self._client: KubeClient | None = None
        self._cache: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> KubeClient:
        if self._client is None:
            config = self._config if isinstance(self._config, KubeClientConfig) else self._config()
            self._client = KubeClient(config)
        return self._client

    @property
    def namespace(self) -> str:
        return self._namespace or self.client.config.namespace

    def _fetch(self, name: str) -> dict[str, str] | None:
        path = f"/api/v1/namespaces/{quote(self.namespace, safe='')}/secrets/{quote(name, safe='')}"
        try:
            secret = self.client.get_json(path)
        except KubeAPIError as exc:
            if exc.code == 404:
                return None
            raise KubeAPIError(
                f"cannot read secret {name!r} in namespace {self.namespace!r}: "
                f"{exc.reason or 'error'}: {exc}",
                code=exc.code,
                reason=exc.reason,
            ) from exc
        return {k: str(v) for k, v in (secret.get("data") or {}).items()}

    def resolve(self, selector: SecretKeySelector) -> str:
        where = f"Kubernetes secret {self.namespace}/{selector.name}"
        if not selector.name or not selector.key:
            raise SecretNotFoundError(selector, where)
        with self._lock:
            if selector.name not in self._cache:
                data = self._fetch(selector.name)
                if data is None:
                    raise SecretNotFoundError(selector, f"namespace {self.namespace!r}")
                self._cache[selector.name] = data
            encoded = self._cache[selector.name].get(selector.key)
        if encoded is None:
            raise SecretNotFoundError(selector, where)
        try:
            value = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise KubeAPIError(f"{where} key {selector.key!r} is not valid base64 UTF-8") from exc
        register_secret(value)
        return value
