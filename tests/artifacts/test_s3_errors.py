"""The S3 error classifier and option parsing, re-expressing Argo's s3 unit tests (§16.11-16.12)
with real botocore exception objects."""

from __future__ import annotations

import pytest
from botocore import exceptions as boto_exc

from argoexec.models import Artifact
from artifacts.driver import DriverContext
from artifacts.drivers.s3 import S3Driver
from artifacts.drivers.s3.client import client_config, resolve_credentials
from artifacts.drivers.s3.errors import (
    TRANSIENT_CODES,
    classify,
    error_message,
    is_transient,
)
from artifacts.drivers.s3.options import (
    addressing_style,
    clean_key,
    directory_prefix,
    encryption_context,
    target_of,
)
from artifacts.drivers.s3.upload import part_size_of
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.secrets import MappingSecretResolver
from artifacts.settings import MIB, TransferSettings

PATTERN = "this error is transient"


def s3_error(code: str, message: str = "", status: int = 400, op: str = "GetObject") -> Exception:
    response = {"Error": {"Code": code, "Message": message}}
    response["ResponseMetadata"] = {"HTTPStatusCode": status}  # type: ignore[assignment]
    return boto_exc.ClientError(response, op)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", sorted(TRANSIENT_CODES))
def test_every_listed_s3_code_is_transient(code: str) -> None:
    assert is_transient(s3_error(code, "x", 400))


@pytest.mark.parametrize(
    ("code", "status"), [("NoSuchKey", 404), ("AccessDenied", 403), ("NoSuchBucket", 404)]
)
def test_client_side_codes_are_not_transient(code: str, status: int) -> None:
    assert not is_transient(s3_error(code, "x", status))


def test_a_plain_error_is_not_transient() -> None:
    assert not is_transient(ValueError("boom"))


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("503 Service Unavailable", 503, True),
        ("500 Internal Server Error", 500, True),
        ("404 Not Found", 404, False),
        ("503", 503, True),
        ("502", 0, True),
    ],
)
def test_bare_status_codes_are_transient_only_for_5xx(
    code: str, status: int, transient: bool
) -> None:
    assert is_transient(s3_error(code, "", status)) is transient


def test_an_error_matching_the_transient_pattern_is_transient() -> None:
    exc = s3_error(PATTERN, "Error response code this error is transient.", 400)
    assert not is_transient(exc)
    err = classify(exc, "failed to get file", pattern=PATTERN)
    assert err.transient
    assert err.message == "failed to get file: Error response code this error is transient."


@pytest.mark.parametrize(
    "exc",
    [
        boto_exc.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        boto_exc.ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"),
        boto_exc.ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
        boto_exc.ConnectionClosedError(endpoint_url="http://127.0.0.1:1"),
        boto_exc.ResponseStreamingError(error=ConnectionResetError("Connection reset by peer")),
        boto_exc.IncompleteReadError(actual_bytes=1, expected_bytes=2),
        ConnectionResetError(104, "Connection reset by peer"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_network_failures_are_transient(exc: Exception) -> None:
    assert is_transient(exc)
    assert classify(exc, "failed to get file", pattern=None).transient


def test_a_tls_verification_failure_is_permanent_and_points_at_ca_secret() -> None:
    exc = boto_exc.SSLError(endpoint_url="https://127.0.0.1:1", error="CERTIFICATE_VERIFY_FAILED")
    err = classify(exc, "failed to put file", pattern=None)
    assert not err.transient
    assert "caSecret" in err.message


def test_internal_error_keeps_the_server_message_with_argos_prefix() -> None:
    exc = s3_error("InternalError", "We encountered an internal error, please try again.", 500)
    err = classify(exc, "failed to test if /folder/ is a directory", pattern=None)
    assert err.message == (
        "failed to test if /folder/ is a directory: "
        "We encountered an internal error, please try again."
    )
    assert err.transient


def test_access_denied_is_forbidden_and_names_the_credentials() -> None:
    exc = s3_error("AccessDenied", "Access Denied.", 403, "CreateBucket")
    err = classify(
        exc, "failed to create bucket my-bucket", pattern=None, credentials="static keys from X"
    )
    assert err.code is ErrorCode.FORBIDDEN
    assert not err.transient
    assert err.message == (
        "failed to create bucket my-bucket: Access Denied. (credentials used: static keys from X)"
    )


def test_no_such_key_is_not_found_and_no_such_bucket_is_not() -> None:
    assert classify(s3_error("NoSuchKey", "m", 404), None, pattern=None).code is ErrorCode.NOT_FOUND
    bucket = classify(
        s3_error("NoSuchBucket", "The specified bucket does not exist.", 404),
        "failed to get file",
        pattern=None,
    )
    assert bucket.code is ErrorCode.INTERNAL
    assert bucket.message == "failed to get file: The specified bucket does not exist."


def test_a_body_less_error_shows_its_status() -> None:
    assert error_message(s3_error("403", "Forbidden", 403, "HeadObject")) == "403 Forbidden"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "auto"),
        (None, "auto"),
        ("path", "path"),
        ("virtual-hosted", "virtual"),
        ("garbage", "auto"),
    ],
)
def test_addressing_styles_parse_like_argo(value: str | None, expected: str) -> None:
    assert addressing_style(value) == expected


@pytest.mark.parametrize(
    ("key", "prefix"),
    [
        ("folder", "folder/"),
        ("folder/", "folder/"),
        ("/folder/", "/folder/"),
        ("a//b/./c/", "a/b/c/"),
        ("//x", "/x/"),
        ("", ""),
    ],
)
def test_directory_prefixes_are_cleaned_like_go(key: str, prefix: str) -> None:
    assert directory_prefix(key) == prefix
    assert clean_key("") == "."


def art(**s3: object) -> Artifact:
    return Artifact.model_validate({"name": "a", "s3": {"bucket": "b", "key": "k", **s3}})


def test_endpoint_region_and_scheme_follow_the_artifact() -> None:
    target = target_of(art(endpoint="minio:9000", insecure=True))
    assert (target.endpoint_url, target.region) == ("http://minio:9000", "us-east-1")
    target = target_of(art(endpoint="s3.example.com", region="eu-west-1"))
    assert (target.endpoint_url, target.region) == ("https://s3.example.com", "eu-west-1")
    assert target_of(art()).endpoint_url is None  # AWS's own endpoint for the region


def test_the_client_config_is_explicit() -> None:
    settings = TransferSettings(dir_workers=16, upload_threads=4, download_threads=4)
    config = client_config(target_of(art(addressingStyle="virtual-hosted")), settings)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert config.max_pool_connections >= 24
    assert config.s3 == {"addressing_style": "virtual"}
    assert config.signature_version == "s3v4"
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"


def test_part_sizes_respect_s3_limits() -> None:
    assert part_size_of(TransferSettings()) == 5 * MIB  # S3's minimum: least memory
    assert part_size_of(TransferSettings(part_size=1 * MIB)) == 5 * MIB
    assert part_size_of(TransferSettings(), total=200_000 * MIB) == 20 * MIB


def test_a_kms_context_is_sent_as_base64_json() -> None:
    assert encryption_context(None) is None
    assert encryption_context('{"a": "b"}') == "eyJhIjoiYiJ9"
    with pytest.raises(ArtifactError):
        encryption_context("{nope")


def test_static_keys_and_session_token_are_read_from_secrets() -> None:
    """Argo's NewDriverS3 case: each selector resolves to ``<key>-secret``."""
    secrets = MappingSecretResolver(
        {"s": {k: f"{k}-secret" for k in ("access-key", "secret-key", "session-token")}}
    )
    artifact = art(
        accessKeySecret={"name": "s", "key": "access-key"},
        secretKeySecret={"name": "s", "key": "secret-key"},
        sessionTokenSecret={"name": "s", "key": "session-token"},
    )
    resolved = resolve_credentials(DriverContext(secrets=secrets), artifact)
    frozen = resolved.credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        "access-key-secret",
        "secret-key-secret",
        "session-token-secret",
    )
    assert resolved.source == (
        "static keys from secret 's' (keys access-key/secret-key) with a session token"
    )
    assert S3Driver(DriverContext(secrets=secrets)).location(artifact) == "s3://b/k"
