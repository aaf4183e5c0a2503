"""Read Kubernetes secrets through the API (``GET /api/v1/namespaces/<ns>/secrets/<name>``).

Used by the ``argoexec artifact`` debugging commands; in a pod, secrets come from
``/argo/secret`` instead. The connection settings (kubeconfig merging, TLS, credentials) are the
shared lean client's (:mod:`argoexec.kube.client`). Namespace: ``--namespace``, else the current
context's, else ``default``. Every credential and every secret value is registered for redaction.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable

from argoexec.kube.client import (
    KubeClient,
    KubeClientConfig,
    KubeOverrides,
    load_kubeconfig,
    resource_path,
)
from argoexec.kube.errors import KubeConfigError, KubeError, KubeNotFoundError
from argoexec.models import SecretKeySelector
from artifacts.secrets import SecretNotFoundError, register_secret

# The name the artifact commands know this error by.
KubeAPIError = KubeError

__all__ = [
    "KubeAPIError",
    "KubeClientConfig",
    "KubeConfigError",
    "KubeOverrides",
    "KubeSecretResolver",
    "load_kubeconfig",
]


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
        path = resource_path("", "v1", "secrets", namespace=self.namespace, name=name)
        try:
            secret = self.client.get(path)
        except KubeNotFoundError:
            return None
        except KubeError as exc:
            context = f"cannot read secret {name!r} in namespace {self.namespace!r}"
            raise exc.with_context(f"{context}: {exc.reason or 'error'}") from exc
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
            message = f"{where} key {selector.key!r} is not valid base64 UTF-8"
            raise KubeError(0, "", message) from exc
        register_secret(value)
        return value
