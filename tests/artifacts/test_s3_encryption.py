"""Server-side encryption options of the S3 driver reach the server (argo-contract.md §12.1)."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from artifacts.drivers.s3 import S3Driver
from artifacts.drivers.s3.options import Encryption, derive_customer_key
from artifacts.errors import ArtifactError, ErrorCode
from tests.servers.backend import Backend
from tests.servers.s3 import (
    S3Server,
    boto_client,
    make_ca,
    recording_proxy,
    write_secret,
)

MIB = 1024 * 1024
SSEC_PASSWORD = "correct horse battery staple"


@pytest.fixture(params=["s3_moto", "s3_seaweed"])
def s3(request: pytest.FixtureRequest) -> Backend:
    backend: Backend = request.getfixturevalue(request.param)
    return backend


def head(s3: Backend, key: str, bucket: str | None = None) -> dict[str, Any]:
    client: Any = s3.extra["client"]
    return dict(client.head_object(Bucket=bucket or s3.extra["bucket"], Key=key))


def test_sse_s3_is_requested_when_encryption_is_enabled(s3: Backend, tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"encrypted at rest")
    art = s3.artifact("sse/s3", s3={"encryptionOptions": {"enableEncryption": True}})
    driver = S3Driver(s3.ctx)
    driver.save(src, art)
    assert head(s3, "sse/s3").get("ServerSideEncryption") == "AES256"
    driver.load(art, tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == b"encrypted at rest"


def test_no_encryption_is_requested_unless_enabled(s3_moto: Backend, tmp_path: Path) -> None:
    server: S3Server = s3_moto.extra["server"]  # type: ignore[assignment]
    src = tmp_path / "f"
    src.write_bytes(b"plain")
    # The SSE-C secret does not exist: it must not even be read while encryption is off.
    options = {"serverSideCustomerKeySecret": {"name": "absent", "key": "k"}, "kmsKeyId": "x"}
    with recording_proxy(server.endpoint) as proxy:
        art = s3_moto.artifact(
            "plain", s3={"endpoint": proxy.endpoint, "encryptionOptions": options}
        )
        S3Driver(s3_moto.ctx).save(src, art)
    put = next(r for r in proxy.requests if r.method == "PUT")
    assert not [h for h in put.headers if h.lower().startswith("x-amz-server-side-encryption")]


def test_sse_kms_sends_the_key_id_and_the_json_context_base64_encoded(
    s3_moto: Backend, tmp_path: Path
) -> None:
    server: S3Server = s3_moto.extra["server"]  # type: ignore[assignment]
    src = tmp_path / "f"
    src.write_bytes(b"kms")
    options = {
        "enableEncryption": True,
        "kmsKeyId": "alias/argo",
        "kmsEncryptionContext": '{"workflow": "wf-1"}',
    }
    with recording_proxy(server.endpoint) as proxy:
        art = s3_moto.artifact("kms", s3={"endpoint": proxy.endpoint, "encryptionOptions": options})
        S3Driver(s3_moto.ctx).save(src, art)
    put = next(r for r in proxy.requests if r.method == "PUT")
    headers = {k.lower(): v for k, v in put.headers.items()}
    assert headers["x-amz-server-side-encryption"] == "aws:kms"
    assert headers["x-amz-server-side-encryption-aws-kms-key-id"] == "alias/argo"
    context = base64.b64decode(headers["x-amz-server-side-encryption-context"])
    assert json.loads(context) == {"workflow": "wf-1"}
    stored = head(s3_moto, "kms")
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert "alias/argo" in stored["SSEKMSKeyId"]


def test_a_kms_context_that_is_not_json_is_a_bad_request(s3: Backend, tmp_path: Path) -> None:
    options = {"enableEncryption": True, "kmsKeyId": "k", "kmsEncryptionContext": "not json"}
    art = s3.artifact("bad", s3={"encryptionOptions": options})
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3.ctx).load(art, tmp_path / "x")
    assert err.value.code is ErrorCode.BAD_REQUEST
    assert "KMS encryption context" in err.value.message


def test_a_customer_key_with_a_kms_key_is_refused(s3: Backend, tmp_path: Path) -> None:
    options = {
        "enableEncryption": True,
        "kmsKeyId": "k",
        "serverSideCustomerKeySecret": {"name": "ssec", "key": "password"},
    }
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3.ctx).load(s3.artifact("x", s3={"encryptionOptions": options}), tmp_path / "x")
    assert err.value.message == "serverSideCustomerKeySecret and kmsKeyId cannot be set together"


def test_a_customer_key_over_plain_http_is_refused(s3: Backend, tmp_path: Path) -> None:
    options = {
        "enableEncryption": True,
        "serverSideCustomerKeySecret": {"name": "ssec", "key": "password"},
    }
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3.ctx).load(s3.artifact("x", s3={"encryptionOptions": options}), tmp_path / "x")
    assert err.value.message.startswith("secure must be set if serverSideCustomerKeySecret")


def test_create_bucket_sets_default_bucket_encryption_and_object_locking(
    s3_moto: Backend, tmp_path: Path
) -> None:
    bucket = f"enc-{uuid.uuid4().hex[:12]}"
    src = tmp_path / "f"
    src.write_bytes(b"x")
    art = s3_moto.artifact(
        "k",
        s3={
            "bucket": bucket,
            "createBucketIfNotPresent": {"objectLocking": True},
            "encryptionOptions": {"enableEncryption": True, "kmsKeyId": "alias/bucket-key"},
        },
    )
    S3Driver(s3_moto.ctx).save(src, art)
    client: Any = s3_moto.extra["client"]
    rules = client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    default = rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert default == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/bucket-key"}
    lock = client.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"


def test_the_customer_key_is_derived_like_minio_default_pbkdf() -> None:
    key = derive_customer_key(SSEC_PASSWORD, "bucketobject")
    assert len(key) == 32
    assert key == derive_customer_key(SSEC_PASSWORD, "bucketobject")
    assert key != derive_customer_key(SSEC_PASSWORD, "bucketother")


@pytest.fixture
def ssec_seaweed(s3_seaweed: Backend, tmp_path: Path) -> Iterator[tuple[Backend, str]]:
    """SeaweedFS behind a TLS proxy, with the CA and the SSE-C password as secrets."""
    ca = make_ca(tmp_path)
    root: Path = s3_seaweed.extra["secrets_dir"]  # type: ignore[assignment]
    write_secret(root, "s3-ca", "ca.crt", ca.ca_pem)
    write_secret(root, "ssec", "password", SSEC_PASSWORD + "\n")
    server: S3Server = s3_seaweed.extra["server"]  # type: ignore[assignment]
    with recording_proxy(server.endpoint, tls=ca.server_context) as proxy:
        yield s3_seaweed, proxy.endpoint


def ssec_artifact(backend: Backend, endpoint: str, key: str) -> Any:
    return backend.artifact(
        key,
        s3={
            "endpoint": endpoint,
            "insecure": False,
            "caSecret": {"name": "s3-ca", "key": "ca.crt"},
            "encryptionOptions": {
                "enableEncryption": True,
                "serverSideCustomerKeySecret": {"name": "ssec", "key": "password"},
            },
        },
    )


def test_sse_c_objects_need_the_derived_key_to_be_read(
    ssec_seaweed: tuple[Backend, str], tmp_path: Path
) -> None:
    backend, endpoint = ssec_seaweed
    bucket: str = backend.extra["bucket"]  # type: ignore[assignment]
    payload = os.urandom(12 * MIB + 1)  # multipart: every part carries the key
    src = tmp_path / "secret.bin"
    src.write_bytes(payload)
    driver = S3Driver(backend.ctx)
    driver.save(src, ssec_artifact(backend, endpoint, "ssec/obj"))
    with pytest.raises(ClientError):
        backend.get_object("ssec/obj")  # the server refuses without the key
    server: S3Server = backend.extra["server"]  # type: ignore[assignment]
    plain = boto_client(server.url, server.access, server.secret)
    key = derive_customer_key(SSEC_PASSWORD, bucket + "ssec/obj")
    got = plain.get_object(
        Bucket=bucket, Key="ssec/obj", SSECustomerAlgorithm="AES256", SSECustomerKey=key
    )
    assert got["Body"].read() == payload
    driver.load(ssec_artifact(backend, endpoint, "ssec/obj"), tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == payload
    stream = driver.open_stream(ssec_artifact(backend, endpoint, "ssec/obj"))
    assert stream.read() == payload
    stream.close()


def test_sse_c_directories_salt_each_object_with_its_own_key(
    ssec_seaweed: tuple[Backend, str], tmp_path: Path
) -> None:
    backend, endpoint = ssec_seaweed
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"a")
    (src / "sub" / "b.txt").write_bytes(b"b")
    driver = S3Driver(backend.ctx)
    driver.save(src, ssec_artifact(backend, endpoint, "ssec/tree"))
    assert driver.list_objects(ssec_artifact(backend, endpoint, "ssec/tree/a.txt")) == []
    driver.load(ssec_artifact(backend, endpoint, "ssec/tree"), tmp_path / "back")
    assert (tmp_path / "back" / "sub" / "b.txt").read_bytes() == b"b"
    assert (tmp_path / "back" / "a.txt").read_bytes() == b"a"


def test_encryption_options_never_show_the_customer_key() -> None:
    assert repr(Encryption(enabled=True, customer_key=SSEC_PASSWORD)) == "Encryption(SSE-C)"
