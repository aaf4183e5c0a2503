"""Credential resolution of the S3 driver: secrets, the default chain, STS and a private CA."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from artifacts.driver import DriverContext
from artifacts.drivers.s3 import S3Driver
from artifacts.errors import ArtifactError, ErrorCode
from artifacts.secrets import MappingSecretResolver, NoSecrets
from tests.servers.backend import Backend
from tests.servers.s3 import (
    SECRET_NAME,
    S3Server,
    make_ca,
    recording_proxy,
    write_secret,
)

STATIC = f"static keys from secret '{SECRET_NAME}' (keys accessKey/secretKey)"
ROLE = "arn:aws:iam::123456789012:role/argo-artifacts"


def save_text(driver: S3Driver, art: object, tmp_path: Path, text: str = "x") -> None:
    src = tmp_path / f"src-{text}"
    src.write_text(text)
    driver.save(src, art)  # type: ignore[arg-type]


def keyless(backend: Backend, key: str, **s3: object) -> object:
    """An artifact with no accessKeySecret/secretKeySecret (the default chain applies)."""
    return backend.artifact(key, s3={"accessKeySecret": None, "secretKeySecret": None, **s3})


def test_describe_credentials_names_the_secret_and_its_keys(s3_seaweed: Backend) -> None:
    description = S3Driver(s3_seaweed.ctx).describe_credentials(s3_seaweed.artifact("k"))
    assert description == STATIC


def test_a_wrong_secret_is_forbidden_naming_the_source_but_not_the_secret(
    s3_seaweed: Backend, tmp_path: Path
) -> None:
    wrong = "definitely-not-the-secret-123"
    write_secret(s3_seaweed.extra["secrets_dir"], SECRET_NAME, "secretKey", wrong)  # type: ignore[arg-type]
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3_seaweed.ctx).load(s3_seaweed.artifact("k", name="in"), tmp_path / "x")
    assert err.value.code is ErrorCode.FORBIDDEN
    assert not err.value.transient
    assert STATIC in err.value.message
    assert "service account" not in err.value.message
    for text in (str(err.value), repr(err.value)):
        assert wrong not in text
        assert "adminsecret" not in text


def test_secrets_are_read_again_for_every_operation(s3_seaweed: Backend, tmp_path: Path) -> None:
    driver = S3Driver(s3_seaweed.ctx)
    root: Path = s3_seaweed.extra["secrets_dir"]  # type: ignore[assignment]
    good = (root / SECRET_NAME / "secretKey").read_text()
    save_text(driver, s3_seaweed.artifact("rot"), tmp_path, "first")
    write_secret(root, SECRET_NAME, "secretKey", "rotated-to-something-else")
    with pytest.raises(ArtifactError) as err:
        save_text(driver, s3_seaweed.artifact("rot"), tmp_path, "second")
    assert err.value.code is ErrorCode.FORBIDDEN
    write_secret(root, SECRET_NAME, "secretKey", good)
    save_text(driver, s3_seaweed.artifact("rot"), tmp_path, "third")
    assert s3_seaweed.get_object("rot") == b"third"


def test_a_missing_secret_is_forbidden_and_says_which(s3_seaweed: Backend) -> None:
    art = s3_seaweed.artifact("k", s3={"secretKeySecret": {"name": "absent", "key": "sk"}})
    with pytest.raises(ArtifactError) as err:
        S3Driver(s3_seaweed.ctx).describe_credentials(art)
    assert err.value.code is ErrorCode.FORBIDDEN
    assert "'absent'" in err.value.message and "'sk'" in err.value.message


def test_no_credentials_anywhere_is_forbidden_with_what_to_configure(
    s3_moto: Backend, tmp_path: Path
) -> None:
    driver = S3Driver(DriverContext(secrets=NoSecrets(), settings=s3_moto.ctx.settings))
    with pytest.raises(ArtifactError) as err:
        driver.load(keyless(s3_moto, "k"), tmp_path / "x")  # type: ignore[arg-type]
    assert err.value.code is ErrorCode.FORBIDDEN
    for hint in ("accessKeySecret", "roleARN", "AWS_ACCESS_KEY_ID", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        assert hint in err.value.message


def test_environment_credentials_come_from_the_default_chain(
    s3_seaweed: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server: S3Server = s3_seaweed.extra["server"]  # type: ignore[assignment]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.access)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.secret)
    driver = S3Driver(DriverContext(secrets=NoSecrets(), settings=s3_seaweed.ctx.settings))
    art = keyless(s3_seaweed, "env/obj", useSDKCreds=True)
    assert driver.describe_credentials(art).endswith(": env")  # type: ignore[arg-type]
    save_text(driver, art, tmp_path, "via-env")
    assert s3_seaweed.get_object("env/obj") == b"via-env"


def test_a_session_token_secret_is_sent_with_static_keys(s3_moto: Backend, tmp_path: Path) -> None:
    server: S3Server = s3_moto.extra["server"]  # type: ignore[assignment]
    secrets = MappingSecretResolver(
        {
            SECRET_NAME: {
                "accessKey": " AKIDSTATIC ",
                "secretKey": "static-secret-value\n",
                "token": "the-session-token-value",
            }
        }
    )
    ctx = DriverContext(secrets=secrets, settings=s3_moto.ctx.settings)
    with recording_proxy(server.endpoint) as proxy:
        art = s3_moto.artifact(
            "tok",
            s3={
                "endpoint": proxy.endpoint,
                "sessionTokenSecret": {"name": SECRET_NAME, "key": "token"},
            },
        )
        save_text(S3Driver(ctx), art, tmp_path)
    put = next(r for r in proxy.requests if r.method == "PUT")
    assert put.access_key == "AKIDSTATIC"  # whitespace trimmed
    assert put.headers.get("X-Amz-Security-Token") == "the-session-token-value"


def test_role_arn_assumes_the_role_through_sts_and_signs_with_its_keys(
    s3_moto: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server: S3Server = s3_moto.extra["server"]  # type: ignore[assignment]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDBASECREDS")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "base-secret")
    with recording_proxy(server.endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://{proxy.endpoint}")
        art = keyless(s3_moto, "role/obj", endpoint=proxy.endpoint, roleARN=ROLE)
        driver = S3Driver(DriverContext(secrets=NoSecrets(), settings=s3_moto.ctx.settings))
        description = driver.describe_credentials(art)  # type: ignore[arg-type]
        save_text(driver, art, tmp_path, "assumed")
    assert (
        description == f"assume-role {ROLE} (base credentials: AWS default credential chain: env)"
    )
    assume = [r for r in proxy.requests if b"Action=AssumeRole" in r.body]
    assert assume and assume[0].access_key == "AKIDBASECREDS"
    puts = [r for r in proxy.requests if r.method == "PUT"]
    assert puts and all(r.access_key.startswith("ASIA") for r in puts)
    assert s3_moto.get_object("role/obj") == b"assumed"


def test_static_keys_take_precedence_over_role_arn(s3_moto: Backend, tmp_path: Path) -> None:
    server: S3Server = s3_moto.extra["server"]  # type: ignore[assignment]
    with recording_proxy(server.endpoint) as proxy:
        art = s3_moto.artifact("prec", s3={"endpoint": proxy.endpoint, "roleARN": ROLE})
        assert S3Driver(s3_moto.ctx).describe_credentials(art) == STATIC
        save_text(S3Driver(s3_moto.ctx), art, tmp_path)
    assert not [r for r in proxy.requests if b"AssumeRole" in r.body]


def test_web_identity_from_the_environment_is_used_by_the_default_chain(
    s3_moto: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server: S3Server = s3_moto.extra["server"]  # type: ignore[assignment]
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQifQ.c2ln")
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with recording_proxy(server.endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://{proxy.endpoint}")
        art = keyless(s3_moto, "irsa/obj", endpoint=proxy.endpoint)
        driver = S3Driver(DriverContext(secrets=NoSecrets(), settings=s3_moto.ctx.settings))
        description = driver.describe_credentials(art)  # type: ignore[arg-type]
        save_text(driver, art, tmp_path, "irsa")
    assert description.endswith("assume-role-with-web-identity")
    assert [r for r in proxy.requests if b"AssumeRoleWithWebIdentity" in r.body]
    puts = [r for r in proxy.requests if r.method == "PUT"]
    assert puts and all(r.access_key.startswith("ASIA") for r in puts)
    assert s3_moto.get_object("irsa/obj") == b"irsa"


@pytest.fixture
def tls_seaweed(s3_seaweed: Backend, tmp_path: Path) -> object:
    ca = make_ca(tmp_path)
    server: S3Server = s3_seaweed.extra["server"]  # type: ignore[assignment]
    with recording_proxy(server.endpoint, tls=ca.server_context) as proxy:
        yield ca, proxy


def tls_backend(s3: Backend, ca_pem: str, tmp_dir: Path) -> DriverContext:
    root: Path = s3.extra["secrets_dir"]  # type: ignore[assignment]
    write_secret(root, "s3-ca", "ca.crt", ca_pem)
    settings = dataclasses.replace(s3.ctx.settings, tmp_dir=tmp_dir)
    return DriverContext(secrets=s3.ctx.secrets, settings=settings)


def test_ca_secret_is_the_trust_root_for_https(
    s3_seaweed: Backend, tls_seaweed: tuple, tmp_path: Path
) -> None:
    ca, proxy = tls_seaweed
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    ctx = tls_backend(s3_seaweed, ca.ca_pem, scratch)
    art = s3_seaweed.artifact(
        "tls/obj",
        s3={
            "endpoint": proxy.endpoint,
            "insecure": False,
            "caSecret": {"name": "s3-ca", "key": "ca.crt"},
        },
    )
    save_text(S3Driver(ctx), art, tmp_path, "over-tls")
    assert s3_seaweed.get_object("tls/obj") == b"over-tls"
    assert [r for r in proxy.requests if r.method == "PUT"]
    assert list(scratch.iterdir()) == []  # the CA temp file is gone


def test_a_server_not_signed_by_the_ca_secret_is_refused(
    s3_seaweed: Backend, tls_seaweed: tuple, tmp_path: Path
) -> None:
    _, proxy = tls_seaweed
    (tmp_path / "other").mkdir()
    other = make_ca(tmp_path / "other")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    ctx = tls_backend(s3_seaweed, other.ca_pem, scratch)
    art = s3_seaweed.artifact(
        "tls/obj",
        s3={
            "endpoint": proxy.endpoint,
            "insecure": False,
            "caSecret": {"name": "s3-ca", "key": "ca.crt"},
        },
    )
    with pytest.raises(ArtifactError) as err:
        save_text(S3Driver(ctx), art, tmp_path)
    assert "caSecret" in err.value.message
    assert not err.value.transient
    assert list(scratch.iterdir()) == []
