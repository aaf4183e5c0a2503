"""Lazy driver registry keyed by location kind.

Entries are ``"module:factory"`` strings imported on first use, so choosing the S3 driver never
imports google-cloud-storage or GitPython. A missing SDK produces an install hint, not a traceback.
"""

from __future__ import annotations

import importlib

from argoexec.models import Artifact
from artifacts.driver import ArtifactDriver, DriverContext, DriverFactory
from artifacts.errors import ArtifactError, ErrorCode

_FACTORIES: dict[str, str] = {
    "s3": "artifacts.drivers.s3:S3Driver",
    "gcs": "artifacts.drivers.gcs:GCSDriver",
    "git": "artifacts.drivers.git:GitDriver",
    "http": "artifacts.drivers.http:HTTPDriver",
    "artifactory": "artifacts.drivers.http:ArtifactoryDriver",
    "raw": "artifacts.drivers.raw:RawDriver",
    "local": "artifacts.drivers.local:LocalDriver",
}

_INSTALL_HINTS: dict[str, str] = {
    "s3": "boto3",
    "gcs": "google-cloud-storage",
    "git": "gitpython",
    "http": "requests",
    "artifactory": "requests",
}


def supported_kinds() -> tuple[str, ...]:
    return tuple(_FACTORIES)


def load_factory(kind: str) -> DriverFactory:
    """The factory for ``kind``, importing its module now."""
    target = _FACTORIES.get(kind)
    if target is None:
        raise ArtifactError(
            f"unsupported artifact driver {kind!r} (supported: {', '.join(_FACTORIES)})",
            code=ErrorCode.BAD_REQUEST,
            driver=kind,
        )
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = _INSTALL_HINTS.get(kind, "the driver's SDK")
        raise ArtifactError(
            f"the {kind} driver needs {hint}: pip install {hint} ({exc})",
            code=ErrorCode.INTERNAL,
            driver=kind,
        ) from exc
    factory: DriverFactory = getattr(module, attr)
    return factory


def driver_for(artifact: Artifact, ctx: DriverContext) -> ArtifactDriver:
    """Build the driver for the artifact's location (Argo's selection order, §11.1)."""
    kind = artifact.location_kind()
    if kind is None:
        raise ArtifactError(
            f"Unsupported artifact driver for {artifact.name}: no location is set",
            code=ErrorCode.BAD_REQUEST,
            artifact=artifact.name,
        )
    return load_factory(kind)(ctx)
