"""Argo wire types (pydantic v2). A leaf package: imports nothing from the project.

Only the subset we touch is typed; every model keeps unknown fields (``extra="allow"``) so a
document read and written back loses nothing. Field aliases are Argo's JSON names, checked against
``../shared/argo/schema.json`` by a drift test.
"""

from argoexec.models.artifacts import (
    ArchiveStrategy,
    Artifact,
    ArtifactGC,
    ArtifactLocation,
    ArtifactoryArtifact,
    ArtifactRepository,
    BasicAuth,
    ClientCertAuth,
    CreateS3BucketOptions,
    GCSArtifact,
    GitArtifact,
    Header,
    HTTPArtifact,
    HTTPAuth,
    OAuth2Auth,
    OAuth2EndpointParam,
    RawArtifact,
    S3Artifact,
    S3EncryptionOptions,
    SecretKeySelector,
    TarStrategy,
)

__all__ = [
    "ArchiveStrategy",
    "Artifact",
    "ArtifactGC",
    "ArtifactLocation",
    "ArtifactRepository",
    "ArtifactoryArtifact",
    "BasicAuth",
    "ClientCertAuth",
    "CreateS3BucketOptions",
    "GCSArtifact",
    "GitArtifact",
    "HTTPArtifact",
    "HTTPAuth",
    "Header",
    "OAuth2Auth",
    "OAuth2EndpointParam",
    "RawArtifact",
    "S3Artifact",
    "S3EncryptionOptions",
    "SecretKeySelector",
    "TarStrategy",
]
