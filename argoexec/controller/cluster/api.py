"""The controller's and the CLI's access to a Kubernetes API server.

Authentication is the `kubernetes` package's, as kubectl does it: kubeconfig files (merged from
`$KUBECONFIG`), contexts, client certificates, bearer tokens and token files, exec credential
plugins (EKS, GKE, AKS) and OIDC, each refreshed when it expires; or the pod's service account.
Requests go through its `ApiClient` (urllib3: pooled keep-alive connections, which a controller
making thousands of calls needs and the executor's one-request lean client does not) on raw
paths, with our own JSON handling: the package's typed models are never built (a pod as a model
costs ~20x its JSON decoding, and loses fields it does not know).

This module and `cluster.podexec` are the only ones importing `kubernetes` (an import-linter
contract): it costs ~0.4 s and ~50 MiB, which an executor's start-up never pays.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes.client
import kubernetes.config
import urllib3
from kubernetes.client.exceptions import ApiException

from argoexec.kube.errors import (
    KubeConfigError,
    KubeConnectionError,
    KubeError,
    error_from_response,
)

log = logging.getLogger("argoexec.controller")

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
DEFAULT_TIMEOUT = 30.0  # seconds per request
CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Connection:
    """How to reach the cluster, as kubectl's flags say it (`None`: from the kubeconfig)."""

    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False
    namespace: str | None = None  # -n; else the context's (or the service account's)
    server: str | None = None
    token: str | None = None
    certificate_authority: str | None = None
    insecure_skip_tls_verify: bool = False
    user_agent: str = "argoexec"


def _in_cluster_namespace() -> str:
    from argoexec.kube.client import SERVICE_ACCOUNT_DIR

    try:
        return (SERVICE_ACCOUNT_DIR / "namespace").read_text(encoding="utf-8").strip() or "default"
    except OSError:
        return "default"


def _server_only(conn: Connection) -> bool:
    """`-s URL` with no kubeconfig anywhere: kubectl then talks to URL with the credentials of
    the other flags (`--token`, `--certificate-authority`) alone."""
    if not conn.server or conn.in_cluster or conn.kubeconfig or conn.context:
        return False
    default = kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    return not any(Path(p).expanduser().exists() for p in default.split(os.pathsep) if p)


def _configuration(conn: Connection) -> tuple[kubernetes.client.Configuration, str]:
    config = kubernetes.client.Configuration()
    try:
        if _server_only(conn):
            namespace = "default"
        elif conn.in_cluster:
            kubernetes.config.load_incluster_config(client_configuration=config)
            namespace = _in_cluster_namespace()
        else:
            kubernetes.config.load_kube_config(
                config_file=conn.kubeconfig,
                context=conn.context,
                client_configuration=config,
                persist_config=False,
            )
            _, active = kubernetes.config.list_kube_config_contexts(config_file=conn.kubeconfig)
            if conn.context:
                contexts, _ = kubernetes.config.list_kube_config_contexts(conn.kubeconfig)
                active = next((c for c in contexts if c.get("name") == conn.context), active)
            namespace = str(((active or {}).get("context") or {}).get("namespace") or "default")
    except kubernetes.config.ConfigException as exc:
        where = "the pod's service account" if conn.in_cluster else "the kubeconfig"
        raise KubeConfigError(f"cannot use {where}: {exc}") from None
    except (OSError, ValueError) as exc:
        raise KubeConfigError(f"cannot read the kubeconfig: {exc}") from None
    if conn.server:
        config.host = conn.server
    if conn.token:
        config.api_key = {"authorization": f"Bearer {conn.token}"}
        config.refresh_api_key_hook = None
    if conn.certificate_authority:
        config.ssl_ca_cert = conn.certificate_authority
    if conn.insecure_skip_tls_verify:
        config.verify_ssl = False
    return config, conn.namespace or namespace


class ClusterApi:
    """JSON over the API server's REST paths; failures are `argoexec.kube.errors.KubeError`s."""

    def __init__(self, client: kubernetes.client.ApiClient, namespace: str) -> None:
        self.client = client
        self.namespace = namespace  # the default one (-n, the context's, the pod's)

    @classmethod
    def connect(cls, conn: Connection) -> ClusterApi:
        config, namespace = _configuration(conn)
        # One pooled connection per concurrent caller (informers, the loop, exec, leases).
        config.connection_pool_maxsize = 16
        client = kubernetes.client.ApiClient(configuration=config)
        client.user_agent = conn.user_agent
        return cls(client, namespace)

    @property
    def host(self) -> str:
        return str(self.client.configuration.host)

    def close(self) -> None:
        self.client.close()

    # --- requests -------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> urllib3.HTTPResponse:
        params = list(query.items()) if isinstance(query, Mapping) else list(query or [])
        headers = {"Accept": JSON, "Content-Type": content_type}
        try:
            # The package's own request path: the auth header (refreshed when an exec plugin's
            # or OIDC token expires), TLS, the pooled connection; our JSON, not its models.
            _, url, headers, payload, _ = self.client.param_serialize(
                method,
                path,
                query_params=params,
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            answer = self.client.call_api(
                method, url, header_params=headers, body=payload, _request_timeout=timeout
            )
        except ApiException as exc:
            raise _api_error(exc) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeConnectionError(f"{method} {self.host}{path}: {network_cause(exc)}") from exc
        response: urllib3.HTTPResponse = answer.response
        if not 200 <= response.status < 300:
            try:
                data = response.data
            except (urllib3.exceptions.HTTPError, OSError):
                data = b""
            finally:
                response.release_conn()
            raise error_from_response(response.status, data)
        return response

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> dict[str, Any]:
        response = self._call(
            method, path, query=query, body=body, content_type=content_type, timeout=timeout
        )
        try:
            data = response.data
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeConnectionError(f"{method} {path}: {network_cause(exc)}") from exc
        finally:
            response.release_conn()
        try:
            doc = json.loads(data) if data else {}
        except ValueError:
            raise KubeError(0, "", f"{method} {path}: the answer is not JSON") from None
        return doc if isinstance(doc, dict) else {}

    def get(self, path: str, **query: str) -> dict[str, Any]:
        return self.request("GET", path, query=query)

    def create(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, body=dict(body))

    def replace(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("PUT", path, body=dict(body))

    def merge_patch(self, path: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", path, body=dict(patch), content_type=MERGE_PATCH)

    def delete(self, path: str, **query: str) -> dict[str, Any]:
        return self.request("DELETE", path, query=query)

    def text(
        self,
        path: str,
        query: Mapping[str, str] | list[tuple[str, str]],
        *,
        read_timeout: float = 3600.0,
        what: str = "GET",
    ) -> Iterator[bytes]:
        """A streamed answer (`pods/log`, a watch), chunk by chunk."""
        response = self._call("GET", path, query=query, timeout=(CONNECT_TIMEOUT, read_timeout))
        try:
            yield from response.stream(64 * 1024, decode_content=True)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeConnectionError(f"{what} {path}: {network_cause(exc)}") from exc
        finally:
            response.release_conn()

    def watch(
        self, path: str, query: Mapping[str, str], *, timeout: float
    ) -> Iterator[dict[str, Any]]:
        """The events of one watch request (`{type, object}`), until the server ends it."""
        params = {**query, "watch": "true", "timeoutSeconds": str(int(timeout))}
        pending = b""
        try:
            for chunk in self.text(path, params, read_timeout=timeout + 15.0, what="watch"):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
        except ValueError:
            raise KubeError(0, "", f"watch {path}: an event is not JSON") from None


def _api_error(exc: ApiException) -> KubeError:
    body = exc.body if isinstance(exc.body, bytes) else str(exc.body or "").encode()
    return error_from_response(int(exc.status or 0), body)


def network_cause(exc: BaseException) -> str:
    """A network failure in words, without urllib3's object dumps."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, BaseException):
        exc = reason
    # urllib3 2 makes a refused connection (NewConnectionError) a ConnectTimeoutError too.
    timeout = socket.timeout | TimeoutError | urllib3.exceptions.TimeoutError
    if isinstance(exc, timeout) and not isinstance(exc, urllib3.exceptions.NewConnectionError):
        return "timed out"
    text = str(exc)
    marker = "Failed to establish a new connection: "
    if marker in text:
        text = text.split(marker, 1)[1]
    return text.strip(" '\"()") or type(exc).__name__
