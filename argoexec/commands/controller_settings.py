"""What `argoexec run` reads of a controller configuration (`--controller-config`): Argo's
`images` index and `workflowDefaults`, from the `workflow-controller-configmap` ConfigMap (each
key YAML text) or the configuration itself (a map of settings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from argoexec import safeyaml
from argoexec.commands import UsageError
from argoexec.controller.pod import ImageEntrypoint
from argoexec.controller.runtime.images import ImageIndexError, image_index
from argoexec.controller.workflow.defaults import DefaultsError, check_defaults
from argoexec.errors import os_cause


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


@dataclass(frozen=True)
class ControllerSettings:
    """What `run` uses of a controller configuration (`--controller-config`)."""

    images: dict[str, ImageEntrypoint] = field(default_factory=dict)
    workflow_defaults: dict[str, Any] = field(default_factory=dict)


def controller_settings(path: Path | None) -> ControllerSettings:
    """Argo's `images` index and `workflowDefaults` from a controller configuration: the
    `workflow-controller-configmap` ConfigMap (each key YAML text) or the configuration itself
    (a map of settings). Only those two keys are read from it."""
    if path is None:
        return ControllerSettings()
    where = str(path)
    try:
        document = safeyaml.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(
            f"{where}: cannot read the controller configuration: {os_cause(exc)}"
        ) from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{where}: not YAML: {_first_line(exc)}") from None
    if not isinstance(document, Mapping):
        raise UsageError(f"{where}: expected a ConfigMap or a map of settings")
    images = _setting(document, "images", where)
    defaults = _setting(document, "workflowDefaults", where)
    try:
        return ControllerSettings(
            images=image_index(images[1], where=images[0]),
            workflow_defaults=check_defaults(defaults[1], defaults[0]),
        )
    except (ImageIndexError, DefaultsError) as exc:
        raise UsageError(str(exc)) from None


def _setting(document: Mapping[str, Any], key: str, where: str) -> tuple[str, object]:
    """Where a setting is, and its value: a ConfigMap's `data.<key>` is YAML text."""
    if document.get("kind") != "ConfigMap":
        return f"{where}: {key}", document.get(key)
    text = (document.get("data") or {}).get(key)
    try:
        return f"{where}: data.{key}", safeyaml.load(text) if isinstance(text, str) else text
    except yaml.YAMLError as exc:
        raise UsageError(f"{where}: data.{key}: not YAML: {_first_line(exc)}") from None
