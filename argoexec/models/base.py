"""Base model: camelCase aliases, unknown fields carried through, JSON out without Nones."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ArgoModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as Argo writes it: aliases, unset/None fields left out, extras kept."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
