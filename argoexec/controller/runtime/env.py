"""A container's environment and command line, resolved the way the kubelet does.

``env`` entries are taken in order; a ``value`` may reference earlier variables as ``$(NAME)``
(``$$`` escapes), and so may ``command`` and ``args``. ``valueFrom`` supports ``fieldRef``
(``metadata.name``/``uid``/``namespace``, ``metadata.labels['k']``/``annotations['k']``,
``spec.nodeName``, ``spec.serviceAccountName``, ``status.podIP``/``hostIP``), ``secretKeyRef``
(the caller's secrets directory, ``<name>/<key>``) and ``configMapKeyRef`` (the caller's data).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")
_MAP_FIELD = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")
LOOPBACK = "127.0.0.1"


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
    for entry in container.get("env") or []:
        name = str(entry["name"])
        if "valueFrom" in entry:
            value = _value_from(pod, name, entry["valueFrom"], secrets, config_maps)
            if value is None:
                continue  # an optional reference that is absent: the variable is not set
        else:
            value = expand(str(entry.get("value", "")), env)
        env[name] = value  # later entries win, as in Kubernetes
    return env


def command_line(container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    words: Sequence[Any] = [*(container.get("command") or []), *(container.get("args") or [])]
    if not words:
        name = container.get("name")
        raise EnvError(f"container {name!r} has no command: images are not run locally")
    return [expand(str(w), env) for w in words]


def _value_from(
    pod: Mapping[str, Any],
    name: str,
    source: Mapping[str, Any],
    secrets: Path | None,
    config_maps: Mapping[str, Mapping[str, str]],
) -> str | None:
    if "fieldRef" in source:
        return _field(pod, name, str(source["fieldRef"]["fieldPath"]))
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        value = _secret(secrets, str(ref["name"]), str(ref["key"]))
        return _required(value, ref, f"env {name}: secret {ref['name']!r} key {ref['key']!r}")
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        value = config_maps.get(str(ref["name"]), {}).get(str(ref["key"]))
        return _required(value, ref, f"env {name}: configMap {ref['name']!r} key {ref['key']!r}")
    raise EnvError(f"env {name}: unsupported valueFrom {sorted(source)}")


def _required(value: str | None, ref: Mapping[str, Any], what: str) -> str | None:
    if value is None and not ref.get("optional"):
        raise EnvError(f"{what} not found")
    return value


def _secret(secrets: Path | None, name: str, key: str) -> str | None:
    if secrets is None:
        return None
    path = secrets / name / key
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _field(pod: Mapping[str, Any], name: str, field_path: str) -> str:
    meta: Mapping[str, Any] = pod.get("metadata") or {}
    spec: Mapping[str, Any] = pod.get("spec") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.uid": meta.get("uid", ""),
        "metadata.namespace": meta.get("namespace", "default"),
        "spec.nodeName": "localhost",
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
