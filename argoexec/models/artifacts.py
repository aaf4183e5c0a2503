"""Artifact locations, archive strategies and repositories (argo-contract.md §11-13)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from argoexec.models.base import ArgoModel

# Argo's driver selection order when several location fields are set (§11.1).
LOCATION_KINDS: tuple[str, ...] = (
    "s3",
    "http",
    "git",
    "artifactory",
    "hdfs",
    "raw",
    "oss",
    "gcs",
    "azure",
    "plugin",
    # Our extension (not an Argo kind): a directory on this machine, for the local runtime.
    "local",
)


class SecretKeySelector(ArgoModel):
    name: str = ""
    key: str = ""
    optional: bool | None = None


class CreateS3BucketOptions(ArgoModel):
    object_locking: bool | None = None


class S3EncryptionOptions(ArgoModel):
    kms_key_id: str | None = None
    kms_encryption_context: str | None = None
    enable_encryption: bool | None = None
    server_side_customer_key_secret: SecretKeySelector | None = None


class S3Bucket(ArgoModel):
    """S3 fields shared by an artifact location and a repository (everything but ``key``)."""

    endpoint: str | None = None
    bucket: str | None = None
    region: str | None = None
    insecure: bool | None = None
    access_key_secret: SecretKeySelector | None = None
    secret_key_secret: SecretKeySelector | None = None
    session_token_secret: SecretKeySelector | None = None
    role_arn: str | None = Field(default=None, alias="roleARN")
    use_sdk_creds: bool | None = Field(default=None, alias="useSDKCreds")
    create_bucket_if_not_present: CreateS3BucketOptions | None = None
    encryption_options: S3EncryptionOptions | None = None
    ca_secret: SecretKeySelector | None = None
    addressing_style: str | None = None


class S3Artifact(S3Bucket):
    key: str | None = None


class GCSBucket(ArgoModel):
    bucket: str | None = None
    service_account_key_secret: SecretKeySelector | None = None


class GCSArtifact(GCSBucket):
    key: str | None = None


class GitArtifact(ArgoModel):
    repo: str = ""
    revision: str | None = None
    depth: int | None = None
    fetch: list[str] | None = None
    username_secret: SecretKeySelector | None = None
    password_secret: SecretKeySelector | None = None
    ssh_private_key_secret: SecretKeySelector | None = None
    insecure_ignore_host_key: bool | None = None
    disable_submodules: bool | None = None
    single_branch: bool | None = None
    branch: str | None = None
    insecure_skip_tls: bool | None = Field(default=None, alias="insecureSkipTLS")


class Header(ArgoModel):
    name: str = ""
    value: str = ""


class BasicAuth(ArgoModel):
    username_secret: SecretKeySelector | None = None
    password_secret: SecretKeySelector | None = None


class OAuth2EndpointParam(ArgoModel):
    key: str = ""
    value: str | None = None


class OAuth2Auth(ArgoModel):
    client_id_secret: SecretKeySelector | None = Field(default=None, alias="clientIDSecret")
    client_secret_secret: SecretKeySelector | None = None
    token_url_secret: SecretKeySelector | None = Field(default=None, alias="tokenURLSecret")
    scopes: list[str] | None = None
    endpoint_params: list[OAuth2EndpointParam] | None = None


class ClientCertAuth(ArgoModel):
    client_cert_secret: SecretKeySelector | None = None
    client_key_secret: SecretKeySelector | None = None


class HTTPAuth(ArgoModel):
    basic_auth: BasicAuth | None = None
    oauth2: OAuth2Auth | None = Field(default=None, alias="oauth2")
    client_cert: ClientCertAuth | None = None


class HTTPArtifact(ArgoModel):
    url: str = ""
    headers: list[Header] | None = None
    auth: HTTPAuth | None = None
    save_stream_via_file: bool | None = None


class ArtifactoryArtifact(ArgoModel):
    url: str = ""
    username_secret: SecretKeySelector | None = None
    password_secret: SecretKeySelector | None = None


class RawArtifact(ArgoModel):
    data: str = ""


class LocalArtifact(ArgoModel):
    """Our extension kind ``local``: the file (or directory tree) ``<root>/<key>`` on this
    machine. Shaped like S3's key-based location so key-only artifacts, key formats and
    relocation work unchanged. Both fields are optional on the wire, as for S3, so a key-only
    ``local: {key: ...}`` validates and round-trips; the driver requires an absolute ``root``."""

    root: str | None = None
    key: str | None = None


class TarStrategy(ArgoModel):
    compression_level: int | None = None


class ArchiveStrategy(ArgoModel):
    tar: TarStrategy | None = None
    none: dict[str, Any] | None = None
    zip: dict[str, Any] | None = None


class ArtifactGC(ArgoModel):
    strategy: str | None = None
    service_account_name: str | None = None
    pod_metadata: dict[str, Any] | None = None


class ArtifactLocation(ArgoModel):
    """Where an artifact lives; also the shape of a template's ``archiveLocation``."""

    archive_logs: bool | None = None
    s3: S3Artifact | None = None
    gcs: GCSArtifact | None = None
    git: GitArtifact | None = None
    http: HTTPArtifact | None = None
    artifactory: ArtifactoryArtifact | None = None
    raw: RawArtifact | None = None
    # Kinds we recognise but do not drive; kept verbatim so documents round-trip.
    hdfs: dict[str, Any] | None = None
    oss: dict[str, Any] | None = None
    azure: dict[str, Any] | None = None
    plugin: dict[str, Any] | None = None
    # Our extension kind (not in Argo's schema), last in the selection order.
    local: LocalArtifact | None = None

    def location_kind(self) -> str | None:
        """The first set location field in Argo's selection order, or None."""
        for kind in LOCATION_KINDS:
            if getattr(self, kind) is not None:
                return kind
        return None


class Artifact(ArtifactLocation):
    name: str = ""
    path: str | None = None
    mode: int | None = None
    from_: str | None = Field(default=None, alias="from")
    from_expression: str | None = None
    global_name: str | None = None
    archive: ArchiveStrategy | None = None
    optional: bool | None = None
    sub_path: str | None = None
    recurse_mode: bool | None = None
    artifact_gc: ArtifactGC | None = Field(default=None, alias="artifactGC")
    deleted: bool | None = None


class S3ArtifactRepository(S3Bucket):
    key_format: str | None = None
    key_prefix: str | None = None


class GCSArtifactRepository(GCSBucket):
    key_format: str | None = None


class ArtifactoryArtifactRepository(ArgoModel):
    repo_url: str | None = Field(default=None, alias="repoURL")
    username_secret: SecretKeySelector | None = None
    password_secret: SecretKeySelector | None = None
    key_format: str | None = None


class LocalArtifactRepository(ArgoModel):
    """A ``local`` repository: ``root`` plus a key format (default, as S3's,
    ``{{workflow.name}}/{{pod.name}}``)."""

    root: str | None = None
    key_format: str | None = None


class ArtifactRepository(ArgoModel):
    """One repository in Argo's ``artifact-repositories`` config map format (§13.1)."""

    archive_logs: bool | None = None
    s3: S3ArtifactRepository | None = None
    gcs: GCSArtifactRepository | None = None
    artifactory: ArtifactoryArtifactRepository | None = None
    hdfs: dict[str, Any] | None = None
    oss: dict[str, Any] | None = None
    azure: dict[str, Any] | None = None
    plugin: dict[str, Any] | None = None
    local: LocalArtifactRepository | None = None  # our extension kind
