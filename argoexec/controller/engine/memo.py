"""Argo's memoization cache ConfigMaps, as data (no I/O): the rules both the reconciler (reading
a cache) and the places caches live (writing one) follow, so they agree on every detail.

A cache is a ConfigMap labelled `workflows.argoproj.io/configmap-type: Cache`; each `data` key
is a memoize key (Argo's `^[a-zA-Z0-9][-a-zA-Z0-9]*$`), each value the JSON of an entry
`{nodeID, outputs, creationTimestamp, lastHitTimestamp}` (Argo's `cache.Entry`, in that order).
Argo refuses a ConfigMap without the label (it is not a cache: someone else's data).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from argoexec.contract import CONFIGMAP_TYPE_CACHE, LABEL_CONFIGMAP_TYPE
from argoexec.models import Outputs

CACHE_KEY = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SUBDOMAIN_TEXT = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
# Kubernetes' limit on a ConfigMap's data (keys and values together).
MAX_CONFIG_MAP_BYTES = 1024 * 1024
MAX_DATA_KEY = 253  # Kubernetes' IsConfigMapKey


class CacheError(ValueError):
    """A cache that cannot be used (Argo's words in the message)."""


def key_problem(key: str) -> str:
    """Why `key` cannot be a cache key ("" if it can): Argo's message."""
    return "" if CACHE_KEY.match(key) else f"invalid cache key: {key}"


def name_problem(name: str) -> str:
    """Why no ConfigMap can be called `name` ("" if one can): the API server's message."""
    if len(name) <= 253 and _SUBDOMAIN.match(name):
        return ""
    return (
        f'ConfigMap "{name}" is invalid: metadata.name: Invalid value: "{name}": a lowercase '
        "RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
        "and must start and end with an alphanumeric character (e.g. 'example.com', regex "
        f"used for validation is '{_SUBDOMAIN_TEXT}')"
    )


def data_key_problem(name: str, key: str) -> str:
    """Why the API server would refuse `key` in ConfigMap `name`'s data ("" if it would not):
    a data key is at most 253 characters (a valid cache key has no other fault). Refused
    here too, so that a cache on this machine takes what one on a cluster takes."""
    if len(key) <= MAX_DATA_KEY:
        return ""
    shown = key[:40] + "..."  # a long key is shown cut: it goes into the node's message
    return (
        f'ConfigMap "{name}" is invalid: data[{shown}]: Invalid value: "{shown}": must be no '
        f"more than {MAX_DATA_KEY} characters"
    )


def refusal(config_map: Mapping[str, Any]) -> str:
    """Why Argo refuses to use `config_map` as a cache ("" if it does not)."""
    labels = (config_map.get("metadata") or {}).get("labels") or {}
    if LABEL_CONFIGMAP_TYPE not in labels:
        return (
            f"memoization configmap doesn't have {LABEL_CONFIGMAP_TYPE} label, refusing to use it"
        )
    if labels[LABEL_CONFIGMAP_TYPE] != CONFIGMAP_TYPE_CACHE:
        return (
            f"memoization configmap doesn't have label {LABEL_CONFIGMAP_TYPE} = "
            f"{CONFIGMAP_TYPE_CACHE}, refusing to use it"
        )
    return ""


def entry_of(config_map: Mapping[str, Any] | None, key: str) -> dict[str, Any] | None:
    """The entry of `key` (None: no ConfigMap, no such key, or an empty value, as Argo's `Load`);
    CacheError if the value is not an entry."""
    if config_map is None:
        return None
    data = config_map.get("data") or {}
    if not isinstance(data, Mapping):
        raise CacheError("malformed cache: the ConfigMap's data is not a map of strings")
    raw = data.get(key)
    if not raw:
        return None
    try:
        entry = json.loads(raw) if isinstance(raw, str) else None
    except ValueError as exc:
        raise CacheError(
            f"malformed cache entry: could not unmarshal JSON; unable to parse: {exc}"
        ) from None
    problem = _entry_problem(entry)
    if problem:
        raise CacheError(f"malformed cache entry: could not unmarshal JSON; {problem}")
    assert isinstance(entry, dict)
    return entry


def _entry_problem(entry: Any) -> str:
    """Why `entry` is not Argo's `Entry` ("" if it is): the types Go's unmarshalling checks,
    so that a hand-edited cache never puts a malformed `outputs` on a node."""
    if not isinstance(entry, dict):
        return "unable to parse: not an object"
    for name in ("nodeID", "creationTimestamp", "lastHitTimestamp"):
        if entry.get(name) is not None and not isinstance(entry[name], str):
            return f"Entry.{name} is not a string"
    outputs = entry.get("outputs")
    if outputs is None:
        return ""
    try:
        Outputs.model_validate(outputs)
    except ValueError as exc:
        return f"Entry.outputs is not an Outputs object: {_first_line(exc)}"
    return ""


def _first_line(exc: ValueError) -> str:
    """Pydantic's first error: where, then what (`parameters: Input should be a valid list`)."""
    lines = [line.strip() for line in str(exc).splitlines()[1:3]]
    return ": ".join(lines) or type(exc).__name__


def new_entry(node_id: str, outputs: Mapping[str, Any] | None, moment: str) -> dict[str, Any]:
    """Argo's `Entry` of a node saved at `moment` (RFC 3339)."""
    return {
        "nodeID": node_id,
        "outputs": dict(outputs) if outputs is not None else None,
        "creationTimestamp": moment,
        "lastHitTimestamp": moment,
    }


def with_entry(
    config_map: Mapping[str, Any] | None,
    *,
    namespace: str,
    name: str,
    key: str,
    entry: Mapping[str, Any],
    hit: bool,
) -> dict[str, Any] | None:
    """`config_map` (None: none yet) with entry `key` written, labelled as a cache; None if
    there is nothing to write (a hit on an entry that is gone or was replaced meanwhile).
    CacheError if it cannot be written (not a cache, an invalid name or key, too large)."""
    problem = key_problem(key) or name_problem(name) or data_key_problem(name, key)
    if config_map is not None:
        problem = problem or refusal(config_map)
    if problem:
        raise CacheError(problem)
    if hit:
        try:
            current = entry_of(config_map, key)
        except CacheError:
            return None
        if current is None or current.get("nodeID") != entry.get("nodeID"):
            return None
        entry = {**current, "lastHitTimestamp": entry.get("lastHitTimestamp")}
    changed = copy.deepcopy(dict(config_map)) if config_map is not None else _empty(namespace, name)
    meta = changed.setdefault("metadata", {})
    meta["labels"] = {**(meta.get("labels") or {}), LABEL_CONFIGMAP_TYPE: CONFIGMAP_TYPE_CACHE}
    data = changed.get("data") or {}
    if not isinstance(data, dict):
        raise CacheError("malformed cache: the ConfigMap's data is not a map of strings")
    data[key] = json.dumps(dict(entry), separators=(",", ":"))
    changed["data"] = data
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in data.items())
    if size > MAX_CONFIG_MAP_BYTES:
        raise CacheError(
            f'ConfigMap "{name}" is invalid: []: Too long: must have at most '
            f"{MAX_CONFIG_MAP_BYTES} bytes"
        )
    return changed


def _empty(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {},
    }
