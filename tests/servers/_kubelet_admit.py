"""What a cluster gives a pod before its containers start, for the node agent (``kubelet.py``).

Admission (the ServiceAccount plugin) and the kubelet together hand every container:

* the pod's service account (``serviceAccountName``, ``default`` when unset) as a bearer token
  the API server accepts as ``system:serviceaccount:<namespace>:<account>``, with the API
  server's CA and the namespace, as files in ``/var/run/secrets/kubernetes.io/serviceaccount``
  (read-only) — unless ``automountServiceAccountToken`` is false on the pod (or, when the pod
  does not say, on the ServiceAccount object). The files reach the runtime as a ``secret``
  volume of the pod's own secrets directory, the shape Kubernetes used before projected
  tokens (the local runtime's sandbox hides host paths; a secret volume is bound read-only);
* the ``kubernetes`` service's variables (``KUBERNETES_SERVICE_HOST`` ... ``_PORT_<p>_TCP_ADDR``)
  before the container's own ``env``, which wins on a clash, as the kubelet orders them;
* the Secrets and ConfigMaps its volumes, ``env`` and ``envFrom`` name, read from the API
  server's store: Secrets as ``<secret>/<key>`` files (mode 0600), ConfigMaps as a mapping. A
  missing one is left out, and the runtime reports the kubelet's failure
  (``CreateContainerConfigError``, ``FailedMount``).

Unsandboxed (``sandboxed=False``) a container sees the host's file system, where the executor's
fixed in-cluster path does not exist: the volume then also holds a ``kubeconfig`` with the same
server, CA and token, named by ``KUBECONFIG`` (whose value the runtime maps to the host path).

The stored pod is not changed: the additions are in the copy the runtime runs.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import random
import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICE_HOST = "127.0.0.1"
_SUFFIX = string.ascii_lowercase + string.digits


@dataclass
class Admitted:
    """The pod as the runtime runs it, and what backs its references."""

    pod: dict[str, Any]
    secrets: Path
    config_maps: dict[str, dict[str, str]]
    token: str | None  # the service-account token issued for it (revoke it with the pod)


def service_account(pod: Mapping[str, Any]) -> str:
    spec = pod.get("spec") or {}
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


def service_account_user(namespace: str, account: str) -> str:
    return f"system:serviceaccount:{namespace}:{account}"


def admit(
    fake: Any,
    pod: Mapping[str, Any],
    work: Path,
    *,
    issue_token: Callable[[str], str],
    sandboxed: bool = True,
) -> Admitted:
    """``pod`` ready to run: its references copied out of ``fake`` into ``work`` (a fresh
    directory of this pod), its service account's token issued with ``issue_token(user)``."""
    admitted = copy.deepcopy(dict(pod))
    namespace = str(admitted["metadata"].get("namespace") or "default")
    secrets = work / "secrets"
    secrets.mkdir(parents=True, mode=0o700)
    secret_names, config_map_names = references(admitted)
    for name in sorted(secret_names):
        data = secret_data(fake, namespace, name)
        if data is not None:
            _write_secret(secrets / name, data)
    config_maps = {}
    for name in sorted(config_map_names):
        found = config_map_data(fake, namespace, name)
        if found is not None:
            config_maps[name] = found
    _add_service_env(admitted, _port(fake.url))
    token = None
    account = service_account(admitted)
    if _automount(fake, admitted, namespace, account):
        token = issue_token(service_account_user(namespace, account))
        files = {"token": token.encode(), "namespace": namespace.encode()}
        if fake.pki is not None:
            files["ca.crt"] = fake.pki.ca_pem
        if not sandboxed:
            files["kubeconfig"] = _kubeconfig(fake, namespace, token)
        volume = _unused_name(secret_names)
        _write_secret(secrets / volume, files)
        _mount_service_account(admitted, volume, kubeconfig=not sandboxed)
    return Admitted(admitted, secrets, config_maps, token)


# --- references ------------------------------------------------------------------------------


def _containers(pod: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    spec = pod.get("spec") or {}
    yield from spec.get("initContainers") or []
    yield from spec.get("containers") or []


def references(pod: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """The names of the Secrets and ConfigMaps the pod's volumes and environment read."""
    secrets: set[str] = set()
    config_maps: set[str] = set()
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if volume.get("secret"):
            secrets.add(str(volume["secret"].get("secretName") or ""))
        if volume.get("configMap"):
            config_maps.add(str(volume["configMap"].get("name") or ""))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if source.get("secret"):
                secrets.add(str(source["secret"].get("name") or ""))
            if source.get("configMap"):
                config_maps.add(str(source["configMap"].get("name") or ""))
    for container in _containers(pod):
        for entry in container.get("env") or []:
            value_from = entry.get("valueFrom") or {}
            if value_from.get("secretKeyRef"):
                secrets.add(str(value_from["secretKeyRef"].get("name") or ""))
            if value_from.get("configMapKeyRef"):
                config_maps.add(str(value_from["configMapKeyRef"].get("name") or ""))
        for source in container.get("envFrom") or []:
            if source.get("secretRef"):
                secrets.add(str(source["secretRef"].get("name") or ""))
            if source.get("configMapRef"):
                config_maps.add(str(source["configMapRef"].get("name") or ""))
    secrets.discard("")
    config_maps.discard("")
    return secrets, config_maps


def secret_data(fake: Any, namespace: str, name: str) -> dict[str, bytes] | None:
    """A Secret's values (``stringData`` over ``data``, as the API server merges them)."""
    obj = fake.get("secrets", name, namespace)
    if obj is None:
        return None
    values = {k: base64.b64decode(v or "") for k, v in (obj.get("data") or {}).items()}
    values.update({k: str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    return values


def config_map_data(fake: Any, namespace: str, name: str) -> dict[str, str] | None:
    obj = fake.get("configmaps", name, namespace)
    if obj is None:
        return None
    return {k: str(v) for k, v in (obj.get("data") or {}).items()}


def _write_secret(folder: Path, data: Mapping[str, bytes]) -> None:
    folder.mkdir(mode=0o700)
    for key, value in data.items():
        path = folder / key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(value)


# --- the service account -----------------------------------------------------------------------


def _automount(fake: Any, pod: Mapping[str, Any], namespace: str, account: str) -> bool:
    """The pod's ``automountServiceAccountToken``, else its ServiceAccount's, else true."""
    chosen = (pod.get("spec") or {}).get("automountServiceAccountToken")
    if chosen is None:
        found = fake.get("serviceaccounts", account, namespace) or {}
        chosen = found.get("automountServiceAccountToken")
    return chosen is not False


def _unused_name(taken: set[str]) -> str:
    """``kube-api-access-xxxxx``, the name admission gives the volume, free in this pod."""
    while True:
        name = "kube-api-access-" + "".join(random.choice(_SUFFIX) for _ in range(5))
        if name not in taken:
            return name


def _kubeconfig(fake: Any, namespace: str, token: str) -> bytes:
    cluster: dict[str, Any] = {"server": f"https://{SERVICE_HOST}:{_port(fake.url)}"}
    if fake.pki is not None:
        cluster["certificate-authority-data"] = base64.b64encode(fake.pki.ca_pem).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "in-cluster", "cluster": cluster}],
        "users": [{"name": "service-account", "user": {"token": token}}],
        "contexts": [
            {
                "name": "in-cluster",
                "context": {
                    "cluster": "in-cluster",
                    "user": "service-account",
                    "namespace": namespace,
                },
            }
        ],
        "current-context": "in-cluster",
    }
    return json.dumps(doc).encode()


def _mount_service_account(pod: dict[str, Any], volume: str, *, kubeconfig: bool) -> None:
    spec = pod["spec"]
    spec.setdefault("volumes", []).append(
        {"name": volume, "secret": {"secretName": volume, "defaultMode": 0o644}}
    )
    for container in _containers(pod):
        mounts = container.setdefault("volumeMounts", [])
        # Admission leaves a container alone that mounts something there already.
        if any(m.get("mountPath") == SERVICE_ACCOUNT_MOUNT for m in mounts):
            continue
        mounts.append({"name": volume, "mountPath": SERVICE_ACCOUNT_MOUNT, "readOnly": True})
        if kubeconfig:
            path = f"{SERVICE_ACCOUNT_MOUNT}/kubeconfig"
            container["env"] = [{"name": "KUBECONFIG", "value": path}, *container["env"]]


def _port(url: str) -> int:
    split = urlsplit(url)
    if split.port is None:
        raise ValueError(f"the fake API server has no port in its URL {url!r}")
    return split.port


def service_env(port: int) -> list[dict[str, str]]:
    """The ``kubernetes`` service's variables (its port named ``https``), as the kubelet sets."""
    address = f"tcp://{SERVICE_HOST}:{port}"
    prefix = f"KUBERNETES_PORT_{port}_TCP"
    values = {
        "KUBERNETES_SERVICE_HOST": SERVICE_HOST,
        "KUBERNETES_SERVICE_PORT": str(port),
        "KUBERNETES_SERVICE_PORT_HTTPS": str(port),
        "KUBERNETES_PORT": address,
        prefix: address,
        f"{prefix}_PROTO": "tcp",
        f"{prefix}_PORT": str(port),
        f"{prefix}_ADDR": SERVICE_HOST,
    }
    return [{"name": k, "value": v} for k, v in values.items()]


def _add_service_env(pod: dict[str, Any], port: int) -> None:
    for container in _containers(pod):
        container["env"] = [*service_env(port), *(container.get("env") or [])]
