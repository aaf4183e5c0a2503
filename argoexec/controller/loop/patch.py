"""Re-applying a controller's changes to a Workflow that was changed meanwhile (Argo's
`reapplyUpdate`): the changes from the object the controller read to the one it made, applied
to the newest stored one. Maps merge key by key; anything else (lists, values) is replaced;
a key the controller removed is removed."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


class _Removed:
    def __repr__(self) -> str:
        return "REMOVED"


REMOVED: Any = _Removed()


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """What changed from `before` to `after` (REMOVED for a removed key)."""
    changes: dict[str, Any] = {}
    for key, value in after.items():
        old = before.get(key, REMOVED)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            inner = diff(old, value)
            if inner:
                changes[key] = inner
        elif old is REMOVED or old != value:
            changes[key] = copy.deepcopy(value)
    for key in before:
        if key not in after:
            changes[key] = REMOVED
    return changes


def apply(target: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`target` with `changes` made (in place; returned)."""
    for key, value in changes.items():
        if value is REMOVED:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            apply(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target
