"""One botocore S3 client per driver operation, with credentials resolved afresh each time.

Credential precedence is Argo's (argo-contract.md §12.1): static keys from secrets (plus a session
token) → ``roleARN`` (STS AssumeRole, refreshed by botocore before expiry) → ``useSDKCreds`` → the
default chain (environment, web identity/IRSA — refreshed by botocore —, shared config, container
and instance metadata). Secrets are read through ``ctx.secrets`` on every operation, so a rotated
secret is used by the next operation; nothing is cached across operations.

Within an operation one client is shared by every worker thread (botocore clients are thread-safe)
so connections are pooled and per-object overhead stays small.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import botocore.session
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)
from botocore.loaders import Loader

from argoexec.models import Artifact, SecretKeySelector
from artifacts.driver import DriverContext
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.secrets import SecretNotFoundError
from artifacts.settings import TransferSettings

from .botodata import lean_loader
from .options import Encryption, S3Target, encryption_context, s3_fields, target_of

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# SDK-level retries stay modest: artifacts.transfer owns whole-operation retries.
SDK_MAX_ATTEMPTS = 3
# botocore asks for ``Expect: 100-continue`` on every PUT with a body, which costs a round trip
# before the body is sent. Below this size sending the body costs less than that wait, so small
# PutObjects go without it (as the Go SDKs do: aws-sdk-go adds it only above 2 MB; minio-go,
# Argo's client, never). Parts and large objects keep it, so a refusal comes before the upload.
EXPECT_CONTINUE_MIN_BYTES = 2 * 1024 * 1024
NO_CREDENTIALS_HELP = (
    "no S3 credentials found: set accessKeySecret and secretKeySecret on the artifact or the "
    "artifact repository, or roleARN, or give the pod AWS credentials (AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, IRSA web identity via AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE, "
    "a shared credentials file, or an instance/container role)"
)

_loader_lock = threading.Lock()


@functools.cache
def _shared_loader() -> Loader:
    """Service models are parsed once per process (trimmed: see ``botodata``); sessions
    themselves are per operation."""
    return lean_loader()


def _keep_timestamp_text(value: str) -> str:
    return value


def _new_session() -> botocore.session.Session:
    session = botocore.session.Session()
    with _loader_lock:
        session.register_component("data_loader", _shared_loader())
    # Timestamps (LastModified) are never read here, and dateutil parsing them costs ~0.3 ms
    # each: 1.5 s of CPU for a 5,000-key listing, on the thread that feeds the workers.
    session.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=_keep_timestamp_text
    )
    return session


class _GivenCredentials(CredentialProvider):
    """Hands botocore credentials we already resolved (e.g. refreshable assumed-role ones)."""

    METHOD = "given"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


@dataclass(frozen=True)
class ResolvedCredentials:
    credentials: Credentials
    source: str  # human-readable, never a secret value


def read_secret(ctx: DriverContext, selector: SecretKeySelector, what: str) -> str:
    try:
        return ctx.secrets.resolve(selector).strip()
    except SecretNotFoundError as exc:
        raise ArtifactError(
            f"cannot read the {what} from secret {selector.name!r} key {selector.key!r}: {exc}",
            code=ErrorCode.FORBIDDEN,
        ) from exc


def _static_credentials(ctx: DriverContext, artifact: Artifact) -> ResolvedCredentials | None:
    s3 = s3_fields(artifact)
    access_sel, secret_sel = s3.access_key_secret, s3.secret_key_secret
    if access_sel is None or not access_sel.name:
        return None
    secret_sel = secret_sel or SecretKeySelector()
    access = read_secret(ctx, access_sel, "access key")
    secret = read_secret(ctx, secret_sel, "secret key")
    token = None
    token_sel = s3.session_token_secret
    if token_sel is not None and token_sel.name:
        token = read_secret(ctx, token_sel, "session token") or None
    names = access_sel.name
    if secret_sel.name != access_sel.name:
        names = f"{access_sel.name}'/'{secret_sel.name}"
    source = f"static keys from secret '{names}' (keys {access_sel.key}/{secret_sel.key})"
    if token:
        source += " with a session token"
    return ResolvedCredentials(Credentials(access, secret, token, method="static"), source)


def _default_chain(session: botocore.session.Session) -> ResolvedCredentials:
    credentials = session.get_credentials()
    if credentials is None:
        raise ArtifactError(NO_CREDENTIALS_HELP, code=ErrorCode.FORBIDDEN)
    return ResolvedCredentials(credentials, f"AWS default credential chain: {credentials.method}")


def _assumed_role(
    session: botocore.session.Session, role_arn: str, region: str
) -> ResolvedCredentials:
    base = _default_chain(session)
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=functools.partial(session.create_client, region_name=region),
        source_credentials=base.credentials,
        role_arn=role_arn,
    )
    credentials = DeferredRefreshableCredentials(
        refresh_using=fetcher.fetch_credentials, method="assume-role"
    )
    source = f"assume-role {role_arn} (base credentials: {base.source})"
    return ResolvedCredentials(credentials, source)


def resolve_credentials(
    ctx: DriverContext, artifact: Artifact, session: botocore.session.Session | None = None
) -> ResolvedCredentials:
    """Argo's precedence; ``useSDKCreds`` and the fallback both use botocore's default chain."""
    static = _static_credentials(ctx, artifact)
    if static is not None:
        return static
    session = session or _new_session()
    s3 = s3_fields(artifact)
    if s3.role_arn:
        return _assumed_role(session, s3.role_arn, target_of(artifact).region)
    return _default_chain(session)


def encryption_of(ctx: DriverContext, artifact: Artifact) -> Encryption:
    """Validated encryption options; the SSE-C secret is read only when encryption is enabled."""
    options = s3_fields(artifact).encryption_options
    if options is None or not options.enable_encryption:
        return Encryption()
    selector = options.server_side_customer_key_secret
    customer_key = None
    if selector is not None and selector.name:
        if options.kms_key_id:
            raise ArtifactError(
                "serverSideCustomerKeySecret and kmsKeyId cannot be set together",
                code=ErrorCode.BAD_REQUEST,
            )
        if target_of(artifact).insecure:
            raise ArtifactError(
                "secure must be set if serverSideCustomerKeySecret is set: SSE-C keys are only "
                "sent over TLS (unset insecure)",
                code=ErrorCode.BAD_REQUEST,
            )
        customer_key = read_secret(ctx, selector, "server-side customer key")
    return Encryption(
        enabled=True,
        customer_key=customer_key or None,
        kms_key_id=options.kms_key_id or "",
        kms_context=encryption_context(options.kms_encryption_context),
    )


def client_config(target: S3Target, settings: TransferSettings) -> Config:
    pool = settings.dir_workers + settings.upload_threads + settings.download_threads + 2
    return Config(
        region_name=target.region,
        signature_version="s3v4",
        s3={"addressing_style": target.addressing_style},  # type: ignore[arg-type]
        retries={"mode": "standard", "total_max_attempts": SDK_MAX_ATTEMPTS},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_pool_connections=max(10, pool),
        tcp_keepalive=True,
        # boto3 >= 1.36 sends CRC checksums by default; many S3-compatible servers reject them.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


class S3Connection:
    """What one operation works with: a client, where, how to encrypt, and whose credentials.

    Closing it closes the client's connections and removes the CA temp file, if any.
    """

    def __init__(
        self,
        client: S3Client,
        target: S3Target,
        encryption: Encryption,
        credentials: str,
        cleanup: contextlib.ExitStack,
    ) -> None:
        self.client = client
        self.target = target
        self.encryption = encryption
        self.credentials = credentials
        self._cleanup = cleanup

    @property
    def bucket(self) -> str:
        return self.target.bucket

    @property
    def payload_unsigned(self) -> bool:
        """Whether botocore sends request bodies as ``UNSIGNED-PAYLOAD`` once Content-MD5 is set.

        botocore's S3 signer always SHA-256-signs the payload over plain HTTP; over HTTPS it
        skips that when a Content-MD5 header is present. Uploads therefore add Content-MD5 only
        over HTTPS, so every body is covered by exactly one checksum the server verifies.
        """
        return self.client.meta.endpoint_url.startswith("https")

    def close(self) -> None:
        self._cleanup.close()


def _trust_file(
    ctx: DriverContext, artifact: Artifact, target: S3Target, cleanup: contextlib.ExitStack
) -> str | None:
    """The ``caSecret`` PEM in a private temp file: the client's only trust root."""
    selector = s3_fields(artifact).ca_secret
    if selector is None or not selector.name or target.insecure:
        return None
    pem = read_secret(ctx, selector, "CA certificate")
    fd, name = tempfile.mkstemp(prefix="s3-ca-", suffix=".pem", dir=ctx.settings.tmp_dir)
    cleanup.callback(lambda: Path(name).unlink(missing_ok=True))
    with os.fdopen(fd, "w", encoding="utf-8") as f:  # mkstemp creates it 0600
        f.write(pem + "\n")
    return name


def _no_continue_when_small(model: Any, params: dict[str, Any], **_: Any) -> None:
    """Drop ``Expect: 100-continue`` from a PutObject whose body is small (see the constant)."""
    if model.name != "PutObject":
        return
    body = params.get("body")
    try:
        size = len(body) if body is not None else 0
    except TypeError:
        return  # a body of unknown length keeps the header
    if size < EXPECT_CONTINUE_MIN_BYTES:
        params["headers"].pop("Expect", None)


def open_connection(ctx: DriverContext, artifact: Artifact) -> S3Connection:
    """A fresh client for one operation (the caller closes it)."""
    target = target_of(artifact)
    encryption = encryption_of(ctx, artifact)
    resolved = resolve_credentials(ctx, artifact)
    # A separate session: the resolving one may have cached assume-role's base credentials.
    session = _new_session()
    session.register_component(
        "credential_provider", CredentialResolver([_GivenCredentials(resolved.credentials)])
    )
    cleanup = contextlib.ExitStack()
    try:
        ca_file = _trust_file(ctx, artifact, target, cleanup)
        kwargs: dict[str, Any] = {"verify": ca_file} if ca_file else {}
        client = session.create_client(
            "s3",
            region_name=target.region,
            endpoint_url=target.endpoint_url,
            use_ssl=not target.insecure,
            config=client_config(target, ctx.settings),
            **kwargs,
        )
        cleanup.callback(client.close)
        # Last on ``before-call.s3`` itself: botocore's handler that adds the header is there,
        # and a handler on the more specific ``before-call.s3.PutObject`` would run before it.
        client.meta.events.register_last("before-call.s3", _no_continue_when_small)
    except BaseException:
        cleanup.close()
        raise
    return S3Connection(cast("S3Client", client), target, encryption, resolved.source, cleanup)


@contextlib.contextmanager
def connect(ctx: DriverContext, artifact: Artifact) -> Iterator[S3Connection]:
    conn = open_connection(ctx, artifact)
    try:
        yield conn
    finally:
        conn.close()
