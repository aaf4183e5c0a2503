"""GCS credentials: a service-account key whose ``token_uri`` is a loopback token endpoint,
Application Default Credentials, anonymous emulator access, and what errors reveal."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from argoexec.models import Artifact
from artifacts.drivers.gcs import GCSDriver
from artifacts.errors import ArtifactError, ErrorCode
from tests.servers.backend import Backend
from tests.servers.gcs import RecordingProxy, TokenServer, gcs_context, service_account_key

pytestmark = pytest.mark.gcs

KEY_SECRET = {"name": "gcs-key", "key": "serviceAccountKey"}


def b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verified_claims(assertion: str, public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The JWT's claims, after checking its RS256 signature with the key pair's public half."""
    header, payload, signature = assertion.split(".")
    assert json.loads(b64url(header))["alg"] == "RS256"
    public_key.verify(
        b64url(signature),
        f"{header}.{payload}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    claims: dict[str, Any] = json.loads(b64url(payload))
    return claims


def keyed(backend: Backend, key: str, name: str = "art") -> Artifact:
    gcs = {"bucket": backend.extra["bucket"], "key": key, "serviceAccountKeySecret": KEY_SECRET}
    return Artifact.model_validate({"name": name, "gcs": gcs})


def keyed_driver(endpoint: str, info: dict[str, Any] | str, **kw: Any) -> GCSDriver:
    value = info if isinstance(info, str) else json.dumps(info)
    ctx = gcs_context(endpoint, {"gcs-key": {"serviceAccountKey": value}})
    return GCSDriver(ctx, **kw)


def test_a_service_account_key_gets_a_token_from_its_token_uri_and_sends_it(
    gcs_token_server: TokenServer,
    gcs_recording_proxy: RecordingProxy,
    gcs_backend: Backend,
    tmp_path: Path,
) -> None:
    info, public_key = service_account_key(gcs_token_server.url)
    gcs = keyed_driver(gcs_recording_proxy.url, info)
    src = tmp_path / "f.txt"
    src.write_text("authenticated")
    gcs.save(src, keyed(gcs_backend, "auth/f.txt"))
    gcs.load(keyed(gcs_backend, "auth/f.txt"), tmp_path / "back")
    assert (tmp_path / "back").read_text() == "authenticated"

    assert gcs_token_server.grants, "no token was requested from the key's token_uri"
    for grant in gcs_token_server.grants:
        assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        claims = verified_claims(grant["assertion"], public_key)
        assert claims["iss"] == info["client_email"]
        assert claims["exp"] > claims["iat"]
        assert "devstorage" in claims["scope"]
    assert gcs_recording_proxy.requests
    for method, path, auth in gcs_recording_proxy.requests:
        assert auth == f"Bearer {gcs_token_server.access_token}", (method, path)


def test_a_refused_token_grant_is_forbidden_and_names_the_key_not_its_content(
    gcs_token_server: TokenServer, gcs_backend: Backend, tmp_path: Path
) -> None:
    gcs_token_server.status = 400
    info, _public = service_account_key(gcs_token_server.url)
    with pytest.raises(ArtifactError) as caught:
        keyed_driver(gcs_backend.extra["server"].url, info).load(  # type: ignore[attr-defined]
            keyed(gcs_backend, "k", name="my-input"), tmp_path / "x"
        )
    err = caught.value
    text = f"{err} {err!r}"
    assert err.code is ErrorCode.FORBIDDEN
    assert not err.transient
    assert "my-input" in text
    assert f"gs://{gcs_backend.extra['bucket']}/k" in text
    assert "service-account key from secret 'gcs-key'" in text
    assert info["private_key"] not in text
    assert "PRIVATE KEY" not in text


def test_a_forbidden_answer_names_bucket_key_and_credential_source_without_secrets(
    gcs_token_server: TokenServer,
    gcs_recording_proxy: RecordingProxy,
    gcs_backend: Backend,
    tmp_path: Path,
) -> None:
    info, _public = service_account_key(
        gcs_token_server.url, email="ci@proj.iam.gserviceaccount.com"
    )
    gcs_recording_proxy.fail_status, gcs_recording_proxy.fail_with = 100, 403
    src = tmp_path / "dir"
    src.mkdir()
    (src / "f").write_text("x")
    with pytest.raises(ArtifactError) as caught:
        keyed_driver(gcs_recording_proxy.url, info, sdk_retry_timeout=0).save(
            src, keyed(gcs_backend, "out/dir", name="results")
        )
    err = caught.value
    text = str(err)
    assert err.code is ErrorCode.FORBIDDEN
    assert f"gs://{gcs_backend.extra['bucket']}/out/dir" in text
    assert "results" in text
    assert "secret 'gcs-key' (ci@proj.iam.gserviceaccount.com)" in text
    assert info["private_key"] not in text
    assert gcs_token_server.access_token not in text


def test_describe_credentials_names_the_key_secret_and_email_only(
    gcs_token_server: TokenServer, gcs_backend: Backend
) -> None:
    info, _public = service_account_key(gcs_token_server.url)
    description = keyed_driver("http://127.0.0.1:1", info).describe_credentials(
        keyed(gcs_backend, "k")
    )
    assert description == (
        "service-account key from secret 'gcs-key' (argo@test-project.iam.gserviceaccount.com)"
    )
    assert not gcs_token_server.grants  # describing never authenticates


def test_describe_credentials_is_anonymous_with_an_emulator_and_no_key(
    gcs_backend: Backend,
) -> None:
    description = GCSDriver(gcs_backend.ctx).describe_credentials(gcs_backend.artifact("k"))
    assert description == f"anonymous (emulator endpoint {gcs_backend.ctx.settings.gcs_endpoint})"


def test_describe_credentials_reports_application_default_credentials(
    gcs_token_server: TokenServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info, _public = service_account_key(
        gcs_token_server.url, email="adc@proj.iam.gserviceaccount.com"
    )
    key_file = tmp_path / "adc.json"
    key_file.write_text(json.dumps(info))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    art = Artifact.model_validate({"name": "a", "gcs": {"bucket": "b", "key": "k"}})
    description = GCSDriver(gcs_context("")).describe_credentials(art)
    assert description == (
        "Application Default Credentials (service-account key file, "
        "adc@proj.iam.gserviceaccount.com)"
    )


def test_no_application_default_credentials_is_forbidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.servers.procs import free_port

    # No gcloud config, no key file, and a "metadata server" address where nothing listens.
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.setenv("GCE_METADATA_IP", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("GCE_METADATA_DETECT_RETRIES", "1")
    art = Artifact.model_validate({"name": "a", "gcs": {"bucket": "b", "key": "k"}})
    with pytest.raises(ArtifactError) as caught:
        GCSDriver(gcs_context("")).describe_credentials(art)
    assert caught.value.code is ErrorCode.FORBIDDEN
    assert "Application Default Credentials" in str(caught.value)
    assert "gs://b/k" in str(caught.value)


@pytest.mark.parametrize(
    ("secrets", "why"),
    [
        ({}, "was not found"),
        ({"gcs-key": {"serviceAccountKey": "{not json -----BEGIN"}}, "is not valid JSON"),
        ({"gcs-key": {"serviceAccountKey": '{"type": "authorized_user"}'}}, "service-account"),
        (
            {"gcs-key": {"serviceAccountKey": '{"type": "service_account", "private_key": "x"}'}},
            "not a usable service-account key",
        ),
    ],
    ids=["missing", "not-json", "wrong-type", "incomplete"],
)
def test_an_unusable_key_secret_is_a_bad_request_that_does_not_quote_it(
    gcs_backend: Backend, tmp_path: Path, secrets: dict[str, dict[str, str]], why: str
) -> None:
    ctx = gcs_context(str(gcs_backend.ctx.settings.gcs_endpoint), secrets)
    with pytest.raises(ArtifactError) as caught:
        GCSDriver(ctx).load(keyed(gcs_backend, "k"), tmp_path / "x")
    text = str(caught.value)
    assert caught.value.code is ErrorCode.BAD_REQUEST
    assert why in text
    assert "secret 'gcs-key' key 'serviceAccountKey'" in text
    assert "BEGIN" not in text
