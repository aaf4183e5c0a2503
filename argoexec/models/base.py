"""Base model: camelCase aliases, unknown fields carried through, JSON out without Nones."""

from __future__ import annotations

import sys
import types
from typing import Any


def _skip_plugin_discovery() -> None:
    """Tell pydantic there are no plugins without letting it look for them.

    On the first model build pydantic imports ``importlib.metadata`` and scans the entry points
    of every installed distribution for plugins: 25-40 ms of every ``init``/``wait`` start. We
    use no pydantic plugin, so a loader returning none (what ``PYDANTIC_DISABLE_PLUGINS=__all__``
    gives, minus the import and the scan) is installed, unless the real one is already loaded.
    """
    name = "pydantic.plugin._loader"
    if name in sys.modules:
        return
    loader = types.ModuleType(name, "pydantic plugin loader: no plugins (see argoexec.models)")
    loader.get_plugins = lambda: ()  # type: ignore[attr-defined]
    sys.modules[name] = loader


_skip_plugin_discovery()

from pydantic import BaseModel, ConfigDict  # noqa: E402
from pydantic.alias_generators import to_camel  # noqa: E402


class ArgoModel(BaseModel):
    # ``defer_build``: a model's validator is built on its first use, so a command builds only
    # the models it reaches (``wait`` never validates most artifact locations on their own).
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        defer_build=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as Argo writes it: aliases, unset/None fields left out, extras kept."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
