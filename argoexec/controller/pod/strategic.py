"""Kubernetes' strategic merge patch, typed for a `PodSpec` (what Argo's `ApplyPodSpecPatch`
does with `strategicpatch.StrategicMergePatch(spec, patch, apiv1.PodSpec{})`).

The schema is the `patchStrategy`/`patchMergeKey` tags of k8s.io/api/core/v1 for the lists a
PodSpec has (`LISTS`): such a list is merged item by item on its merge key, every other list
is replaced whole (atomic); mappings are merged key by key, a `null` deletes a key. The
directives: `$patch: replace | delete | merge` on a mapping, `{$patch: replace}` as an item
(the list is replaced by the rest of the patch list), `{<key>: v, $patch: delete}` as an item
(the item with that key is removed), `$retainKeys` (keys not listed are dropped after the
merge), `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`. The order of a merged
list is Kubernetes' (`normalizeElementOrder`): the patch's items in the patch's (or
`$setElementOrder`'s) order, interleaved with the items only the original has, which keep
their places relative to the items both have; an item only the patch has goes before them.

Not modelled: the patch strategies of list fields nested deeper than listed here (they are
atomic here, as most are), and validation beyond the shape of the lists and mappings named in
the schema (Argo decodes the patch into a `PodSpec`, so a wrong type is an error there too).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PATCH = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder/"
DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"


class PatchError(ValueError):
    """The patch cannot be applied: the message names the field and the cause."""


@dataclass(frozen=True)
class Struct:
    """A struct type: its list fields with a merge strategy, its nested struct fields."""

    lists: Mapping[str, MergeList] = field(default_factory=dict)
    structs: Mapping[str, Struct] = field(default_factory=dict)


@dataclass(frozen=True)
class MergeList:
    """A list merged item by item on `key` (`patchStrategy:"merge"`), items of type `item`."""

    key: str
    item: Struct = Struct()


ANY = Struct()
CONTAINER = Struct(
    lists={
        "ports": MergeList("containerPort"),
        "env": MergeList("name"),
        "volumeMounts": MergeList("mountPath"),
        "volumeDevices": MergeList("devicePath"),
    }
)
POD_SPEC = Struct(
    lists={
        "volumes": MergeList("name"),
        "initContainers": MergeList("name", CONTAINER),
        "containers": MergeList("name", CONTAINER),
        "ephemeralContainers": MergeList("name", CONTAINER),
        "imagePullSecrets": MergeList("name"),
        "hostAliases": MergeList("ip"),
        "topologySpreadConstraints": MergeList("topologyKey"),
        "schedulingGates": MergeList("name"),
        "resourceClaims": MergeList("name"),
    }
)
# Fields of a PodSpec that are lists (of anything) or objects: a patch must keep their shape.
_LIST_FIELDS = frozenset({*POD_SPEC.lists, "tolerations", "readinessGates"})
_OBJECT_FIELDS = frozenset(
    {"affinity", "securityContext", "dnsConfig", "nodeSelector", "overhead", "os"}
)
_CONTAINER_LISTS = frozenset({*CONTAINER.lists, "command", "args", "envFrom", "resizePolicy"})
_CONTAINER_OBJECTS = frozenset(
    {"resources", "securityContext", "livenessProbe", "readinessProbe", "startupProbe",
     "lifecycle"}
)  # fmt: skip


def check_pod_spec_patch(patch: Any) -> None:
    """Argo decodes a patch into a PodSpec before it applies it: a mapping whose list and
    object fields have those shapes (PatchError naming the field otherwise)."""
    if not isinstance(patch, Mapping):
        raise PatchError(f"expected a mapping (a PodSpec), got {_kind(patch)}")
    _check_shapes(patch, _LIST_FIELDS, _OBJECT_FIELDS, "")
    for name in ("initContainers", "containers", "ephemeralContainers"):
        for index, item in enumerate(patch.get(name) or []):
            if not isinstance(item, Mapping):
                raise PatchError(f"{name}[{index}]: expected a mapping, got {_kind(item)}")
            _check_shapes(item, _CONTAINER_LISTS, _CONTAINER_OBJECTS, f"{name}[{index}].")


def _check_shapes(
    obj: Mapping[str, Any], lists: frozenset[str], objects: frozenset[str], where: str
) -> None:
    for key, value in obj.items():
        if value is None or str(key).startswith("$"):
            continue
        if key in lists and not isinstance(value, list):
            raise PatchError(f"{where}{key}: expected a list, got {_kind(value)}")
        if key in objects and not isinstance(value, Mapping):
            raise PatchError(f"{where}{key}: expected a mapping, got {_kind(value)}")


def _kind(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return names.get(type(value), "null" if value is None else type(value).__name__)


def strategic_merge(original: Mapping[str, Any], patch: Mapping[str, Any],
                    schema: Struct = POD_SPEC) -> dict[str, Any]:  # fmt: skip
    """`original` with `patch` applied (neither is changed)."""
    merged = _merge_map(copy.deepcopy(dict(original)), patch, schema, "")
    return merged if merged is not None else {}


def _merge_map(
    original: dict[str, Any], patch: Mapping[str, Any], schema: Struct, where: str
) -> dict[str, Any] | None:
    """The merged mapping, or None when the patch deletes it (`$patch: delete`)."""
    directive = patch.get(PATCH, "merge")
    if directive == "delete":
        return None
    if directive == "replace":
        return dict(_clean(patch))
    if directive != "merge":
        raise PatchError(f"{where or 'the patch'}: unknown $patch directive {directive!r}")
    for key, value in patch.items():
        if key.startswith(DELETE_PRIMITIVES):
            name = key[len(DELETE_PRIMITIVES) :]
            gone = value if isinstance(value, list) else []
            original[name] = [v for v in original.get(name) or [] if v not in gone]
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            original.pop(key, None)
            continue
        order = patch.get(SET_ORDER + key)
        merged = _merge_value(original.get(key), value, schema, key, f"{where}{key}", order=order)
        if merged is None:
            original.pop(key, None)
        else:
            original[key] = merged
    retain = patch.get(RETAIN_KEYS)
    if isinstance(retain, list):
        original = {k: v for k, v in original.items() if k in retain}
    return original


def _merge_value(
    original: Any, patch: Any, schema: Struct, key: str, where: str, *, order: Any
) -> Any:
    if isinstance(patch, Mapping):
        sub = schema.structs.get(key, ANY)
        base_map = original if isinstance(original, dict) else {}
        return _merge_map(base_map, patch, sub, where + ".")
    if isinstance(patch, list):
        strategy = schema.lists.get(key)
        if strategy is None:
            return [_clean(item) for item in patch]  # atomic: replaced whole
        base_list = original if isinstance(original, list) else []
        return _merge_list(base_list, patch, strategy, where, order)
    return patch


def _merge_list(
    original: list[Any], patch: list[Any], strategy: MergeList, where: str, order: Any
) -> list[Any]:
    key = strategy.key
    if any(isinstance(i, Mapping) and i.get(PATCH) == "replace" for i in patch):
        return [_clean(i) for i in patch if not (isinstance(i, Mapping) and PATCH in i)]
    merged = list(original)
    positions = _Positions(merged, key)
    for index, item in enumerate(patch):
        if not isinstance(item, Mapping):
            raise PatchError(f"{where}[{index}]: expected a mapping, got {_kind(item)}")
        if key not in item:
            raise PatchError(f"{where}[{index}]: does not contain declared merge key: {key}")
        at = positions.find(item[key])
        if item.get(PATCH) == "delete":
            merged = [m for m in merged if not _same(m, key, item[key])]
            positions = _Positions(merged, key)
            continue
        if at < 0:
            merged.append(_merge_map({}, item, strategy.item, f"{where}[{index}]."))
            positions.add(merged[-1], len(merged) - 1)
            continue
        result = _merge_map(merged[at], item, strategy.item, f"{where}[{index}].")
        if result is None:
            del merged[at]
            positions = _Positions(merged, key)
        else:
            merged[at] = result
    patch_order = order if isinstance(order, list) else patch
    return _normalize(merged, patch_order, original, key)


def _normalize(
    merged: list[Any], patch_order: list[Any], original: list[Any], key: str
) -> list[Any]:
    """Kubernetes' normalizeElementOrder: the items the patch names (or its
    `$setElementOrder`) in that order, merged with those only the original has (kept in their
    order) by their places in the original."""
    in_order, in_original = _Positions(patch_order, key), _Positions(original, key)
    in_patch = [m for m in merged if in_order.find(m.get(key)) >= 0]
    server_only = [m for m in merged if in_order.find(m.get(key)) < 0]
    in_patch.sort(key=lambda m: _rank(in_order, len(patch_order), m.get(key)))
    server_only.sort(key=lambda m: _rank(in_original, len(original), m.get(key)))
    result: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(in_patch):
        if j >= len(in_patch):
            result.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            result.append(in_patch[j])
            j += 1
        else:
            left = in_original.find(server_only[i].get(key))
            right = in_original.find(in_patch[j].get(key))
            if left >= 0 and right >= 0 and left < right:
                result.append(server_only[i])
                i += 1
            else:
                result.append(in_patch[j])
                j += 1
    return result


def _rank(positions: _Positions, size: int, value: Any) -> int:
    at = positions.find(value)
    return at if at >= 0 else size


class _Positions:
    """Where the first item of a list with each merge key value is, found in constant time
    for the hashable values merge keys have (a list scan per item made a patch of thousands
    of containers take minutes); other values are looked for by scanning."""

    def __init__(self, items: list[Any], key: str) -> None:
        self.items, self.key = items, key
        self.first: dict[Any, int] = {}
        for at, item in enumerate(items):
            self.add(item, at)

    def add(self, item: Any, at: int) -> None:
        if isinstance(item, Mapping):
            with contextlib.suppress(TypeError):  # an unhashable value: found by scanning
                self.first.setdefault(item.get(self.key), at)

    def find(self, value: Any) -> int:
        try:
            return self.first.get(value, -1)
        except TypeError:
            return next((at for at, i in enumerate(self.items) if _same(i, self.key, value)), -1)


def _same(item: Any, key: str, value: Any) -> bool:
    return isinstance(item, Mapping) and item.get(key) == value


def _clean(value: Any) -> Any:
    """A patch value taken as it is, its directives dropped."""
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items() if not str(k).startswith("$")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value
