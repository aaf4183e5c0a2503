"""A lean Kubernetes REST client on the standard library (``http.client`` + ``ssl``).

The ``wait`` container must stay small (≤ 64 MiB RSS), so this is not the ``kubernetes``
package: it speaks JSON to the API server with one connection per request and maps failures to
:mod:`argoexec.kube.errors`. Configuration comes from kubeconfig files (merged like kubectl: the
first file to define a name wins; server, CA data/file, ``insecure-skip-tls-verify``, bearer
token or token file, basic auth, client certificate/key data/file, namespace) or from the pod's
service account (``in_cluster``). Exec plugins and auth providers are not supported;
environment proxies are ignored (only the API server is ever contacted).

Token files (kubeconfig ``tokenFile`` and the projected service-account token) are re-read on
every request, so a rotated token is picked up without restarting. Every credential is
registered for redaction.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from argoexec import __version__
from argoexec.kube.errors import (
    KubeConfigError,
    KubeConnectionError,
    KubeError,
    error_from_response,
)
from artifacts.secrets import register_basic_auth, register_secret

if TYPE_CHECKING:
    from argoexec.config import ExecutorConfig

USER_AGENT = f"argo-workflows/{__version__} argo-executor"
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_TIMEOUT = 30.0  # seconds per request (connect + read)

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = {
    "merge": MERGE_PATCH,
    "json": JSON_PATCH,
    "strategic": STRATEGIC_MERGE_PATCH,
    "apply": APPLY_PATCH,
}


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
    """What a request needs. Secret-bearing fields are kept out of ``repr``."""

    server: str
    namespace: str = "default"
    ca_data: bytes | None = None
    insecure: bool = False
    client_cert_data: bytes | None = None
    client_key_data: bytes | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None  # re-read on every request (rotation)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT


# --- kubeconfig ------------------------------------------------------------------------------


def _named(doc: dict[str, Any], section: str, item: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") is not None:
            out.setdefault(str(entry["name"]), entry.get(item) or {})
    return out


def _merge(paths: Sequence[Path]) -> tuple[dict[str, Any], dict[str, Path]]:
    """Merge kubeconfig files like kubectl: the first file to define a name wins. Also returns
    each entry's directory, against which its relative file paths resolve."""
    import yaml  # only kubeconfig users pay for it; in-cluster pods never parse YAML

    from argoexec import safeyaml

    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": ""}
    base: dict[str, Path] = {}
    for path in paths:
        try:
            doc = safeyaml.load(path.read_text(encoding="utf-8")) or {}
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


def _read_bytes(entry: Mapping[str, Any], data_key: str, file_key: str, root: Path) -> bytes | None:
    if data_key and entry.get(data_key):
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


def _select(merged: dict[str, Any], over: KubeOverrides) -> tuple[str, dict[str, Any], str, str]:
    """(context name, context, cluster name, user name) after overrides."""
    context_name = over.context or merged["current-context"]
    context = merged["contexts"].get(context_name, {}) if context_name else {}
    if over.context and not context:
        raise KubeConfigError(f"context {over.context!r} not found in kubeconfig")
    cluster_name = over.cluster or context.get("cluster") or ""
    user_name = over.user or context.get("user") or ""
    return context_name, context, cluster_name, user_name


def _ca(cluster: dict[str, Any], over: KubeOverrides, root: Path) -> bytes | None:
    if over.certificate_authority is not None:
        return _read_bytes({"file": over.certificate_authority}, "", "file", Path("."))
    return _read_bytes(cluster, "certificate-authority-data", "certificate-authority", root)


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
    uroot = base.get(f"users/{user_name}", Path("."))
    insecure = over.insecure_skip_tls_verify
    token_file = user.get("tokenFile")
    config = KubeClientConfig(
        server=str(server).rstrip("/"),
        namespace=over.namespace or context.get("namespace") or "default",
        ca_data=_ca(cluster, over, base.get(f"clusters/{cluster_name}", Path("."))),
        insecure=bool(cluster.get("insecure-skip-tls-verify")) if insecure is None else insecure,
        client_cert_data=_read_bytes(user, "client-certificate-data", "client-certificate", uroot),
        client_key_data=_read_bytes(user, "client-key-data", "client-key", uroot),
        token=over.token or (str(user["token"]) if user.get("token") else None),
        token_file=uroot / str(token_file) if token_file and not over.token else None,
        username=user.get("username"),
        password=user.get("password"),
    )
    if config.token:
        register_secret(config.token)
    if config.password:  # basic auth: the pair and its base64 may be echoed back too
        register_basic_auth(config.username or "", config.password)
    if config.client_key_data:
        register_secret(config.client_key_data.decode(errors="replace"))
    if config.token_file is not None:
        _read_token(config.token_file)  # fail early on an unreadable file, as kubectl does
    return config


def in_cluster_config(
    host: str,
    port: str,
    *,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
    namespace: str | None = None,
) -> KubeClientConfig:
    """client-go's ``InClusterConfig``: ``KUBERNETES_SERVICE_HOST``/``_PORT``, the projected
    service-account token (re-read per request), its CA and namespace files."""
    if not host or not port:
        raise KubeConfigError(
            "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
            "KUBERNETES_SERVICE_PORT must be defined (or set KUBECONFIG / --kubeconfig)"
        )
    token_file = service_account_dir / "token"
    _read_token(token_file)
    try:
        ca: bytes | None = (service_account_dir / "ca.crt").read_bytes()
    except OSError:
        ca = None  # client-go logs this and falls back to the system roots
    if namespace is None:
        try:
            namespace = (service_account_dir / "namespace").read_text(encoding="utf-8").strip()
        except OSError:
            namespace = ""
    netloc = f"[{host}]" if ":" in host else host  # net.JoinHostPort brackets IPv6
    return KubeClientConfig(
        server=f"https://{netloc}:{port}",
        namespace=namespace or "default",
        ca_data=ca,
        token_file=token_file,
    )


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise KubeConfigError(f"cannot read token file {path}: {exc}") from exc
    register_secret(token)
    return token


# --- requests --------------------------------------------------------------------------------


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
        import tempfile  # on use: tokens (a pod's service account) need no files

        with tempfile.TemporaryDirectory(prefix="argoexec-kube-") as tmp:
            cert, key = Path(tmp, "client.crt"), Path(tmp, "client.key")
            cert.write_bytes(config.client_cert_data)
            key.touch(mode=0o600)
            key.write_bytes(config.client_key_data)
            context.load_cert_chain(cert, key)
    return context


def resource_path(
    group: str,
    version: str,
    plural: str,
    *,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """``/api/v1/...`` for the core group, ``/apis/<group>/<version>/...`` otherwise."""
    parts = ["/api", version] if not group else ["/apis", group, version]
    if namespace:
        parts += ["namespaces", quote(namespace, safe="")]
    parts.append(plural)
    if name:
        parts.append(quote(name, safe=""))
    if subresource:
        parts.append(subresource)
    return "/".join(parts)


class KubeClient:
    """JSON requests to one API server. Thread-safe: each request opens its own connection."""

    def __init__(self, config: KubeClientConfig) -> None:
        self.config = config
        split = urlsplit(config.server)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise KubeConfigError(f"API server URL {config.server!r} is not http(s)://host[:port]")
        self._https = split.scheme == "https"
        self._host = split.hostname
        self._port = split.port
        self._prefix = split.path.rstrip("/")
        self._ssl = _ssl_context(config) if self._https else None

    @classmethod
    def from_kubeconfig(
        cls,
        paths: Sequence[Path],
        context: str | None = None,
        namespace: str | None = None,
        *,
        overrides: KubeOverrides | None = None,
    ) -> KubeClient:
        over = overrides or KubeOverrides()
        over = replace(over, context=context or over.context, namespace=namespace or over.namespace)
        return cls(load_kubeconfig(paths, over))

    @classmethod
    def in_cluster(
        cls,
        host: str,
        port: str,
        *,
        service_account_dir: Path = SERVICE_ACCOUNT_DIR,
        namespace: str | None = None,
    ) -> KubeClient:
        return cls(
            in_cluster_config(
                host, port, service_account_dir=service_account_dir, namespace=namespace
            )
        )

    @classmethod
    def from_config(
        cls,
        config: ExecutorConfig,
        *,
        kubeconfig: Path | None = None,
        overrides: KubeOverrides | None = None,
        service_account_dir: Path = SERVICE_ACCOUNT_DIR,
    ) -> KubeClient:
        """``--kubeconfig``, else ``KUBECONFIG``, else the pod's service account (in-cluster)."""
        paths = [kubeconfig] if kubeconfig is not None else list(config.kubeconfig)
        if paths:
            return cls(load_kubeconfig(paths, overrides))
        namespace = overrides.namespace if overrides is not None else None
        return cls.in_cluster(
            config.kubernetes_service_host,
            config.kubernetes_service_port,
            service_account_dir=service_account_dir,
            namespace=namespace,
        )

    @property
    def namespace(self) -> str:
        return self.config.namespace

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": JSON, "User-Agent": USER_AGENT}
        if content_type is not None:
            headers["Content-Type"] = content_type
        token = self.config.token
        if token is None and self.config.token_file is not None:
            token = _read_token(self.config.token_file)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif self.config.username is not None and self.config.password is not None:
            pair = f"{self.config.username}:{self.config.password}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        return headers

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._ssl
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = JSON,
        query: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Send one request; 2xx → (status, JSON object), otherwise a ``KubeError`` subclass."""
        target = self._prefix + path + (f"?{urlencode(query)}" if query else "")
        payload = None if body is None else json.dumps(body).encode()
        headers = self._headers(content_type if payload is not None else None)
        conn = self._connection(self.config.timeout if timeout is None else timeout)
        try:
            conn.request(method, target, body=payload, headers=headers)
            response = conn.getresponse()
            status, data = response.status, response.read()
        except (OSError, http.client.HTTPException) as exc:
            message = f"{method} {self.config.server}{path}: {type(exc).__name__}: {exc}"
            raise KubeConnectionError(message) from exc
        finally:
            conn.close()
        if status >= 400:
            raise error_from_response(status, data)
        try:
            doc = json.loads(data) if data else {}
        except ValueError as exc:
            raise KubeError(status, "", f"{method} {path}: response is not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise KubeError(status, "", f"{method} {path}: response is not a JSON object")
        return status, doc

    def get(self, path: str, *, query: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self.request("GET", path, query=query)[1]

    def create(self, path: str, body: Mapping[str, Any], **query: str) -> dict[str, Any]:
        return self.request("POST", path, body=body, query=query or None)[1]

    def put(self, path: str, body: Mapping[str, Any], **query: str) -> dict[str, Any]:
        return self.request("PUT", path, body=body, query=query or None)[1]

    def patch(
        self, path: str, body: Any, *, patch_type: str = "merge", **query: str
    ) -> dict[str, Any]:
        """``patch_type``: ``merge``, ``json``, ``strategic`` or ``apply`` (server-side apply;
        pass ``fieldManager=...``)."""
        content_type = PATCH_TYPES[patch_type]
        return self.request("PATCH", path, body=body, content_type=content_type, query=query)[1]

    def delete(self, path: str, **query: str) -> dict[str, Any]:
        return self.request("DELETE", path, query=query or None)[1]
