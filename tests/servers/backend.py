"""The shape every storage fixture offers to the shared driver conformance suite.

A storage fixture module (``tests/servers/<kind>.py``) exposes a function-scoped fixture returning a
``Backend``: a driver context that can reach the server, a way to build a fully-located artifact
for a key, and an *independent* client (not our driver) to plant and read objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from argoexec.models import Artifact
from artifacts.driver import DriverContext


@dataclass
class Backend:
    name: str
    ctx: DriverContext
    # artifact(key, name="x") -> Artifact located at key (credentials as secret selectors)
    make_artifact: Callable[..., Artifact]
    # Independent client: plant an object / read one back / list keys under a prefix.
    put_object: Callable[[str, bytes], None]
    get_object: Callable[[str], bytes]
    list_keys: Callable[[str], list[str]]
    # What the store can do: directories as key prefixes (archive: none of a directory).
    supports_directories: bool = True
    extra: dict[str, object] = field(default_factory=dict)

    def artifact(self, key: str, name: str = "art", **fields: object) -> Artifact:
        return self.make_artifact(key, name=name, **fields)
