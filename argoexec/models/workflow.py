"""Template, inputs/outputs and the ``NodeResult`` the executor reports (contract §1.6, §4.6).

Only fields the executor reads are typed; containers, volumes and the rest of a template travel
as plain dicts (``extra="allow"``), so a template read and written back is unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from argoexec.models.artifacts import Artifact, ArtifactLocation
from argoexec.models.base import ArgoModel


def _any_string(value: Any) -> Any:
    """Argo's ``AnyString``: numbers and booleans are accepted and kept as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


class ConfigMapKeySelector(ArgoModel):
    name: str = ""
    key: str = ""
    optional: bool | None = None


class ValueFrom(ArgoModel):
    path: str | None = None
    default: str | None = None
    supplied: dict[str, Any] | None = None
    config_map_key_ref: ConfigMapKeySelector | None = None
    expression: str | None = None
    parameter: str | None = None
    json_path: str | None = None
    jq_filter: str | None = None
    event: str | None = None

    _coerce = field_validator("default", mode="before")(_any_string)


class Parameter(ArgoModel):
    name: str = ""
    value: str | None = None
    default: str | None = None
    value_from: ValueFrom | None = None
    enum: list[str] | None = None
    global_name: str | None = None
    description: str | None = None

    _coerce = field_validator("value", "default", mode="before")(_any_string)


class Inputs(ArgoModel):
    parameters: list[Parameter] | None = None
    artifacts: list[Artifact] | None = None


class Outputs(ArgoModel):
    parameters: list[Parameter] | None = None
    artifacts: list[Artifact] | None = None
    result: str | None = None
    exit_code: str | None = None


class ScriptTemplate(ArgoModel):
    image: str | None = None
    source: str = ""
    volume_mounts: list[dict[str, Any]] | None = None


class ManifestFrom(ArgoModel):
    artifact: Artifact | None = None


class ResourceTemplate(ArgoModel):
    action: str = ""
    merge_strategy: str | None = None
    manifest: str | None = None
    manifest_from: ManifestFrom | None = None
    set_owner_reference: bool | None = None
    success_condition: str | None = None
    failure_condition: str | None = None
    flags: list[str] | None = None


class ContainerSetTemplate(ArgoModel):
    containers: list[dict[str, Any]] = Field(default_factory=list)
    volume_mounts: list[dict[str, Any]] | None = None
    retry_strategy: dict[str, Any] | None = None


class Template(ArgoModel):
    name: str | None = None
    inputs: Inputs | None = None
    outputs: Outputs | None = None
    container: dict[str, Any] | None = None
    script: ScriptTemplate | None = None
    resource: ResourceTemplate | None = None
    container_set: ContainerSetTemplate | None = None
    data: dict[str, Any] | None = None
    http: dict[str, Any] | None = None
    plugin: dict[str, Any] | None = None
    sidecars: list[dict[str, Any]] | None = None
    archive_location: ArtifactLocation | None = None

    def main_containers(self) -> list[str]:
        """``["main"]``, or every containerSet member (an unnamed member is ``main``)."""
        if self.container_set and self.container_set.containers:
            return [m.get("name") or "main" for m in self.container_set.containers]
        return ["main"]

    def volume_mount_paths(self) -> list[str]:
        mounts: list[dict[str, Any]] = []
        if self.container:
            mounts += self.container.get("volumeMounts") or []
        if self.script and self.script.volume_mounts:
            mounts += self.script.volume_mounts
        if self.container_set and self.container_set.volume_mounts:
            mounts += self.container_set.volume_mounts
        return [str(m["mountPath"]) for m in mounts if m.get("mountPath")]


class NodeResult(ArgoModel):
    """What the executor reports for a node: the inlined fields of a ``WorkflowTaskResult``."""

    phase: str | None = None
    message: str | None = None
    outputs: Outputs | None = None
    progress: str | None = None
