"""What ``argoexec lint`` reports, and how a YAML path is written."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")


@dataclass(frozen=True)
class Problem:
    """One finding: where in the document (``spec.templates[2].steps[0][1].template``) and what.

    ``source`` is the file the document came from, when the caller said. ``strict_only`` marks
    what ``--strict=false`` turns into a warning (an unknown field, a key given twice);
    ``unresolved`` a reference to a (Cluster)WorkflowTemplate that was not given (a cluster's
    controller resolves it from the cluster).
    """

    path: str
    message: str
    source: str = ""
    strict_only: bool = field(default=False, compare=False)
    unresolved: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.source, self.path) if part)
        return f"{where}: {self.message}" if where else self.message

    def with_source(self, source: str) -> Problem:
        return replace(self, source=source)

    def as_warning(self) -> str:
        """``FILE: PATH: warning: message``, as warnings are printed."""
        where = ": ".join(part for part in (self.source, self.path) if part)
        return f"{where}: warning: {self.message}" if where else f"warning: {self.message}"


def join(path: str, key: str | int) -> str:
    """``path`` extended by a mapping key or a list index, as users write YAML paths."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f'{path}["{key}"]'


def describe(value: Any) -> str:
    """A value as messages show it: `string "abc"`, `integer 3`, `boolean true`, `a list`."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return "string " + json.dumps(value if len(value) <= 40 else value[:37] + "...")
    names = {int: "integer ", float: "number ", list: "a list", dict: "a mapping"}
    label = names.get(type(value))
    if label is None:
        return type(value).__name__
    return label + (str(value) if label.endswith(" ") else "")
