"""The controller's configuration from Argo's `workflow-controller-configmap`, and the artifact
repository each workflow uses (`spec.artifactRepositoryRef`, Argo's `artifact-repositories`).

Each key of the ConfigMap's `data` is YAML text, as Argo reads it (a ConfigMap whose whole
configuration sits under one `config` key, Argo's older form, is read too). Keys read here:
`executor` (a container: image, imagePullPolicy, resources, env, securityContext), `images`,
`artifactRepository`, `parallelism`, `namespaceParallelism`, `podGCGracePeriodSeconds`,
`instanceID`.
Other keys are left for later and named in the log once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from argoexec import contract as c
from argoexec import safeyaml
from argoexec.controller.pod import ImageEntrypoint
from argoexec.controller.runtime.images import ImageIndexError, image_index
from argoexec.durations import parse_go_duration
from argoexec.models import ArtifactRepository
from artifacts.locations import select_repository

log = logging.getLogger("argoexec.controller")

CONFIG_MAP = "workflow-controller-configmap"
REPOSITORIES_CONFIG_MAP = "artifact-repositories"
KNOWN_KEYS = {
    "executor",
    "images",
    "artifactRepository",
    "parallelism",
    "namespaceParallelism",
    "podGCGracePeriodSeconds",
    "instanceID",
}


class ConfigError(Exception):
    """A configuration the controller cannot use; `str()` names the key and the cause."""


@dataclass(frozen=True)
class ControllerConfig:
    executor_image: str = c.DEFAULT_EXECUTOR_IMAGE
    executor_image_pull_policy: str | None = None
    executor_resources: Mapping[str, Any] | None = None
    executor_security_context: Mapping[str, Any] | None = None
    executor_env: tuple[tuple[str, str], ...] = ()
    images: Mapping[str, ImageEntrypoint] = field(default_factory=dict)
    artifact_repository: ArtifactRepository | None = None
    parallelism: int = 0  # workflows running at once, 0 = no limit
    namespace_parallelism: int = 0  # ... per namespace
    pod_gc_grace_period: int | None = None  # seconds
    instance_id: str = ""


def _yaml(where: str, text: object) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return safeyaml.load(text)
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "not YAML"
        raise ConfigError(f"{where}: not YAML: {first}") from None


def _count(where: str, value: object) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{where}: not a whole number: {value!r}") from None
    if number < 0:
        raise ConfigError(f"{where}: must be 0 or more, not {number}")
    return number


def _seconds(where: str, value: object) -> int:
    text = str(value).strip()
    try:
        return int(text) if text.isdigit() else round(parse_go_duration(text))
    except ValueError:
        raise ConfigError(f"{where}: not a duration (e.g. 30s): {value!r}") from None


def _executor(where: str, raw: object) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a container (image, resources, env...)")
    fields: dict[str, Any] = {}
    if raw.get("image"):
        fields["executor_image"] = str(raw["image"])
    if raw.get("imagePullPolicy"):
        fields["executor_image_pull_policy"] = str(raw["imagePullPolicy"])
    if isinstance(raw.get("resources"), Mapping):
        fields["executor_resources"] = dict(raw["resources"])
    if isinstance(raw.get("securityContext"), Mapping):
        fields["executor_security_context"] = dict(raw["securityContext"])
    env = []
    for index, item in enumerate(raw.get("env") or []):
        if not isinstance(item, Mapping) or not item.get("name") or "valueFrom" in item:
            raise ConfigError(f"{where}.env[{index}]: only name/value pairs are supported")
        env.append((str(item["name"]), str(item.get("value") or "")))
    fields["executor_env"] = tuple(env)
    return fields


def parse_config(config_map: Mapping[str, Any], *, where: str = CONFIG_MAP) -> ControllerConfig:
    """The configuration in a ConfigMap object (or its `data`)."""
    data = dict(config_map.get("data") or {}) if "data" in config_map else dict(config_map)
    if set(data) == {"config"}:
        nested = _yaml(f"{where}: data.config", data["config"])
        data = dict(nested) if isinstance(nested, Mapping) else {}
    fields: dict[str, Any] = {}
    for key, text in data.items():
        at = f"{where}: data.{key}"
        if key not in KNOWN_KEYS:
            log.info("%s: not used by this controller", at)
            continue
        value = _yaml(at, text)
        if key == "executor":
            fields.update(_executor(at, value))
        elif key == "images":
            try:
                fields["images"] = image_index(value, where=at)
            except ImageIndexError as exc:
                raise ConfigError(str(exc)) from None
        elif key == "artifactRepository":
            try:
                fields["artifact_repository"] = ArtifactRepository.model_validate(value)
            except ValueError as exc:
                raise ConfigError(f"{at}: not an artifact repository: {exc}") from None
        elif key == "parallelism":
            fields["parallelism"] = _count(at, value)
        elif key == "namespaceParallelism":
            fields["namespace_parallelism"] = _count(at, value)
        elif key == "podGCGracePeriodSeconds":
            fields["pod_gc_grace_period"] = _seconds(at, value)
        elif key == "instanceID":
            fields["instance_id"] = str(value or "")
    return ControllerConfig(**fields)


def repository_from_config_map(
    config_map: Mapping[str, Any], key: str | None, *, where: str
) -> ArtifactRepository:
    """One repository of an `artifact-repositories` ConfigMap (its values are YAML text)."""
    data = {k: _yaml(f"{where}: data.{k}", v) for k, v in (config_map.get("data") or {}).items()}
    try:
        return select_repository({**config_map, "data": data}, key)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
