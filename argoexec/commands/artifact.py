"""``argoexec artifact put|get|ls|rm``: standalone artifact transfers for debugging and scripts.

Each command locates one artifact (see ``artifact_location``), builds its driver and calls the
same transfer code the executor uses for inputs and outputs. stdout carries only results
(``put -o json`` prints exactly ``{"key", "size", "sha256"}``; ``ls`` one key per line); logs and
progress go to stderr.
"""

from __future__ import annotations

import argparse
import json
import logging

from argoexec.commands import Invocation, UsageError
from argoexec.commands.artifact_location import build_secrets, resolve_artifact, split_positionals
from argoexec.commands.progress import Progress
from argoexec.models import Artifact
from artifacts.driver import ArtifactDriver, DriverContext
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.locations import get_key, has_key
from artifacts.registry import driver_for

log = logging.getLogger(__name__)


def _context(args: argparse.Namespace, inv: Invocation, progress: Progress | None) -> DriverContext:
    return DriverContext(
        secrets=build_secrets(args, inv),
        settings=inv.config.settings,
        stop=inv.stop,
        progress=progress,
    )


def _key(artifact: Artifact) -> str:
    return get_key(artifact) if has_key(artifact) else ""


def _where(driver: ArtifactDriver, artifact: Artifact) -> str:
    return driver.location(artifact)


def put(args: argparse.Namespace, inv: Invocation) -> int:
    url, (source,) = split_positionals(args, local_paths=1)
    if not source.exists() and not source.is_symlink():
        raise UsageError(f"{source}: no such file or directory")
    artifact = resolve_artifact(args, url, source=source)
    progress = Progress(f"uploading {artifact.name}", inv.stderr)
    ctx = _context(args, inv, progress)
    driver = driver_for(artifact, ctx)
    from artifacts.transfer import save_artifact

    try:
        result = save_artifact(artifact, source, ctx, driver=driver)
    finally:
        progress.close()
    where = _where(driver, artifact)
    if result is None:
        raise ArtifactError(
            f"nothing was saved from {source}", artifact=artifact.name, location=where
        )
    if args.output == "json":
        doc = {"key": result.key, "size": result.size, "sha256": result.sha256}
        inv.stdout.write(json.dumps(doc) + "\n")
    else:
        inv.stdout.write(f"stored {where} ({result.size} bytes, sha256 {result.sha256})\n")
    return 0


def get(args: argparse.Namespace, inv: Invocation) -> int:
    url, (dest,) = split_positionals(args, local_paths=1)
    artifact = resolve_artifact(args, url)
    progress = Progress(f"downloading {artifact.name}", inv.stderr)
    ctx = _context(args, inv, progress)
    driver = driver_for(artifact, ctx)
    from artifacts.transfer import load_artifact

    try:
        result = load_artifact(artifact, dest, ctx, driver=driver, expected_sha256=args.sha256)
    finally:
        progress.close()
    where = _where(driver, artifact)
    if result is None:
        log.warning("optional artifact not found; nothing loaded", extra={"location": where})
        return 0
    if args.output == "json":
        doc = {
            "path": str(result.path),
            "size": result.size,
            "sha256": result.sha256,
            "unpacked": result.unpacked,
        }
        inv.stdout.write(json.dumps(doc) + "\n")
    else:
        digest = f", sha256 {result.sha256}" if result.sha256 else ""
        inv.stdout.write(
            f"loaded {where} to {result.path} ({result.size} bytes{digest}, {result.unpacked})\n"
        )
    return 0


def ls(args: argparse.Namespace, inv: Invocation) -> int:
    url, _ = split_positionals(args, local_paths=0)
    artifact = resolve_artifact(args, url)
    from artifacts.transfer import list_objects

    for key in list_objects(artifact, _context(args, inv, None)):
        inv.stdout.write(f"{key}\n")
    return 0


def rm(args: argparse.Namespace, inv: Invocation) -> int:
    url, _ = split_positionals(args, local_paths=0)
    artifact = resolve_artifact(args, url)
    if not _key(artifact) and artifact.location_kind() in ("s3", "gcs"):
        raise ArtifactError(
            "refusing to delete without a key (that would mean the whole bucket)",
            code=ErrorCode.BAD_REQUEST,
            artifact=artifact.name,
        )
    from artifacts.transfer import delete_artifact

    delete_artifact(artifact, _context(args, inv, None))
    return 0
