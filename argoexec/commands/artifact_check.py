"""``argoexec artifact check``: a dry run that says whether an artifact location is usable.

Steps, each printed as one line on stdout: the location; which credential source the driver
resolves (never a secret value); whether the object, directory or prefix is there (a listing or a
stream opened and closed at once — no download); optionally a write probe (a tiny object at
``<key>.argoexec-probe-<random>``, written then deleted). The last line is the verdict: ``OK`` or
``FAILED: <reason>``. A missing object is fine when ``--write-probe`` is given (an output location
need not exist yet).
"""

from __future__ import annotations

import argparse
import io
import secrets
from typing import TextIO

from argoexec.commands import CheckFailedError, Invocation
from argoexec.commands.artifact_location import build_secrets, resolve_artifact, split_positionals
from argoexec.kube.secrets import KubeAPIError, KubeConfigError
from argoexec.models import Artifact
from artifacts.driver import ArtifactDriver, DriverContext
from artifacts.errors import ArtifactError, ErrorCode, is_not_found
from artifacts.locations import get_key, has_key, with_key
from artifacts.registry import driver_for
from artifacts.secrets import SecretNotFoundError

PROBE_BODY = b"argoexec write probe: safe to delete\n"
# Failures a check reports as its verdict; anything else is a bug and reaches the CLI's handler.
CHECK_FAILURES = (ArtifactError, SecretNotFoundError, KubeAPIError, KubeConfigError, OSError)


def _existence(driver: ArtifactDriver, artifact: Artifact, missing_ok: bool) -> str:
    key = get_key(artifact) if has_key(artifact) else ""
    try:
        if not key or key.endswith("/"):
            return f"prefix {key or '(bucket root)'}: {len(driver.list_objects(artifact))} objects"
        try:
            if driver.is_directory(artifact):
                count = len(driver.list_objects(artifact))
                return f"directory {key}/: {count} objects"
        except ArtifactError as exc:
            if exc.code is not ErrorCode.NOT_IMPLEMENTED:
                raise
        stream = driver.open_stream(artifact)
        try:
            size = "unknown size" if stream.size is None else f"{stream.size} bytes"
        finally:
            stream.close()
        return f"object {key}: exists ({size})"
    except ArtifactError as exc:
        if missing_ok and is_not_found(exc):
            return f"object {key or '(root)'}: not there yet (fine for an output location)"
        raise


def _probe_key(key: str) -> str:
    suffix = f"argoexec-probe-{secrets.token_hex(6)}"
    if not key:
        return suffix
    return f"{key}{suffix}" if key.endswith("/") else f"{key}.{suffix}"


def _write_probe(driver: ArtifactDriver, artifact: Artifact) -> str:
    kind = artifact.location_kind()
    if kind in ("git", "raw"):
        raise ArtifactError(f"{kind} artifacts are input-only: nothing can be written there")
    probe = with_key(artifact, _probe_key(get_key(artifact) if has_key(artifact) else ""))
    result = driver.save_stream(io.BytesIO(PROBE_BODY), probe)
    try:
        driver.delete(probe)
    except ArtifactError as exc:
        raise ArtifactError(
            f"wrote the probe {result.key} but could not delete it: {exc.message}",
            code=exc.code,
        ) from exc
    return f"write probe: wrote and deleted {result.key} ({result.size} bytes)"


def _run_steps(driver: ArtifactDriver, artifact: Artifact, write_probe: bool, out: TextIO) -> None:
    out.write(f"credentials: {driver.describe_credentials(artifact)}\n")
    out.flush()
    out.write(_existence(driver, artifact, missing_ok=write_probe) + "\n")
    if write_probe:
        out.write(_write_probe(driver, artifact) + "\n")


def check(args: argparse.Namespace, inv: Invocation) -> int:
    url, _ = split_positionals(args, local_paths=0)
    artifact = resolve_artifact(args, url)
    out = inv.stdout
    ctx = DriverContext(
        secrets=build_secrets(args, inv), settings=inv.config.settings, stop=inv.stop
    )
    driver: ArtifactDriver | None = None
    try:
        driver = driver_for(artifact, ctx)
        out.write(f"artifact {artifact.name!r} ({driver.kind}) at {driver.location(artifact)}\n")
        _run_steps(driver, artifact, args.write_probe, out)
    except CHECK_FAILURES as exc:
        reason = _reason(exc, driver, artifact)
        out.write(f"FAILED: {reason}\n")
        out.flush()
        raise CheckFailedError(reason, exc) from exc
    out.write("OK\n")
    return 0


def _reason(exc: BaseException, driver: ArtifactDriver | None, artifact: Artifact) -> str:
    reason = str(exc)
    if driver is None or isinstance(exc, SecretNotFoundError | KubeAPIError | KubeConfigError):
        return reason
    try:
        credentials = driver.describe_credentials(artifact)
    except CHECK_FAILURES:
        return reason
    return reason if credentials in reason else f"{reason} (credentials: {credentials})"
