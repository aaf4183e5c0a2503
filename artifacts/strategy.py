"""How an output artifact is archived, which also names it: the one decision (argo-contract.md
§4.5.2, §11.4).

Argo's ``stageArchiveFile`` returns the staged file and its file name together, so an artifact
is always stored and named alike: ``<name>.tgz`` for tar, ``<name>.zip`` for zip, the basename of
its path for none. Which strategy wins when ``archive`` sets several depends on where the bytes
come from there, and is mirrored here:

* no ``archive``: tar, everywhere;
* a path read through the volume mirror (and a file this process packs itself, ``argoexec
  artifact put``): ``none``, then ``zip``, else tar;
* a base-image path (the emissary's ``.tgz``): tar if ``tar`` is set (the ``.tgz`` is uploaded as
  it is); else the ``.tgz`` is unpacked and zipped if ``zip`` is set, else stored plain (so
  ``archive: {}`` stores it plain there).

Callers decide once with :func:`archive_strategy` and hand on :func:`with_strategy`'s artifact,
whose ``archive`` then leaves no choice to whoever names or packs it.
"""

from __future__ import annotations

from typing import Literal

from argoexec.models import ArchiveStrategy, Artifact, TarStrategy

Strategy = Literal["tar", "zip", "none"]


def archive_strategy(artifact: Artifact, *, base_image: bool = False) -> Strategy:
    """How ``artifact`` is stored (and so its file name); ``base_image``: its bytes are the
    emissary's ``.tgz`` of a path in main's own filesystem."""
    archive = artifact.archive
    if archive is None:
        return "tar"
    if base_image:
        if archive.tar is not None:
            return "tar"
        return "zip" if archive.zip is not None else "none"
    if archive.none is not None:
        return "none"
    return "zip" if archive.zip is not None else "tar"


def with_strategy(artifact: Artifact, strategy: Strategy) -> Artifact:
    """``artifact`` with ``strategy`` as its only archive strategy (tar keeps its
    ``compressionLevel``)."""
    if strategy == "tar":
        tar = artifact.archive.tar if artifact.archive is not None else None
        archive = ArchiveStrategy(tar=tar or TarStrategy())
    elif strategy == "zip":
        archive = ArchiveStrategy(zip={})
    else:
        archive = ArchiveStrategy(none={})
    return artifact.model_copy(update={"archive": archive})
