"""The artifact's S3 fields turned into client options and per-request encryption arguments.

Mirrors Argo's ``newS3Client``/``buildServerSideEnc`` (argo-contract.md §12.1): endpoint without a
scheme (``insecure`` picks HTTP), region defaulting to ``us-east-1``, Argo's addressing styles, and
server-side encryption only when ``enableEncryption`` is true: SSE-C with a key derived from the
secret and salted with ``bucket + key`` (MinIO's ``encrypt.DefaultPBKDF``), else SSE-KMS, else
SSE-S3.
"""

from __future__ import annotations

import base64
import functools
import json
import posixpath
from dataclasses import dataclass
from typing import Any

from argoexec.models import Artifact, S3Artifact
from artifacts.errors import ArtifactError, ErrorCode

DEFAULT_REGION = "us-east-1"
_ADDRESSING = {"path": "path", "virtual-hosted": "virtual"}


def addressing_style(value: str | None) -> str:
    """Argo's ``""``/``path``/``virtual-hosted`` as botocore's ``auto``/``path``/``virtual``."""
    return _ADDRESSING.get(value or "", "auto")


def clean_key(key: str) -> str:
    """Go's ``filepath.Clean`` for keys: no duplicate, trailing or ``.`` segments."""
    if not key:
        return "."
    cleaned = posixpath.normpath(key)
    # POSIX keeps a leading "//"; Go collapses it.
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def directory_prefix(key: str) -> str:
    """The prefix whose objects make ``key`` a "directory" (whole bucket for an empty key)."""
    return clean_key(key) + "/" if key else ""


@dataclass(frozen=True)
class S3Target:
    """Where one artifact lives, credential-free."""

    bucket: str
    key: str
    endpoint: str
    region: str
    insecure: bool
    addressing_style: str

    @property
    def endpoint_url(self) -> str | None:
        if not self.endpoint:
            return None  # botocore's AWS endpoint for the region
        if "://" in self.endpoint:
            return self.endpoint
        return ("http://" if self.insecure else "https://") + self.endpoint

    def url(self, key: str | None = None) -> str:
        where = f"s3://{self.bucket}/{self.key if key is None else key}"
        return f"{where} (endpoint {self.endpoint_url})" if self.endpoint else where


def s3_fields(artifact: Artifact) -> S3Artifact:
    if artifact.s3 is None:
        raise ArtifactError(
            "the artifact has no s3 location", code=ErrorCode.BAD_REQUEST, artifact=artifact.name
        )
    return artifact.s3


def target_of(artifact: Artifact) -> S3Target:
    s3 = s3_fields(artifact)
    return S3Target(
        bucket=s3.bucket or "",
        key=s3.key or "",
        endpoint=(s3.endpoint or "").strip(),
        region=s3.region or DEFAULT_REGION,
        insecure=bool(s3.insecure),
        addressing_style=addressing_style(s3.addressing_style),
    )


@functools.lru_cache(maxsize=256)
def derive_customer_key(password: str, salt: str) -> bytes:
    """MinIO ``encrypt.DefaultPBKDF``: Argon2id(password, salt, t=1, m=64 MiB, p=4, 32 bytes).

    Cached because each derivation costs ~64 MiB and tens of milliseconds, and a directory
    artifact derives one key per object.
    """
    from argon2.low_level import Type, hash_secret_raw

    return hash_secret_raw(
        password.encode(),
        salt.encode(),
        time_cost=1,
        memory_cost=64 * 1024,
        parallelism=4,
        hash_len=32,
        type=Type.ID,
    )


def encryption_context(raw: str | None) -> str | None:
    """``kmsEncryptionContext`` checked to be JSON and base64-encoded for the request header."""
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise ArtifactError(
            f"failed to parse KMS encryption context: it must be JSON ({exc})",
            code=ErrorCode.BAD_REQUEST,
        ) from exc
    compact = json.dumps(parsed, separators=(",", ":"), sort_keys=True)
    return base64.b64encode(compact.encode()).decode()


@dataclass(frozen=True)
class Encryption:
    """Server-side encryption for every get/put/head of one artifact."""

    enabled: bool = False
    customer_key: str | None = None  # the SSE-C password from the secret (never logged)
    kms_key_id: str = ""
    kms_context: str | None = None  # base64 JSON

    def __repr__(self) -> str:
        kind = "SSE-C" if self.customer_key else "SSE-KMS" if self.kms_key_id else "SSE-S3"
        return f"Encryption({kind if self.enabled else 'off'})"

    def read_args(self, bucket: str, key: str) -> dict[str, Any]:
        """GET/HEAD/UploadPart: only SSE-C travels with reads (as in minio-go)."""
        if not self.enabled or not self.customer_key:
            return {}
        return {
            "SSECustomerAlgorithm": "AES256",
            "SSECustomerKey": derive_customer_key(self.customer_key, bucket + key),
        }

    def write_args(self, bucket: str, key: str) -> dict[str, Any]:
        """PutObject/CreateMultipartUpload."""
        if not self.enabled:
            return {}
        if self.customer_key:
            return self.read_args(bucket, key)
        if self.kms_key_id:
            args: dict[str, Any] = {"ServerSideEncryption": "aws:kms"}
            args["SSEKMSKeyId"] = self.kms_key_id
            if self.kms_context:
                args["SSEKMSEncryptionContext"] = self.kms_context
            return args
        return {"ServerSideEncryption": "AES256"}

    def bucket_rule(self) -> dict[str, Any] | None:
        """Default bucket encryption set after ``createBucketIfNotPresent`` made the bucket."""
        if not self.enabled:
            return None
        default: dict[str, str] = {"SSEAlgorithm": "AES256"}
        if self.kms_key_id:
            default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": self.kms_key_id}
        return {"Rules": [{"ApplyServerSideEncryptionByDefault": default}]}
