"""Saving the output artifacts of the main container (argo-contract.md §4.5, §11.3-11.4, §11.8).

Where the bytes come from (§4.5.1): a path inside a template volume mount, or at/below a
supplied input artifact, is read live through ``/mainctrfs``; anything else ("base image path")
from the ``.tgz`` main's emissary wrote under ``/var/run/argo/outputs/artifacts``.

Staging (§4.5.2), without copies wherever the transfer layer can stream. The strategy is
decided once per artifact (:func:`artifacts.strategy.archive_strategy`, whose precedence
depends on the source as in Argo) and both the key's file name and the stored form follow it:

* volume path: packed by :func:`artifacts.transfer.save_artifact` per strategy, streamed.
* base image, ``tar``: the emissary's ``.tgz`` is uploaded as it is (no copy to ``/tmp``).
* base image, ``none`` / ``zip`` (or ``tar`` with an explicit ``compressionLevel``): the
  ``.tgz`` is unpacked once into ``/tmp/argo/outputs/artifacts/<n>-<name>-*/<basename(path)>``,
  then saved from there by the same streamed packer; the staging is always removed afterwards.

Decisions where Argo has a quirk (§15):

* Quirk 2 — Argo ignores ``tar.compressionLevel`` for base-image outputs (the emissary's level
  wins). We honour it: an explicit level re-packs the unpacked tree at that level.
* Quirk 3 — Argo's ``zip`` of a single base-image *file* whose basename differs from the
  artifact name fails with NotFound. Here it works: the zip holds the file under its basename.
* Quirk 4 — a zip of a single file holds the file under its basename, not its absolute path
  (the packer's choice, see :mod:`artifacts.archive_pack`).

Missing source: skipped and not reported when ``optional``, else an ``ERR_NOT_FOUND`` error
(``<path> no such file or directory``). Every artifact is attempted; the errors are collected.
The reported artifact carries only its typed key (``{"s3": {"key": ...}}``) unless it came with
a full location of its own (§11.4).
"""

from __future__ import annotations

import logging
import posixpath
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argoexec.contract import OUTPUT_ARTIFACTS_STAGING
from argoexec.executor.paths import PodPaths
from argoexec.executor.results import is_volume_path
from argoexec.models import (
    ArchiveStrategy,
    Artifact,
    ArtifactLocation,
    GCSArtifact,
    HTTPArtifact,
    S3Artifact,
    Template,
)
from argoexec.models.artifacts import LOCATION_KINDS, ArtifactoryArtifact
from artifacts.driver import DriverContext, SaveResult
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.strategy import Strategy, archive_strategy, with_strategy

# ``artifacts.archive``, ``artifacts.locations`` and ``artifacts.transfer`` (YAML, archive
# formats, the driver registry) are imported where used: a ``wait`` whose template has no output
# artifact never pays for them.

log = logging.getLogger("argoexec.wait")

STAGING_DIR = Path(OUTPUT_ARTIFACTS_STAGING)
_EMPTY_TYPED: dict[str, Any] = {
    "s3": S3Artifact,
    "gcs": GCSArtifact,
    "http": HTTPArtifact,
    "artifactory": ArtifactoryArtifact,
}


@dataclass(frozen=True)
class SavedArtifact:
    """One uploaded artifact: as reported, where it went, and what was stored."""

    reported: Artifact
    key: str
    size: int
    sha256: str
    objects: int = 1


@dataclass
class SaveOutcome:
    saved: list[SavedArtifact] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def key_only(artifact: Artifact, uploaded: ArtifactLocation) -> Artifact:
    """``artifact`` with no location but ``uploaded``'s kind and key (§11.4), unless it carried
    a full location of its own, which is then reported unchanged."""
    from artifacts.locations import get_key, has_location, with_key

    if has_location(artifact):
        return artifact
    kind = uploaded.location_kind()
    cleared = artifact.model_copy(update={k: None for k in LOCATION_KINDS})
    if kind is None:
        return cleared
    empty = _EMPTY_TYPED[kind]() if kind in _EMPTY_TYPED else {}
    return with_key(cleared.model_copy(update={kind: empty}), get_key(uploaded))


def log_saved(saved: SavedArtifact) -> None:
    log.info(
        "Saved output artifact",
        extra={
            "artifact": saved.reported.name,
            "key": saved.key,
            "size": saved.size,
            "sha256": saved.sha256,
            "objects": saved.objects,
        },
    )


def _missing(path: str) -> ArtifactError:
    return ArtifactError(f"{path} no such file or directory", code=ErrorCode.NOT_FOUND)


def _warn_if_empty(source: Path, name: str) -> None:
    try:
        if source.is_file() and source.stat().st_size == 0:
            log.warning("the output artifact is an empty file", extra={"artifact": name})
    except OSError:
        pass


@dataclass
class ArtifactSaver:
    """Saves every output artifact of ``template`` (one instance per ``wait``)."""

    template: Template
    paths: PodPaths
    ctx: DriverContext
    supplied_inputs: list[str]
    staging: Path = STAGING_DIR
    remove_local: bool = False

    def save_all(self) -> SaveOutcome:
        outcome = SaveOutcome()
        outputs = self.template.outputs
        for index, art in enumerate(outputs.artifacts or [] if outputs else []):
            try:
                saved = self.save_one(index, art)
            except Exception as exc:  # one failed artifact must not cost the others (§4.5)
                outcome.errors.append(str(exc) or type(exc).__name__)
                continue
            if saved is not None:
                log_saved(saved)
                outcome.saved.append(saved)
        return outcome

    def save_one(self, index: int, art: Artifact) -> SavedArtifact | None:
        from artifacts.transfer import clean_path

        path = clean_path(art.name, art.path or "")
        if is_volume_path(path, self.template.volume_mount_paths(), self.supplied_inputs):
            return self._save_volume_path(art, path)
        return self._save_base_image_path(index, art)

    def _upload(
        self, art: Artifact, source: Path, strategy: Strategy, *, as_is: bool = False
    ) -> SavedArtifact:
        from artifacts.locations import prepare_output
        from artifacts.transfer import save_artifact

        # Named and stored by the one strategy decided for it; reported as it was declared.
        located = prepare_output(with_strategy(art, strategy), self.template.archive_location)
        _warn_if_empty(source, art.name)
        # An emissary ``.tgz`` already is the tar: stored as it is (the key keeps ``.tgz``).
        upload = (
            located.model_copy(update={"archive": ArchiveStrategy(none={})}) if as_is else located
        )
        result = save_artifact(upload, source, self.ctx)
        if result is None:  # only for a missing optional source, which callers rule out
            raise _missing(art.path or art.name)
        return self._saved(art, located, result)

    @staticmethod
    def _saved(art: Artifact, located: Artifact, result: SaveResult) -> SavedArtifact:
        reported = key_only(art, located)
        return SavedArtifact(reported, result.key, result.size, result.sha256, result.objects)

    def _save_volume_path(self, art: Artifact, path: str) -> SavedArtifact | None:
        source = self.paths.mirror(path)
        if not source.exists() and not source.is_symlink():
            return self._skip_or_fail(art, path)
        return self._upload(art, source, archive_strategy(art))

    def _save_base_image_path(self, index: int, art: Artifact) -> SavedArtifact | None:
        from artifacts.archive import remove_path, unpack_local

        written = art.path or ""
        tgz = self.paths.varrun.output_artifact(written)
        if not tgz.is_file():
            return self._skip_or_fail(art, written)
        strategy = archive_strategy(art, base_image=True)
        level = art.archive.tar.compression_level if art.archive and art.archive.tar else None
        if strategy == "tar" and level is None:
            saved = self._upload(art, tgz, strategy, as_is=True)
            if self.remove_local:
                remove_path(tgz)
            return saved
        self.staging.mkdir(parents=True, exist_ok=True)
        # Unique per run: a runtime without a private /tmp may run several waits side by side.
        workdir = Path(tempfile.mkdtemp(prefix=f"{index}-{art.name}-", dir=self.staging))
        try:
            base = posixpath.basename(written.rstrip("/")) or art.name
            unpacked = workdir / base
            unpack_local(tgz, unpacked, fmt="tar", limit=self.ctx.settings.max_extract_bytes)
            return self._upload(art, unpacked, strategy)
        finally:
            remove_path(workdir)

    @staticmethod
    def _skip_or_fail(art: Artifact, path: str) -> None:
        if art.optional:
            log.info("Skipping optional output artifact: not found", extra={"artifact": art.name})
            return
        raise _missing(path).with_context(artifact=art.name)
