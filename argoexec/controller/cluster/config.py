"""The controller's configuration from Argo's `workflow-controller-configmap`, and the artifact
repository each workflow uses (`spec.artifactRepositoryRef`, Argo's `artifact-repositories`).

Each key of the ConfigMap's `data` is YAML text, as Argo reads it (a ConfigMap whose whole
configuration sits under one `config` key, Argo's older form, is read too). Keys read here:
`executor` (a container: image, imagePullPolicy, resources, env, securityContext), `images`,
`artifactRepository`, `parallelism`, `namespaceParallelism`, `podGCGracePeriodSeconds`,
`instanceID`, `workflowDefaults`.
Other keys are left for later and named in the log once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from argoexec import contract as c
from argoexec import safeyaml
from argoexec.controller.pod import ImageEntrypoint
from argoexec.controller.runtime.images import ImageIndexError, image_index
from argoexec.controller.workflow.defaults import DefaultsError, check_defaults
from argoexec.durations import parse_go_duration
from argoexec.models import ArtifactRepository
from artifacts.locations import select_repository

log = logging.getLogger("argoexec.controller")

CONFIG_MAP = "workflow-controller-configmap"
REPOSITORIES_CONFIG_MAP = "artifact-repositories"


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
    # Merged into every workflow before it runs (`argoexec.controller.workflow.defaults`).
    workflow_defaults: Mapping[str, Any] = field(default_factory=dict)


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
        if key != "executor" and key not in _FIELDS:
            log.info("%s: not used by this controller", at)
            continue
        fields.update(_setting(key, at, _yaml(at, text)))
    return ControllerConfig(**fields)


def _images(at: str, value: Any) -> Mapping[str, ImageEntrypoint]:
    try:
        return image_index(value, where=at)
    except ImageIndexError as exc:
        raise ConfigError(str(exc)) from None


def _defaults(at: str, value: Any) -> dict[str, Any]:
    try:
        return check_defaults(value, at)
    except DefaultsError as exc:
        raise ConfigError(str(exc)) from None


def _repository(at: str, value: Any) -> ArtifactRepository:
    try:
        return ArtifactRepository.model_validate(value)
    except ValueError as exc:
        raise ConfigError(f"{at}: not an artifact repository: {exc}") from None


# Each key but `executor`: the `ControllerConfig` field it sets, and how its value is read.
_FIELDS: Mapping[str, tuple[str, Callable[[str, Any], Any]]] = {
    "images": ("images", _images),
    "artifactRepository": ("artifact_repository", _repository),
    "parallelism": ("parallelism", _count),
    "namespaceParallelism": ("namespace_parallelism", _count),
    "podGCGracePeriodSeconds": ("pod_gc_grace_period", _seconds),
    "instanceID": ("instance_id", lambda at, value: str(value or "")),
    "workflowDefaults": ("workflow_defaults", _defaults),
}


def _setting(key: str, at: str, value: Any) -> dict[str, Any]:
    """The `ControllerConfig` fields one key of the ConfigMap sets."""
    if key == "executor":
        return _executor(at, value)
    name, read = _FIELDS[key]
    return {name: read(at, value)}


def repository_from_config_map(
    config_map: Mapping[str, Any], key: str | None, *, where: str
) -> ArtifactRepository:
    """One repository of an `artifact-repositories` ConfigMap (its values are YAML text)."""
    data = {k: _yaml(f"{where}: data.{k}", v) for k, v in (config_map.get("data") or {}).items()}
    try:
        return select_repository({**config_map, "data": data}, key)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
