"""`podSpecPatch`: the workflow's (`spec.podSpecPatch`), then the template's, applied to the
built pod's spec by strategic merge (Argo's `processPodSpecPatch` and `ApplyPodSpecPatch`).

Both are strings (YAML, or JSON when they start with `{`) already substituted with the
template's variables by the caller. As Argo, they apply after the containers have their
environment and before the user containers are wrapped with the emissary and given their
`/var/run/argo` mounts, so a patch may change a container's `command`, `args`, `env`,
`resources` or `image`, and a container it adds runs under the emissary like the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from argoexec.controller.pod.context import PodBuildError
from argoexec.controller.pod.strategic import PatchError, check_pod_spec_patch, strategic_merge


def pod_spec_patches(
    workflow_spec: Mapping[str, Any], template: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(where it comes from, the patch text) in the order Argo applies them."""
    found = [
        ("spec.podSpecPatch", workflow_spec.get("podSpecPatch")),
        ("the template's podSpecPatch", template.get("podSpecPatch")),
    ]
    return [(where, str(text)) for where, text in found if text]


def parse_patch(text: str) -> Any:
    """Argo's ConvertYAMLToJSON: JSON when it starts with `{`, YAML otherwise."""
    if text.strip().startswith("{"):
        return json.loads(text)
    return yaml.safe_load(text)


def apply_pod_spec_patches(
    pod_spec: Mapping[str, Any], patches: list[tuple[str, str]]
) -> dict[str, Any]:
    """`pod_spec` with each patch applied in turn; PodBuildError naming the patch and the
    cause when one does not parse, is not a PodSpec, or cannot be merged."""
    patched = dict(pod_spec)
    for where, text in patches:
        try:
            patch = parse_patch(text)
            check_pod_spec_patch(patch)
            patched = strategic_merge(patched, patch)
        except (ValueError, yaml.YAMLError) as exc:  # PatchError and JSON errors included
            cause = str(exc).replace("\n", " ")
            raise PodBuildError(f"invalid podSpecPatch ({where}): {cause}") from None
    return patched


__all__ = ["PatchError", "apply_pod_spec_patches", "parse_patch", "pod_spec_patches"]
