"""``archiveLocation.archiveLogs``: each main container's combined output becomes an artifact
``<ctr>-logs`` stored as ``<archive location key>/<ctr>.log`` (argo-contract.md §4.7).

The emissary's ``ctr/<ctr>/combined`` file is uploaded directly (Argo copies it to
``/tmp/argo/outputs/logs`` first; the container has exited, so the file no longer changes).
A missing file (the container was killed before its command ran) is skipped with a warning.
"""

from __future__ import annotations

import logging

from argoexec.executor.outputs import SavedArtifact, SaveOutcome, key_only, log_saved
from argoexec.models import ArchiveStrategy, Artifact, Template
from argoexec.varrun import VarRun
from artifacts.driver import DriverContext
from artifacts.errors import ArtifactError, ErrorCode

log = logging.getLogger("argoexec.wait")


def archive_logs_enabled(template: Template) -> bool:
    location = template.archive_location
    return bool(location is not None and location.archive_logs)


def save_logs(template: Template, varrun: VarRun, ctx: DriverContext) -> SaveOutcome:
    outcome = SaveOutcome()
    if not archive_logs_enabled(template):
        return outcome
    for ctr in template.main_containers():
        try:
            saved = save_container_log(template, varrun, ctx, ctr)
        except Exception as exc:  # one container's log must not cost the others
            outcome.errors.append(str(exc) or type(exc).__name__)
            continue
        if saved is not None:
            log_saved(saved)
            outcome.saved.append(saved)
    return outcome


def save_container_log(
    template: Template, varrun: VarRun, ctx: DriverContext, ctr: str
) -> SavedArtifact | None:
    # Imported on use: most templates do not archive logs, and the transfer layer is costly.
    from artifacts.locations import (
        STORAGE_NOT_CONFIGURED,
        get_key,
        go_path_join,
        relocate,
        with_key,
    )
    from artifacts.transfer import save_artifact

    combined = varrun.combined(ctr)
    if not combined.is_file():
        log.warning("no combined output to archive for container %s", ctr)
        return None
    location = template.archive_location
    name = f"{ctr}-logs"
    if location is None or location.location_kind() is None:
        raise ArtifactError(STORAGE_NOT_CONFIGURED, code=ErrorCode.BAD_REQUEST, artifact=name)
    key = go_path_join(get_key(location), f"{ctr}.log")
    # The log is stored as the plain file it is; the reported artifact names no strategy, so a
    # later reader auto-detects (a text file is never mistaken for a tarball).
    declared = Artifact(name=name)
    upload = with_key(relocate(declared, location), key)
    upload = upload.model_copy(update={"archive": ArchiveStrategy(none={})})
    result = save_artifact(upload, combined, ctx)
    if result is None:
        return None
    return SavedArtifact(key_only(declared, upload), result.key, result.size, result.sha256)
