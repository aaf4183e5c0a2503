"""Credentials and clients for the GCS driver (argo-contract.md §11.2, §12.2).

Precedence mirrors Argo's: ``serviceAccountKeySecret`` (a service-account JSON key; its
``token_uri`` is honoured) → anonymous when an emulator endpoint is configured → Application
Default Credentials (Workload Identity, the metadata server, ``GOOGLE_APPLICATION_CREDENTIALS``).
Credentials are resolved for every operation, so a rotated key secret is picked up at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import google.auth
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import storage
from google.oauth2 import service_account

from argoexec.models import SecretKeySelector
from artifacts.driver import DriverContext
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.secrets import SecretNotFoundError, register_secret

# Enough for get/put/list/delete of objects; bucket administration is never needed.
SCOPES = ("https://www.googleapis.com/auth/devstorage.read_write",)


@dataclass(frozen=True)
class ResolvedCredentials:
    credentials: Credentials
    project: str | None
    # Credential-free description for describe_credentials and FORBIDDEN errors.
    description: str


def resolve_credentials(
    selector: SecretKeySelector | None, ctx: DriverContext
) -> ResolvedCredentials:
    """The credentials an artifact with this ``serviceAccountKeySecret`` uses."""
    if selector is not None and selector.name:
        return _from_key_secret(selector, ctx)
    endpoint = emulator_endpoint(ctx)
    if endpoint:
        return ResolvedCredentials(
            AnonymousCredentials(),  # type: ignore[no-untyped-call]
            None,
            f"anonymous (emulator endpoint {endpoint})",
        )
    return _from_adc()


def emulator_endpoint(ctx: DriverContext) -> str | None:
    """``STORAGE_EMULATOR_HOST`` as a URL: like Go's client, a bare ``host:port`` means http."""
    endpoint = (ctx.settings.gcs_endpoint or "").strip().rstrip("/")
    if not endpoint:
        return None
    return endpoint if "://" in endpoint else f"http://{endpoint}"


def open_client(resolved: ResolvedCredentials, ctx: DriverContext) -> storage.Client:
    """A client for one operation. ``project=None`` keeps the library from guessing a project
    (which could reach the metadata server); object operations never need one."""
    endpoint = emulator_endpoint(ctx)
    return storage.Client(
        project=resolved.project,
        credentials=resolved.credentials,
        client_options={"api_endpoint": endpoint} if endpoint else None,
    )


def _bad_key(selector: SecretKeySelector, why: str) -> ArtifactError:
    return ArtifactError(
        f"serviceAccountKeySecret: secret {selector.name!r} key {selector.key!r} {why}",
        code=ErrorCode.BAD_REQUEST,
    )


def _from_key_secret(selector: SecretKeySelector, ctx: DriverContext) -> ResolvedCredentials:
    try:
        raw = ctx.secrets.resolve(selector)
    except SecretNotFoundError as exc:
        raise _bad_key(selector, "was not found") from exc
    try:
        info: Any = json.loads(raw)
    except ValueError:
        # The decoder's message quotes the document, i.e. the key: leave it out of the chain.
        raise _bad_key(selector, "is not valid JSON") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise _bad_key(selector, "is not a service-account JSON key (type service_account)")
    if isinstance(info.get("private_key"), str):
        register_secret(info["private_key"])
    try:
        credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=SCOPES
        )
    except (ValueError, KeyError) as exc:
        missing = f" (missing {exc})" if isinstance(exc, KeyError) else ""
        raise _bad_key(selector, f"is not a usable service-account key{missing}") from None
    email = info.get("client_email", "?")
    description = f"service-account key from secret {selector.name!r} ({email})"
    return ResolvedCredentials(credentials, info.get("project_id"), description)


def _from_adc() -> ResolvedCredentials:
    try:
        credentials, project = google.auth.default(scopes=SCOPES)
    except auth_exceptions.DefaultCredentialsError as exc:
        raise ArtifactError(
            "no serviceAccountKeySecret and no Application Default Credentials found "
            f"(Workload Identity, metadata server, GOOGLE_APPLICATION_CREDENTIALS): {exc}",
            code=ErrorCode.FORBIDDEN,
        ) from exc
    description = f"Application Default Credentials ({adc_kind(credentials)})"
    return ResolvedCredentials(credentials, project, description)


def adc_kind(credentials: object) -> str:
    """Which kind of Application Default Credentials these are, without any secret."""
    module = type(credentials).__module__
    if module.startswith("google.auth.compute_engine"):
        return "metadata server / Workload Identity"
    if isinstance(credentials, service_account.Credentials):
        return f"service-account key file, {credentials.service_account_email}"
    if module == "google.oauth2.credentials":
        return "gcloud user credentials"
    if module.startswith(("google.auth.external_account", "google.auth.identity_pool")):
        return "workload identity federation"
    if module == "google.auth.impersonated_credentials":
        target = getattr(credentials, "service_account_email", "?")
        return f"impersonated service account {target}"
    return f"{module}.{type(credentials).__qualname__}"
