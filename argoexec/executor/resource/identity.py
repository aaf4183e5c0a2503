"""Resource identity and self links for the objects ``resource`` acts on (contract §6 step 8)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_IRREGULAR_ENDINGS = (("ss", "sses"), ("sh", "shes"), ("ch", "ches"), ("x", "xes"), ("s", "ses"))


def plural(kind: str) -> str:
    """Lower-case English plural of a kind, as kubectl's RESTMapper guesses it."""
    word = kind.lower()
    if word.endswith("y") and len(word) > 1 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    for ending, replacement in _IRREGULAR_ENDINGS:
        if word.endswith(ending):
            return word[: -len(ending)] + replacement
    return word + "s"


@dataclass(frozen=True)
class ResourceRef:
    api_version: str
    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ResourceRef:
        meta = obj.get("metadata") or {}
        return cls(
            api_version=str(obj.get("apiVersion") or ""),
            kind=str(obj.get("kind") or ""),
            name=str(meta.get("name") or ""),
            namespace=str(meta.get("namespace") or ""),
        )

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def identity(self) -> str:
        """``<lower(kind)>.<group>/<name>``: ``pod./my-pod`` for the core group."""
        return f"{self.kind.lower()}.{self.group}/{self.name}"

    def self_link(self) -> str:
        base = f"apis/{self.api_version}" if self.group else f"api/{self.api_version}"
        scope = f"/namespaces/{self.namespace}" if self.namespace else ""
        return f"{base}{scope}/{plural(self.kind)}/{self.name}"
