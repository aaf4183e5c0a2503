"""HTTP artifact credentials: basic auth, OAuth2 client credentials, client certificates,
descriptions and redaction (argo-contract §12.4, §16.15)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest

from artifacts.errors import ArtifactError, ErrorCode
from tests.servers.http import (
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    TOKEN_PATH,
    USER,
    FileServer,
    OAuth2Config,
    TLSMaterial,
    artifactory_artifact,
    basic_auth,
    ctx,
    driver,
    http_artifact,
    oauth2_auth,
    sel,
)


def oauth_secrets(server: FileServer) -> dict[str, dict[str, str]]:
    return {"oauth": {"id": CLIENT_ID, "secret": CLIENT_SECRET, "token": server.url + TOKEN_PATH}}


def enable_oauth2(server: FileServer, **config: object) -> None:
    server.state.oauth2 = OAuth2Config(CLIENT_ID, CLIENT_SECRET, **config)  # type: ignore[arg-type]
    server.state.require_bearer = True


# -- basic auth -----------------------------------------------------------------------------------


def test_basic_auth_is_sent_when_both_values_are_set(
    http_server: FileServer, tmp_path: Path
) -> None:
    http_server.state.basic_auth = (USER, PASSWORD)
    http_server.state.store["/b"] = b"basic"
    dest = tmp_path / "b"
    driver(ctx()).load(http_artifact(http_server.url_for("b"), auth=basic_auth()), dest)
    assert dest.read_bytes() == b"basic"


def test_basic_auth_is_not_sent_when_the_password_is_empty(
    http_server: FileServer, tmp_path: Path
) -> None:
    http_server.state.store["/open"] = b"public"
    art = http_artifact(http_server.url_for("open"), auth=basic_auth(password_key="empty"))
    driver(ctx()).load(art, tmp_path / "open")
    (get,) = http_server.state.requests("GET")
    assert "authorization" not in get.headers
    assert driver(ctx()).describe_credentials(art) == "anonymous"


def test_a_missing_secret_is_a_bad_request_naming_it(
    http_server: FileServer, tmp_path: Path
) -> None:
    art = http_artifact(
        http_server.url_for("x"),
        auth={
            "basicAuth": {
                "usernameSecret": sel("nope", "user"),
                "passwordSecret": sel("nope", "pw"),
            }
        },
    )
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).load(art, tmp_path / "x")
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert "'nope'" in str(info.value)
    assert http_server.state.journal == []


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("op", ["load", "save"])
@pytest.mark.parametrize("auth", ["basic", "oauth2"])
def test_a_server_echoing_the_request_headers_in_its_error_leaks_no_credential(
    http_server: FileServer, tmp_path: Path, op: str, auth: str
) -> None:
    """The server answers 500 with the request's headers in its reason phrase (which the error
    quotes, as Argo's does) and its body."""
    http_server.state.echo_headers.add("/echo")
    if auth == "basic":
        http_server.state.basic_auth = (USER, PASSWORD)
        art = http_artifact(http_server.url_for("echo"), auth=basic_auth())
        context = ctx()
    else:
        enable_oauth2(http_server)
        art = http_artifact(http_server.url_for("echo"), auth=oauth2_auth())
        context = ctx(oauth_secrets(http_server))
    with pytest.raises(ArtifactError) as info:
        if op == "load":
            driver(context).load(art, tmp_path / "out")
        else:
            (tmp_path / "src").write_bytes(b"data")
            driver(context).save(tmp_path / "src", art)
    [echoed] = [r for r in http_server.state.journal if r.path == "/echo"]
    sent = echoed.headers["authorization"]
    assert sent.startswith("Basic " if auth == "basic" else "Bearer ")
    text = str(info.value) + repr(info.value)
    assert "failed with reason: 500" in text and "User-Agent: python-requests" in text
    pair = f"{USER}:{PASSWORD}"
    for leak in (sent, sent.split(" ", 1)[1], PASSWORD, pair, b64(pair)):
        assert leak not in text


# -- OAuth2 ---------------------------------------------------------------------------------------


def test_oauth2_client_credentials_fetch_a_bearer_token(
    http_server: FileServer, tmp_path: Path
) -> None:
    enable_oauth2(
        http_server,
        expected_scopes=["read", "write"],
        expected_params={"audience": "artifacts", "resource": "bucket-1"},
    )
    http_server.state.store["/o"] = b"oauth content"
    auth = oauth2_auth(
        scopes=["read", "write"],
        endpointParams=[
            {"key": "audience", "value": "artifacts"},
            {"key": "resource", "value": "bucket-1"},
        ],
    )
    dest = tmp_path / "o"
    driver(ctx(oauth_secrets(http_server))).load(
        http_artifact(http_server.url_for("o"), auth=auth), dest
    )
    assert dest.read_bytes() == b"oauth content"
    (form,) = http_server.state.token_requests
    assert form == {
        "grant_type": "client_credentials",
        "scope": "read write",
        "audience": "artifacts",
        "resource": "bucket-1",
    }
    (post,) = http_server.state.requests("POST")
    assert post.headers["authorization"].startswith("Basic ")
    (get,) = http_server.state.requests("GET")
    assert get.headers["authorization"].startswith("Bearer token-")


def test_the_token_is_reused_within_one_operation(http_server: FileServer, tmp_path: Path) -> None:
    enable_oauth2(http_server)
    http_server.state.redirect_first_put.add("/o")
    src = tmp_path / "f"
    src.write_bytes(b"payload")
    d = driver(ctx(oauth_secrets(http_server)))
    art = http_artifact(http_server.url_for("o"), auth=oauth2_auth())
    d.save(src, art)
    assert len(http_server.state.requests("PUT")) == 2
    assert len(http_server.state.token_requests) == 1
    # ... and cached only for that operation: the next one asks again.
    d.save(src, art)
    assert len(http_server.state.token_requests) == 2
    assert http_server.state.store["/o"] == b"payload"


def test_an_expired_token_is_fetched_again(http_server: FileServer, tmp_path: Path) -> None:
    # Tokens count as expired 10 s early (as in Go's oauth2), so a 5 s token is stale at once.
    enable_oauth2(http_server, expires_in=5)
    http_server.state.redirect_first_put.add("/o")
    src = tmp_path / "f"
    src.write_bytes(b"payload")
    art = http_artifact(http_server.url_for("o"), auth=oauth2_auth())
    driver(ctx(oauth_secrets(http_server))).save(src, art)
    assert len(http_server.state.token_requests) == 2


def test_a_rejected_client_secret_is_forbidden_without_leaking_it(
    http_server: FileServer, tmp_path: Path
) -> None:
    enable_oauth2(http_server)
    http_server.state.oauth2.client_secret = "the-real-one"  # type: ignore[union-attr]
    art = http_artifact(http_server.url_for("o"), auth=oauth2_auth())
    with pytest.raises(ArtifactError) as info:
        driver(ctx(oauth_secrets(http_server))).load(art, tmp_path / "o")
    assert info.value.code is ErrorCode.FORBIDDEN
    text = str(info.value) + repr(info.value)
    assert "OAuth2 client credentials (token URL from secret 'oauth' (token)" in text
    assert CLIENT_SECRET not in text
    assert http_server.state.requests("GET") == []


def test_oauth2_is_not_used_unless_all_three_secrets_are_set(
    http_server: FileServer, tmp_path: Path
) -> None:
    http_server.state.store["/plain"] = b"p"
    auth = {
        "oauth2": {
            "clientIDSecret": sel("oauth", "id"),
            "clientSecretSecret": sel("oauth", "secret"),
        }
    }
    driver(ctx()).load(http_artifact(http_server.url_for("plain"), auth=auth), tmp_path / "p")
    assert http_server.state.token_requests == []
    assert "authorization" not in http_server.state.requests("GET")[0].headers


def test_a_stream_save_with_oauth2_sends_the_bearer_token(http_server: FileServer) -> None:
    enable_oauth2(http_server)
    art = http_artifact(http_server.url_for("s"), auth=oauth2_auth())
    driver(ctx(oauth_secrets(http_server))).save_stream(io.BytesIO(b"streamed"), art)
    assert http_server.state.store["/s"] == b"streamed"


# -- client certificates --------------------------------------------------------------------------


def tls_ctx(tls: TLSMaterial, tmp_dir: Path, cert: str | None = None, key: str | None = None):  # type: ignore[no-untyped-def]
    secrets = {
        "tls": {
            "crt": cert if cert is not None else tls.client_cert_pem,
            "key": key if key is not None else tls.client_key_pem,
        }
    }
    return ctx(secrets, tmp_dir=tmp_dir, http_ca_bundle=tls.ca_file)


CLIENT_CERT = {
    "clientCert": {"clientCertSecret": sel("tls", "crt"), "clientKeySecret": sel("tls", "key")}
}


def test_a_client_certificate_authenticates_over_https(
    https_server: FileServer, tls_material: TLSMaterial, tmp_path: Path
) -> None:
    spool = tmp_path / "tmp"
    spool.mkdir()
    context = tls_ctx(tls_material, spool)
    https_server.state.store["/secure"] = b"over mutual TLS"
    art = http_artifact(https_server.url_for("secure"), auth=CLIENT_CERT)
    dest = tmp_path / "secure"
    driver(context).load(art, dest)
    assert dest.read_bytes() == b"over mutual TLS"
    src = tmp_path / "up"
    src.write_bytes(b"uploaded over mTLS")
    driver(context).save(src, http_artifact(https_server.url_for("up"), auth=CLIENT_CERT))
    assert https_server.state.store["/up"] == b"uploaded over mTLS"
    assert list(spool.iterdir()) == [], "the PEM temp files must be removed after each operation"


def test_the_pem_files_are_private_while_the_operation_runs(
    https_server: FileServer, tls_material: TLSMaterial, tmp_path: Path
) -> None:
    spool = tmp_path / "tmp"
    spool.mkdir()
    context = tls_ctx(tls_material, spool)
    modes: list[set[int]] = []
    context.progress = lambda _: modes.append({p.stat().st_mode & 0o777 for p in spool.iterdir()})
    https_server.state.store["/m"] = b"m" * 10
    driver(context).load(http_artifact(https_server.url_for("m"), auth=CLIENT_CERT), tmp_path / "m")
    assert modes and all(m == {0o600} for m in modes)
    assert list(spool.iterdir()) == []


def test_a_client_certificate_replaces_oauth2(
    https_server: FileServer, tls_material: TLSMaterial, tmp_path: Path
) -> None:
    https_server.state.store["/c"] = b"cert wins"
    secrets = {
        "tls": {"crt": tls_material.client_cert_pem, "key": tls_material.client_key_pem},
        "oauth": {"id": CLIENT_ID, "secret": CLIENT_SECRET, "token": https_server.url + TOKEN_PATH},
    }
    context = ctx(secrets, tmp_dir=tmp_path, http_ca_bundle=tls_material.ca_file)
    art = http_artifact(https_server.url_for("c"), auth={**CLIENT_CERT, **oauth2_auth()})
    driver(context).load(art, tmp_path / "c")
    assert https_server.state.token_requests == []
    assert driver(context).describe_credentials(art).startswith("client certificate from secret")


def test_an_invalid_pem_pair_is_a_bad_request(
    https_server: FileServer, tls_material: TLSMaterial, tmp_path: Path
) -> None:
    context = tls_ctx(tls_material, tmp_path, cert="not a certificate", key="not a key")
    art = http_artifact(https_server.url_for("x"), auth=CLIENT_CERT)
    with pytest.raises(ArtifactError) as info:
        driver(context).load(art, tmp_path / "x")
    assert info.value.code is ErrorCode.BAD_REQUEST
    assert https_server.state.journal == []
    assert list(tmp_path.iterdir()) == []


def test_a_certificate_from_an_untrusted_ca_is_rejected(
    https_server: FileServer, tls_material: TLSMaterial, tmp_path: Path
) -> None:
    context = tls_ctx(
        tls_material, tmp_path, tls_material.stranger_cert_pem, tls_material.stranger_key_pem
    )
    https_server.state.store["/x"] = b"x"
    with pytest.raises(ArtifactError) as info:
        driver(context).load(
            http_artifact(https_server.url_for("x"), auth=CLIENT_CERT), tmp_path / "x"
        )
    assert tls_material.stranger_key_pem.splitlines()[1] not in str(info.value)
    assert https_server.state.journal == []


def test_https_without_a_client_certificate_fails(
    https_server: FileServer, tls_material: TLSMaterial, tmp_path: Path
) -> None:
    context = ctx(tmp_dir=tmp_path, http_ca_bundle=tls_material.ca_file)
    with pytest.raises(ArtifactError):
        driver(context).load(http_artifact(https_server.url_for("x")), tmp_path / "x")


# -- descriptions and locations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (None, "anonymous"),
        (basic_auth(), "basic auth from secrets 'creds' (username), 'creds' (password)"),
        (oauth2_auth(), "OAuth2 client credentials (token URL from secret 'oauth' (token)"),
        (
            CLIENT_CERT,
            "client certificate from secret 'tls' (crt) with key from secret 'tls' (key)",
        ),
    ],
)
def test_credentials_are_described_by_source_never_by_value(
    auth: dict[str, object] | None, expected: str
) -> None:
    secrets = {
        "oauth": {"id": CLIENT_ID, "secret": CLIENT_SECRET, "token": "http://127.0.0.1:1/t"},
        "tls": {"crt": "CERTIFICATE-PEM-TEXT", "key": "PRIVATE-KEY-PEM-TEXT"},
    }
    fields = {"auth": auth} if auth else {}
    description = driver(ctx(secrets)).describe_credentials(
        http_artifact("http://127.0.0.1:1/x", **fields)
    )
    assert description.startswith(expected)
    for value in (PASSWORD, USER, CLIENT_ID, CLIENT_SECRET, "PEM-TEXT", "127.0.0.1:1/t"):
        assert value not in description


def test_artifactory_credentials_are_basic_auth() -> None:
    art = artifactory_artifact("http://127.0.0.1:1/repo/x")
    assert driver(ctx(), "artifactory").describe_credentials(art).startswith("basic auth from")
    anon = artifactory_artifact("http://127.0.0.1:1/repo/x", creds=False)
    assert driver(ctx(), "artifactory").describe_credentials(anon) == "anonymous"


def test_header_names_are_described_but_not_their_values() -> None:
    headers = [{"name": "Authorization", "value": "Bearer hidden-token-value"}]
    art = http_artifact("http://127.0.0.1:1/x", headers=headers)
    description = driver(ctx()).describe_credentials(art)
    assert "Authorization" in description
    assert "hidden-token-value" not in description


def test_the_location_drops_userinfo_and_redacts_query_values() -> None:
    url = "https://bob:hunter22@127.0.0.1:8443/a/b.tgz?X-Amz-Signature=abc123&op=OPEN#frag"
    location = driver(ctx()).location(http_artifact(url))
    assert location == "https://127.0.0.1:8443/a/b.tgz?X-Amz-Signature=***&op=***"


def test_userinfo_in_the_url_never_reaches_an_error(
    http_server: FileServer, tmp_path: Path
) -> None:
    url = http_server.url.replace("http://", "http://bob:hunter22@") + "/missing"
    with pytest.raises(ArtifactError) as info:
        driver(ctx()).load(http_artifact(url), tmp_path / "x")
    assert "hunter22" not in str(info.value)
