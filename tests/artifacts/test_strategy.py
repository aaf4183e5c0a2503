"""The one archive-strategy decision for an output artifact (argo-contract.md §4.5.2, §11.4):
how it is stored and what its key is named follow it together."""

from __future__ import annotations

from typing import Any

import pytest

from argoexec.models import Artifact
from artifacts.locations import output_file_name
from artifacts.strategy import archive_strategy, with_strategy

BOTH_SET = [
    {"tar": {}, "none": {}},
    {"zip": {}, "none": {}},
    {"tar": {}, "zip": {}},
    {"tar": {"compressionLevel": 1}, "zip": {}, "none": {}},
]


def artifact(archive: dict[str, Any] | None) -> Artifact:
    wire: dict[str, Any] = {"name": "out", "path": "/tmp/report.csv"}
    if archive is not None:
        wire["archive"] = archive
    return Artifact.model_validate(wire)


@pytest.mark.parametrize("base_image", [False, True])
def test_without_archive_it_is_tar(base_image: bool) -> None:
    assert archive_strategy(artifact(None), base_image=base_image) == "tar"


@pytest.mark.parametrize(
    ("archive", "mirror", "base_image"),
    [
        ({"tar": {}, "none": {}}, "none", "tar"),
        ({"zip": {}, "none": {}}, "none", "zip"),
        ({"tar": {}, "zip": {}}, "zip", "tar"),
        ({}, "tar", "none"),
    ],
)
def test_precedence_follows_argos_stage_archive_file_per_source(
    archive: dict[str, Any], mirror: str, base_image: str
) -> None:
    assert archive_strategy(artifact(archive)) == mirror
    assert archive_strategy(artifact(archive), base_image=True) == base_image


@pytest.mark.parametrize("archive", BOTH_SET)
@pytest.mark.parametrize("base_image", [False, True])
def test_the_key_ends_in_tgz_exactly_when_the_artifact_is_tarred(
    archive: dict[str, Any], base_image: bool
) -> None:
    declared = artifact(archive)
    strategy = archive_strategy(declared, base_image=base_image)
    pinned = with_strategy(declared, strategy)
    assert archive_strategy(pinned) == archive_strategy(pinned, base_image=True) == strategy
    name = output_file_name(pinned)
    assert name.endswith(".tgz") == (strategy == "tar")
    assert name.endswith(".zip") == (strategy == "zip")
    assert (name == "report.csv") == (strategy == "none")


def test_pinning_tar_keeps_its_compression_level() -> None:
    pinned = with_strategy(artifact({"tar": {"compressionLevel": 1}, "none": {}}), "tar")
    assert pinned.archive is not None and pinned.archive.tar is not None
    assert pinned.archive.tar.compression_level == 1
    assert pinned.archive.none is None and pinned.archive.zip is None
