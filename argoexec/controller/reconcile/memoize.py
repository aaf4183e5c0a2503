"""`memoize` (Argo's step-level memoization), on any template kind: a node about to be created
looks its substituted `memoize.key` up in the cache ConfigMap `memoize.cache.configMap.name`
(the pass reads the caches through `Pass.caches`, a view the loop loaded: no I/O here).

- A hit (an entry not older than `maxAge`, a Go duration) makes the node Succeeded at once with
  the entry's outputs, without running anything (no pod), and `memoizationStatus.hit: true`;
  the entry's `lastHitTimestamp` is moved on (Argo's `Load` writes it).
- A miss sets `memoizationStatus.hit: false` and the node runs. Once it has Succeeded (only
  then), its outputs are saved under the key (`SaveCacheEntry`, carried out by the loop before
  the status is stored). Saving is level-triggered: every pass asks again for the entry of a
  succeeded node the cache does not hold yet (or holds older than the node's end), so a
  controller that died between the two, or a write that failed, loses no entry.

Argo's errors, with its words: an invalid key (`invalid cache key: K`), a ConfigMap without the
cache label, a malformed entry, an invalid `maxAge`. A ConfigMap name the API server would
refuse is refused before the node runs (Argo finds out when it saves, after the pod ran).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from argoexec.controller.engine.memo import (
    CacheError,
    data_key_problem,
    entry_of,
    key_problem,
    name_problem,
    new_entry,
    refusal,
)
from argoexec.controller.engine.substitute import SubstitutionError, substitute
from argoexec.durations import parse_go_duration, rfc3339

from . import nodes as n
from .actions import SaveCacheEntry
from .clock import epoch
from .context import Pass, Run, Visit
from .errors import NodeError
from .outputs import export_globals

STATUS = "memoizationStatus"
_DIGITS = re.compile(r"^[+-]?[0-9.]+$")


def check(p: Pass, run: Run) -> Visit | None:
    """Look a new node's key up (Argo's handleMemoization): its Visit if it was a hit, None if
    it must run (a miss, or no `memoize`). NodeError with Argo's message if the cache cannot be
    used."""
    memo = run.template.get("memoize")
    if not memo or STATUS in run.node:
        return None
    key, name, max_age = _settings(memo, run)
    try:
        config_map = p.caches.get(name)
        if config_map is not None and refusal(config_map):
            raise CacheError(refusal(config_map))
        entry = entry_of(config_map, key)
    except CacheError as exc:
        raise NodeError(str(exc)) from None
    pending = _saved_by_this_pass(p, name, key)
    entry = pending or entry
    created = epoch(entry.get("creationTimestamp")) if entry else None
    hit = bool(entry and entry.get("nodeID"))
    if hit and max_age is not None and (created is None or p.now - created > max_age):
        hit = False  # expired: Argo's GetOutputsWithMaxAge
    status = {"hit": hit, "key": key, "cacheName": name}
    node = run.node
    if not hit or entry is None:
        p.nodes.set(node, **{STATUS: status})
        return None
    outputs = entry.get("outputs")
    fields: dict[str, Any] = {STATUS: status}
    if outputs:
        fields["outputs"] = outputs
    node.pop("message", None)
    p.nodes.finish(node, n.SUCCEEDED, now=p.now, **fields)
    export_globals(p, run.template, outputs)
    if pending is not None:
        return Visit(node)  # its entry is saved after this pass: nothing to touch yet
    moment = rfc3339(p.now)
    touched = {"nodeID": entry.get("nodeID"), "lastHitTimestamp": moment}
    namespace = p.settings.namespace
    p.actions.append(SaveCacheEntry(namespace, name, key, touched, hit=True))
    return Visit(node)


def _saved_by_this_pass(p: Pass, name: str, key: str) -> dict[str, Any] | None:
    """The entry a node that succeeded in this pass will be saved with (Argo saves it as it
    sees the pod end, before it walks on: a later step of the same key hits it at once)."""
    for node in p.nodes.finished:
        status = node.get(STATUS) or {}
        if (
            node.get("phase") == n.SUCCEEDED
            and not status.get("hit")
            and status.get("cacheName") == name
            and status.get("key") == key
        ):
            return new_entry(node["id"], node.get("outputs"), rfc3339(p.now))
    return None


def _settings(memo: Mapping[str, Any], run: Run) -> tuple[str, str, float | None]:
    """The substituted key, cache name and maxAge (seconds, None if unset)."""
    where = f"template {run.template.get('name')!r}: memoize"
    try:
        key = str(substitute(str(memo.get("key") or ""), run.scope, allow_unresolved=False,
                             location=f"{where}.key"))  # fmt: skip
        cache = ((memo.get("cache") or {}).get("configMap") or {}).get("name") or ""
        name = str(substitute(str(cache), run.scope, allow_unresolved=False,
                              location=f"{where}.cache.configMap.name"))  # fmt: skip
        age = str(substitute(str(memo.get("maxAge") or ""), run.scope, allow_unresolved=False,
                             location=f"{where}.maxAge"))  # fmt: skip
    except SubstitutionError as exc:
        raise NodeError(str(exc)) from None
    problem = key_problem(key)
    refused = name_problem(name) or data_key_problem(name, key)
    if not problem and refused:
        problem = f"could not save to config map cache: {refused}"
    if problem:
        raise NodeError(problem)
    return key, name, _max_age(age) if age else None


def _max_age(text: str) -> float:
    """`maxAge` as Go's time.ParseDuration reads it (a unit is required), in seconds."""
    if _DIGITS.match(text) and text.strip("+-") not in ("0",):
        raise NodeError(f'invalid maxAge: time: missing unit in duration "{text}"')
    try:
        return parse_go_duration(text)
    except ValueError:
        raise NodeError(f'invalid maxAge: time: invalid duration "{text}"') from None


def save_entries(p: Pass) -> None:
    """Ask for the entry of every memoized node that succeeded after a miss and that the cache
    does not hold yet (level-triggered: asked again each pass until the cache holds it, or a
    newer entry of the key, written since the node ended, which would have replaced it)."""
    for node in p.nodes:
        status = node.get(STATUS)
        if not status or status.get("hit") or node.get("phase") != n.SUCCEEDED:
            continue
        name, key = str(status.get("cacheName") or ""), str(status.get("key") or "")
        if _held(p, name, key, epoch(node.get("finishedAt")) or p.now):
            continue
        entry = new_entry(node["id"], node.get("outputs"), rfc3339(p.now))
        p.actions.append(SaveCacheEntry(p.settings.namespace, name, key, entry))


def _held(p: Pass, name: str, key: str, finished: float) -> bool:
    try:
        entry = entry_of(p.caches.get(name), key)
    except CacheError:
        return False  # a malformed entry is replaced
    if entry is None:
        return False
    created = epoch(entry.get("creationTimestamp"))
    # Status times are whole seconds: an entry of the node's own second is its own (or one
    # as new, which a save would replace with the same outputs' worth).
    return created is not None and created >= int(finished)
