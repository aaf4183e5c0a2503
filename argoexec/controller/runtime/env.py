"""A container's environment and command line, resolved the way the kubelet does.

``envFrom`` sources come first, in order (a later source wins on a duplicate key), each key with
the source's ``prefix``; keys that cannot be variable names are skipped, as the kubelet skips
them. Then ``env`` entries, in order, override them; a ``value`` may reference earlier
variables as ``$(NAME)`` (``$$`` escapes), and so may ``command`` and ``args``. ``valueFrom``
supports ``fieldRef`` (``metadata.name``/``uid``/``namespace``,
``metadata.labels['k']``/``annotations['k']``, ``spec.nodeName``, ``spec.serviceAccountName``,
``status.podIP``/``hostIP``), ``secretKeyRef`` and ``configMapKeyRef``. Secrets come from the
caller's secrets directory (``<name>/<key>``), ConfigMaps from the caller's data.

A missing source or key that is not ``optional`` is Kubernetes' CreateContainerConfigError, with
the kubelet's message (``configmap "x" not found``, ``couldn't find key k in Secret ns/x``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")
OBJECT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_MAP_FIELD = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")
LOOPBACK = "127.0.0.1"

log = logging.getLogger("argoexec.controller.runtime")


class EnvError(Exception):
    """An ``env`` entry that cannot be resolved: Kubernetes' CreateContainerConfigError."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: unknown references are left as written."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _REFERENCE.sub(replace, text)


def container_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    base: Mapping[str, str],
    secrets: Path | None,
    config_maps: Mapping[str, Mapping[str, str]],
) -> dict[str, str]:
    env = dict(base)
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    sources = Sources(namespace, secrets, config_maps)
    for source in container.get("envFrom") or []:
        env.update(sources.env_from(source))
    for entry in container.get("env") or []:
        name = str(entry["name"])
        if "valueFrom" in entry:
            value = _value_from(pod, name, entry["valueFrom"], sources)
            if value is None:
                continue  # an optional reference that is absent: the variable is not set
        else:
            value = expand(str(entry.get("value", "")), env)
        env[name] = value  # later entries win, as in Kubernetes
    return env


class Sources:
    """The Secrets and ConfigMaps a pod's environment can read, by name."""

    def __init__(
        self, namespace: str, secrets: Path | None, config_maps: Mapping[str, Mapping[str, str]]
    ) -> None:
        self.namespace = namespace
        self.secrets = secrets
        self.config_maps = config_maps

    def data(self, kind: str, name: str) -> Mapping[str, str] | None:
        if kind == "configmap":
            return self.config_maps.get(name)
        return _secret(self.secrets, name)

    def key(self, kind: str, ref: Mapping[str, Any]) -> str | None:
        """One key of a Secret or ConfigMap (``secretKeyRef`` / ``configMapKeyRef``)."""
        name, key = str(ref.get("name", "")), str(ref.get("key", ""))
        data = self.data(kind, name)
        if data is None:
            if ref.get("optional"):
                return None
            raise EnvError(f'{kind} "{name}" not found')
        if key not in data:
            if ref.get("optional"):
                return None
            title = "ConfigMap" if kind == "configmap" else "Secret"
            raise EnvError(f"couldn't find key {key} in {title} {self.namespace}/{name}")
        return data[key]

    def env_from(self, source: Mapping[str, Any]) -> dict[str, str]:
        """The variables of one ``envFrom`` entry."""
        kind = "configmap" if source.get("configMapRef") is not None else "secret"
        ref = source.get("configMapRef") or source.get("secretRef") or {}
        name = str(ref.get("name", ""))
        data = self.data(kind, name)
        if data is None:
            if ref.get("optional"):
                return {}
            raise EnvError(f'{kind} "{name}" not found')
        prefix = str(source.get("prefix") or "")
        found = {prefix + key: value for key, value in data.items()}
        invalid = sorted(k for k in found if not _valid_name(k))
        if invalid:
            log.warning(
                "envFrom %s %s/%s: keys %s skipped: not valid environment variable names",
                kind,
                self.namespace,
                name,
                invalid,
            )
        return {k: v for k, v in found.items() if _valid_name(k)}


def _valid_name(name: str) -> bool:
    # Kubernetes accepts any printable ASCII except '=' (RelaxedEnvironmentVariableValidation).
    return bool(name) and "=" not in name and all(" " <= c <= "~" for c in name)


def command_line(container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    words: Sequence[Any] = [*(container.get("command") or []), *(container.get("args") or [])]
    if not words:
        name = container.get("name")
        raise EnvError(f"container {name!r} has no command: images are not run locally")
    return [expand(str(w), env) for w in words]


def _value_from(
    pod: Mapping[str, Any], name: str, source: Mapping[str, Any], sources: Sources
) -> str | None:
    if "fieldRef" in source:
        return _field(pod, name, str(source["fieldRef"]["fieldPath"]))
    if "secretKeyRef" in source:
        return sources.key("secret", source["secretKeyRef"])
    if "configMapKeyRef" in source:
        return sources.key("configmap", source["configMapKeyRef"])
    raise EnvError(f"env {name}: unsupported valueFrom {sorted(source)}")


def read_secret(secrets: Path | None, name: str) -> dict[str, bytes] | None:
    """A Secret of the secrets directory (``<dir>/<name>/<key>``); None if there is none. Only
    an object name (a DNS subdomain) can name one: nothing outside the directory is read."""
    if secrets is None or not OBJECT_NAME.fullmatch(name):
        return None
    folder = secrets / name
    if not folder.is_dir():
        return None
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _secret(secrets: Path | None, name: str) -> dict[str, str] | None:
    data = read_secret(secrets, name)
    if data is None:
        return None
    # Values are bytes: undecodable ones travel as surrogate escapes, as os.environ keeps them.
    return {k: v.decode("utf-8", "surrogateescape") for k, v in data.items()}


def _field(pod: Mapping[str, Any], name: str, field_path: str) -> str:
    meta: Mapping[str, Any] = pod.get("metadata") or {}
    spec: Mapping[str, Any] = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.uid": meta.get("uid", ""),
        "metadata.namespace": meta.get("namespace", "default"),
        "spec.nodeName": spec.get("nodeName") or "localhost",
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": LOOPBACK,
        "status.hostIP": LOOPBACK,
    }
    if field_path in simple:
        return str(simple[field_path])
    match = _MAP_FIELD.match(field_path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    raise EnvError(f"env {name}: unsupported fieldRef {field_path!r}")
