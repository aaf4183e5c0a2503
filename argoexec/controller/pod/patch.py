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
from collections.abc import Iterable, Mapping
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
    pod_spec: Mapping[str, Any], patches: list[tuple[str, str]], required: Iterable[str] = ()
) -> dict[str, Any]:
    """`pod_spec` with each patch applied in turn; PodBuildError naming the patch and the
    cause when one does not parse, is not a PodSpec, cannot be merged, or removes one of the
    `required` containers."""
    patched = dict(pod_spec)
    for where, text in patches:
        try:
            patch = parse_patch(text)
            check_pod_spec_patch(patch)
            patched = strategic_merge(patched, patch)
        except (ValueError, yaml.YAMLError) as exc:  # PatchError and JSON errors included
            cause = str(exc).replace("\n", " ")
            raise PodBuildError(f"invalid podSpecPatch ({where}): {cause}") from None
        _check_required(patched, required, where)
    return patched


def _check_required(pod_spec: Mapping[str, Any], required: Iterable[str], where: str) -> None:
    """Argo creates the pod whatever the patch removed; a pod without its main container
    never ends (the wait container waits for it), and one without `wait` reports nothing, so
    such a patch is refused here instead."""
    lists = (pod_spec.get("containers"), pod_spec.get("initContainers"))
    present = {c.get("name") for found in lists if isinstance(found, list) for c in found
               if isinstance(c, Mapping)}  # fmt: skip
    for name in required:
        if name not in present:
            raise PodBuildError(
                f"invalid podSpecPatch ({where}): it removes the container {name!r}, "
                "which the workflow's pod needs"
            )


__all__ = ["PatchError", "apply_pod_spec_patches", "parse_patch", "pod_spec_patches"]
