"""An image's ENTRYPOINT and CMD, for a container that gives no ``command``.

Argo's controller wraps every user container's command in the emissary, so it must know the
command an image would run: it looks first in its configuration's ``images`` index (image →
``entrypoint``/``cmd``), then asks the image's registry. The ``podman`` runtime asks podman
about the local image instead (`PodmanImages`): nothing is pulled to find out. An image found
in neither is the pod builder's error, with Argo's words.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from argoexec.controller.pod import ImageEntrypoint
from argoexec.controller.runtime.podman import PodmanError, run_podman


class ImageIndexError(ValueError):
    """An ``images`` index that is not Argo's shape; `str()` names the entry."""


def image_index(raw: object, *, where: str = "images") -> dict[str, ImageEntrypoint]:
    """Argo's ``images`` setting (a map of image → ``{entrypoint: [...], cmd: [...]}``)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ImageIndexError(f"{where}: must be a map of image name to entrypoint/cmd")
    index: dict[str, ImageEntrypoint] = {}
    for image, entry in raw.items():
        at = f"{where}.{image}"
        if not isinstance(entry, Mapping):
            raise ImageIndexError(f"{at}: must be a map with entrypoint and/or cmd")
        unknown = sorted(set(entry) - {"entrypoint", "cmd"})
        if unknown:
            raise ImageIndexError(f"{at}: unknown field {unknown[0]!r} (entrypoint, cmd)")
        entrypoint = _words(entry.get("entrypoint"), f"{at}.entrypoint") or []
        cmd = _words(entry.get("cmd"), f"{at}.cmd")
        index[str(image)] = ImageEntrypoint(tuple(entrypoint), tuple(cmd) if cmd else None)
    return index


def index_to_wire(index: Mapping[str, ImageEntrypoint]) -> dict[str, dict[str, list[str]]]:
    wire: dict[str, dict[str, list[str]]] = {}
    for image, entry in index.items():
        wire[image] = {"entrypoint": list(entry.entrypoint)}
        if entry.cmd is not None:
            wire[image]["cmd"] = list(entry.cmd)
    return wire


def _words(value: object, where: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise ImageIndexError(f"{where}: must be a list of strings")
    return list(value)


class PodmanImages(Mapping[str, ImageEntrypoint]):
    """The index first, then the local image as podman describes it (``Config.Entrypoint`` and
    ``Config.Cmd``); an image podman does not have is absent. Answers are kept: an image's
    command does not change while a run uses it."""

    def __init__(self, index: Mapping[str, ImageEntrypoint]) -> None:
        self.index = dict(index)
        self._found: dict[str, ImageEntrypoint | None] = {}

    def __getitem__(self, image: str) -> ImageEntrypoint:
        if image in self.index:
            return self.index[image]
        if image not in self._found:
            self._found[image] = _inspect(image)
        found = self._found[image]
        if found is None:
            raise KeyError(image)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self.index)

    def __len__(self) -> int:
        return len(self.index)


def _inspect(image: str) -> ImageEntrypoint | None:
    try:
        described = json.loads(run_podman(["image", "inspect", image]) or "[]")
    except (PodmanError, ValueError):
        return None
    if not isinstance(described, list) or not described:
        return None
    config: Mapping[str, Any] = described[0].get("Config") or {}
    entrypoint = config.get("Entrypoint") or []
    cmd = config.get("Cmd")
    return ImageEntrypoint(tuple(str(w) for w in entrypoint), tuple(map(str, cmd)) if cmd else None)
